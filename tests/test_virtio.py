"""Native virtio-mmio on qemu_cortex_a53: the overlay, QEMU's own devicetree and its bus tree agree.

systems/qemu-a53-virtio.yaml gives Zephyr three devices QEMU provides (net,
entropy, console). The tests check, against layout.json:
- the overlay, preprocessed with the real board DTS (v3.7, which has no
  virtio-mmio nodes) and parsed with edtlib, has exactly one enabled
  virtio,mmio node per device, with the window as reg, SPI 16 + slot (edge) as
  interrupt, and the device node virtio,device<ID> under it; over a board DTS
  that declares all 32 transports disabled (as Zephyr main does) it enables
  the chosen ones and adds nothing else;
- the real qemu-system-aarch64 (-M virt, the board's machine arguments and
  the generated qemu.args) puts transports at those addresses with those
  interrupts in the devicetree it hands the guest (-machine dumpdtb);
- its monitor (info qtree, with -S so nothing runs) shows each device, by
  the id qemu.args gives it, on the virtio-mmio bus whose transport is at
  the address the overlay claims.
"""

import json
import socket
import subprocess
import time

import pytest

from conftest import REPO, need_tool
from helpers import board_edt
from zephyr_amp import config

edtlib = pytest.importorskip("devicetree.edtlib")
dtlib = pytest.importorskip("devicetree.dtlib")

SYSTEM = REPO / "systems" / "qemu-a53-virtio.yaml"
GIC_SPI = 0
IRQ_TYPE_EDGE = 1 << 2          # Zephyr's arm-gic.h
QEMU_EDGE_RISING = 1            # Linux/QEMU: IRQ_TYPE_EDGE_RISING
TIMEOUT = 30


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    d = tmp_path_factory.mktemp("virtio") / "out"
    config.generate(SYSTEM, d)
    (d / "run").mkdir()         # where qemu.args puts the console socket
    return d


@pytest.fixture(scope="module")
def layout(out):
    return json.loads((out / "layout.json").read_text())


def native_devices(layout):
    return [dev for lk in layout["links"] if lk["type"] == "virtio-mmio"
            and lk["transport"] == "native" for dev in lk["devices"]]


def qemu_args(out, domain="app"):
    return (out / domain / "qemu.args").read_text().splitlines()


# -- the overlay ----------------------------------------------------------------

def check_window_node(node, dev):
    """A virtio,mmio node is what layout.json says of the device's transport."""
    assert [(r.addr, r.size) for r in node.regs] == [(dev["window"]["base"],
                                                       dev["window"]["size"])]
    (irq,) = node.interrupts
    assert "arm,gic-v3" in irq.controller.compats
    assert (irq.data["type"], irq.data["irq"]) == (GIC_SPI, dev["irq"]["number"])
    assert irq.data["flags"] & IRQ_TYPE_EDGE
    (child,) = node.children.values()
    assert child.compats == [f"virtio,device{dev['id']:x}"]
    assert child.name == dev["name"]


def okay_transports(edt):
    return [n for n in edt.compat2nodes["virtio,mmio"] if n.status == "okay"]


def test_overlay_nodes_equal_layout(out, layout, zephyr_dts, tmp_path):
    devices = native_devices(layout)
    assert {d["type"] for d in devices} == {"net", "entropy", "console"}
    edt = board_edt(zephyr_dts, "qemu_cortex_a53", [out / "app" / "amp.overlay"], tmp_path)
    nodes = {n.regs[0].addr: n for n in okay_transports(edt)}
    assert sorted(nodes) == sorted(d["window"]["base"] for d in devices)
    for dev in devices:
        node = nodes[dev["window"]["base"]]
        assert node.labels == [f"virtio_mmio{dev['slot']}"]
        check_window_node(node, dev)
    rng = next(d for d in devices if d["type"] == "entropy")
    assert edt.chosen_node("zephyr,entropy").parent is nodes[rng["window"]["base"]]


def test_overlay_enables_the_transports_zephyr_declares(out, layout, zephyr_dts, tmp_path):
    """Zephyr v4.4's qemu_cortex_a53 declares virtio_mmio0..31 in /soc, disabled: the
    overlay's nodes are those (same path and label), not 32 more."""
    edt = board_edt(zephyr_dts, "qemu_cortex_a53", [out / "app" / "amp.overlay"], tmp_path)
    nodes = edt.compat2nodes["virtio,mmio"]
    assert len(nodes) == 32
    devices = {d["window"]["base"]: d for d in native_devices(layout)}
    for node in nodes:
        dev = devices.get(node.regs[0].addr)
        assert node.parent.path == "/soc"
        assert node.status == ("okay" if dev else "disabled")
        if dev:
            check_window_node(node, dev)
        else:
            assert not node.children


def test_qemu_args_are_relative_and_name_their_bus(out, layout):
    args = qemu_args(out)
    board_machine = ["-cpu", "cortex-a53", "-machine", "virt,secure=on,gic-version=3"]
    assert args[:4] == board_machine
    assert all(a and not a[0].isspace() and a == a.strip() for a in args)
    assert not any("/tmp" in a or a.startswith("/") or "=/" in a for a in args)
    devices = [args[i + 1] for i, a in enumerate(args) if a == "-device"]
    on_mmio = [d for d in devices if d.split(",")[0] != "virtconsole"]
    assert len(on_mmio) == len(native_devices(layout))
    for dev in native_devices(layout):
        line = next(d for d in on_mmio if f"id={dev['qemu']['id']}" in d.split(","))
        assert line.split(",")[0] == dev["qemu"]["device"]
        assert f"bus=virtio-mmio-bus.{dev['slot']}" in line.split(",")
    for a in args:
        for kv in a.split(","):
            if kv.startswith(("path=", "mem-path=")):
                assert kv.split("=", 1)[1].startswith(f"run/{layout['system']['name']}-")


# -- the real QEMU --------------------------------------------------------------

def test_qemu_devicetree_has_the_overlays_transports(out, layout, tmp_path):
    qemu = need_tool("qemu-system-aarch64")
    dtc = need_tool("dtc")
    dtb = tmp_path / "virt.dtb"
    res = subprocess.run([qemu, *qemu_args(out), "-machine", f"dumpdtb={dtb}"], cwd=out,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    dts = tmp_path / "virt.dts"
    subprocess.run([dtc, "-I", "dtb", "-O", "dts", "-o", str(dts), str(dtb)], check=True,
                   capture_output=True)
    dt = dtlib.DT(str(dts))
    transports = {n.unit_addr: n for n in dt.root.nodes.values()
                  if n.name.startswith("virtio_mmio@")}
    # the board data: 32 slots of 0x200 from 0x0a000000, SPI 16 + n, edge
    assert sorted(int(u, 16) for u in transports) == [0xa000000 + n * 0x200 for n in range(32)]
    for dev in native_devices(layout):
        node = transports[f"{dev['window']['base']:x}"]
        assert node.props["compatible"].to_string() == "virtio,mmio"
        base, size = dev["window"]["base"], dev["window"]["size"]
        assert node.props["reg"].to_nums() == [base >> 32, base & 0xffffffff, 0, size]
        assert node.props["interrupts"].to_nums() == [GIC_SPI, dev["irq"]["number"],
                                                      QEMU_EDGE_RISING]


def parse_qtree(text):
    """info qtree -> nested dicts: {"kind": dev|bus, "name", "id", "props", "children"}."""
    root = {"kind": "root", "children": [], "props": []}
    stack = [(-1, root)]
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("(qemu)") or stripped.startswith("info qtree"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if stripped.startswith("dev: "):
            name, _, rest = stripped[5:].partition(", id ")
            node = {"kind": "dev", "name": name, "id": rest.strip('"'), "props": [],
                    "children": []}
        elif stripped.startswith("bus: "):
            node = {"kind": "bus", "name": stripped[5:], "props": [], "children": []}
        else:
            parent["props"].append(stripped)
            continue
        parent["children"].append(node)
        stack.append((indent, node))
    return root


def devices_on_buses(tree):
    """{device id: (device type, bus name, mmio address of the bus's transport or None)}"""
    found = {}

    def walk(node, mmio):
        for child in node["children"]:
            if child["kind"] == "dev":
                addr = next((int(p.split()[1].split("/")[0], 16) for p in child["props"]
                             if p.startswith("mmio ")), None)
                walk(child, addr)
            else:
                for dev in child["children"]:
                    if dev["kind"] == "dev" and dev["id"]:
                        found[dev["id"]] = (dev["name"], child["name"], mmio)
                walk(child, None)
    walk(tree, None)
    return found


def hmp(sock_path, commands, proc, timeout=TIMEOUT):
    """Run human-monitor commands over a unix socket; their outputs."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(sock_path))
            break
        except OSError:
            s.close()
            assert proc.poll() is None, f"QEMU exited: {proc.communicate()[1]}"
            assert time.monotonic() < deadline, "QEMU's monitor socket did not appear"
            time.sleep(0.05)
    s.settimeout(timeout)
    outputs = []
    with s:
        buf = b""
        while b"(qemu) " not in buf:
            buf += s.recv(65536) or b""
        for cmd in commands:
            s.sendall(cmd.encode() + b"\n")
            buf = b""
            while not buf.rstrip().endswith(b"(qemu)"):
                chunk = s.recv(65536)
                assert chunk, "QEMU closed the monitor"
                buf += chunk
            outputs.append(buf.decode(errors="replace"))
    return outputs


def qemu_monitor(qemu, args, cwd, tmp, commands):
    """Start QEMU stopped (-S) with a monitor on a socket, run commands, always kill it."""
    sock = tmp / "mon.sock"
    proc = subprocess.Popen([qemu, *args, "-S", "-monitor", f"unix:{sock},server=on,wait=off",
                             "-serial", "null"], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        return hmp(sock, commands, proc)
    finally:
        proc.kill()
        proc.communicate(timeout=TIMEOUT)


def test_qemu_puts_each_device_on_the_bus_the_overlay_claims(out, layout, zephyr_dts,
                                                             tmp_path):
    qemu = need_tool("qemu-system-aarch64")
    (qtree,) = qemu_monitor(qemu, qemu_args(out), out, tmp_path, ["info qtree"])
    found = devices_on_buses(parse_qtree(qtree))
    edt = board_edt(zephyr_dts, "qemu_cortex_a53", [out / "app" / "amp.overlay"], tmp_path)
    claimed = {n.regs[0].addr: next(iter(n.children.values())).compats[0]
               for n in okay_transports(edt)}
    for dev in native_devices(layout):
        qtype, bus, mmio = found[dev["qemu"]["id"]]
        assert (qtype, bus) == (dev["qemu"]["device"], f"virtio-mmio-bus.{dev['slot']}")
        assert mmio == dev["window"]["base"]
        assert claimed[mmio] == f"virtio,device{dev['id']:x}"
    # the console's port sits on the serial device's own bus
    con = next(d for d in native_devices(layout) if d["type"] == "console")
    assert found[f"{con['qemu']['id']}_port"][:2] == ("virtconsole", f"{con['qemu']['id']}.0")


def test_memory_map_shows_the_transports_in_the_instance(out, layout):
    text = (out / "memory-map.txt").read_text()
    section = text.split("\n\nQEMU instance of app: physical addresses\n")[1]
    rows = {line.split()[4]: line.split() for line in section.splitlines()[1:]
            if "(gap)" not in line}
    for dev in native_devices(layout):
        row = rows[dev["window"]["region"]]
        assert (int(row[0], 16), row[5]) == (dev["window"]["base"], "mmio_window")

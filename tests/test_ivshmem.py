"""ivshmem between two qemu_cortex_a53 instances (systems/qemu-a53-ivshmem.yaml).

- The BAR layout: status area, vring0, vring1, buffer pool, one after the
  other inside the BAR, without overlap; the reference sample's layout
  (formats.md 5.2) for the same BAR overlaps its vrings with its pool.
- Both overlays parse with edtlib over the real board DTS: a qemu,ivshmem
  node with the board's PCI IDs at openamp-system-reference's dual_qemu_ivshmem
  path and label (/ivhsmem/ivshmem, ivshmem0: the sample's own node merges into
  it) and, with the doorbell, a disabled linaro,ivshmem-ipm on it (enabled, it
  clashes with the sample's backend), so no zephyr,ipc; amp_layout.h gives the
  layout's offsets.
- The QEMU and ivshmem-server argument files of two different systems, and of
  one system generated into two directories, share no path; nothing is an
  absolute or global path (no /tmp/ivshmem_socket).
- The real qemu-system-aarch64 takes both instances' generated arguments: a
  stand-in ivshmem-server, set up from the generated ivshmem-server.args,
  serves the shared memory on that socket (peer IDs in connection order), and
  each instance's monitor shows the doorbell device with the BAR size,
  vectors and PCI IDs of the layout and overlay. The plain variant maps the
  memory file the arguments name.
"""

import json
import os
import re
import socket
import struct
import subprocess

import pytest
from test_virtio import TIMEOUT, devices_on_buses, hmp, parse_qtree  # noqa: F401

from conftest import REPO, need_tool
from helpers import board_edt
from zephyr_amp import config

edtlib = pytest.importorskip("devicetree.edtlib")

SYSTEM = REPO / "systems" / "qemu-a53-ivshmem.yaml"
IVSHMEM_IDS = (0x1af4, 0x1110)


def vring_size(num, align):
    return (16 * num + 4 + 2 * num + 2 + align - 1) // align * align + 4 + 8 * num + 2


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    """gen(variant) -> (out dir, layout.json): the bundled system, or a variant of it
    (another name, plain ivshmem, or the same system in another directory)."""
    root = tmp_path_factory.mktemp("ivshmem")
    cache = {}

    def run(variant="bundled"):
        if variant not in cache:
            text = SYSTEM.read_text()
            if variant in ("other", "plain"):
                text = text.replace("name: qemu-a53-ivshmem", f"name: qemu-a53-ivshmem-{variant}")
            if variant == "plain":
                text = text.replace("doorbell: true", "doorbell: false")
            src = root / f"{variant}.yaml"
            src.write_text(text)
            out = root / variant / "out"
            config.generate(SYSTEM if variant in ("bundled", "copy") else src, out)
            (out / "run").mkdir()
            cache[variant] = (out, json.loads((out / "layout.json").read_text()))
        return cache[variant]
    return run


def ivshmem_link(layout):
    (lk,) = [lk for lk in layout["links"] if lk["type"] == "ivshmem"]
    return lk


def args_of(path):
    return path.read_text().splitlines()


# -- layout ---------------------------------------------------------------------

def reference_areas(size, num=16, align=4, status=0x400):
    """dual_qemu_ivshmem's areas for a BAR of size bytes (formats.md 5.2)."""
    return [("status", 0, status), ("pool", status, size),
            ("vring rx", size - 0x800, size - 0x400), ("vring tx", size - 0x400, size)]


def overlaps(areas):
    areas = sorted(areas, key=lambda a: a[1])
    return [(a[0], b[0]) for a, b in zip(areas, areas[1:]) if a[2] > b[1]]


def test_bar_layout_has_no_overlap_unlike_the_reference(gen):
    _, lay = gen()
    iv = ivshmem_link(lay)["ivshmem"]
    size = iv["size"]
    assert size & (size - 1) == 0 and iv["space"] == "ivshmem:ivshmem0"
    areas = [("status", iv["status"]["offset"], iv["status"]["offset"] + iv["status"]["size"])]
    for v in iv["vrings"]:
        assert v["size"] == vring_size(v["num"], v["align"]) <= v["alloc"]
        assert v["offset"] % max(v["align"], 0x1000) == 0
        areas.append((f"vring{v['index']}", v["offset"], v["offset"] + v["alloc"]))
    b = iv["buffers"]
    assert b["size"] >= b["count"] * b["buf_size"]
    areas.append(("buffers", b["offset"], b["offset"] + b["size"]))
    assert [a[0] for a in sorted(areas, key=lambda a: a[1])] == \
        ["status", "vring0", "vring1", "buffers"]
    assert overlaps(areas) == []
    assert areas[0][1] == 0 and max(a[2] for a in areas) <= size
    assert overlaps(reference_areas(size)) == [("pool", "vring rx")]
    # the regions in layout.json live in the BAR's own space, as offsets
    spaces = {r["space"] for r in lay["regions"] if r["link"] == "ivshmem0"}
    assert spaces == {"ivshmem:ivshmem0"}


# -- overlays ---------------------------------------------------------------------

def defines(header):
    return {m.group(1): int(m.group(2), 0) for m in
            re.finditer(r"^#define (AMP_\w+) (0x[0-9a-f]+|\d+)$", header.read_text(), re.M)}


@pytest.mark.parametrize("domain", ["host", "remote"])
def test_overlays_of_both_sides(domain, gen, zephyr_dts, tmp_path):
    out, lay = gen()
    lk = ivshmem_link(lay)
    edt = board_edt(zephyr_dts, "qemu_cortex_a53", [out / domain / "amp.overlay"], tmp_path)
    (dev,) = edt.compat2nodes["qemu,ivshmem"]
    assert (dev.props["vendor-id"].val, dev.props["device-id"].val) == IVSHMEM_IDS
    assert dev.status == "okay"
    assert dev.path == "/ivhsmem/ivshmem" and "ivshmem0" in dev.labels
    (ipm,) = edt.compat2nodes["linaro,ivshmem-ipm"]
    assert ipm.props["ivshmem"].val is dev
    assert ipm.status == "disabled" and not edt.compat2okay.get("linaro,ivshmem-ipm")
    assert edt.chosen_node("zephyr,ipc") is None
    iv = lk["ivshmem"]
    d = defines(out / domain / "amp_layout.h")
    other = "remote" if domain == "host" else "host"
    assert d["AMP_IVSHMEM0_SIZE"] == iv["size"]
    assert d["AMP_IVSHMEM0_IS_HOST"] == (domain == "host")
    assert d["AMP_IVSHMEM0_STATUS_OFFSET"] == iv["status"]["offset"]
    assert [d[f"AMP_IVSHMEM0_VRING{v['index']}_OFFSET"] for v in iv["vrings"]] == \
        [v["offset"] for v in iv["vrings"]]
    assert d["AMP_IVSHMEM0_BUFFERS_OFFSET"] == iv["buffers"]["offset"]
    assert (d["AMP_IVSHMEM0_PEER_ID"], d["AMP_IVSHMEM0_OTHER_PEER_ID"]) == \
        (iv["peers"][domain], iv["peers"][other])
    conf = (out / domain / "amp.conf").read_text()
    assert "CONFIG_IVSHMEM_DOORBELL=y" in conf.splitlines()
    assert f"CONFIG_IVSHMEM_MSI_X_VECTORS={iv['vectors']}" in conf.splitlines()


# -- argument files -----------------------------------------------------------------

def path_arguments(out):
    """Every file-system path the QEMU and ivshmem-server argument files name."""
    paths = []
    files = sorted(out.glob("*/qemu.args")) + sorted(out.glob("*/ivshmem-server.args"))
    assert files
    for f in files:
        args = args_of(f)
        for i, a in enumerate(args):
            if f.name == "ivshmem-server.args" and i and args[i - 1] in ("-S", "-m", "-p"):
                paths.append(a)
            for kv in a.split(","):
                if kv.startswith(("path=", "mem-path=")):
                    paths.append(kv.split("=", 1)[1])
    return paths


def test_argument_files_of_two_systems_share_no_path(gen):
    outs = {v: gen(v)[0] for v in ("bundled", "other", "plain", "copy")}
    found = {v: path_arguments(out) for v, out in outs.items()}
    for v, paths in found.items():
        assert paths, v
        for p in paths:
            assert not os.path.isabs(p) and ".." not in p.split("/"), (v, p)
            assert p.startswith("run"), (v, p)
    resolved = {v: {os.path.normpath(outs[v] / p) for p in found[v] if p != "run"}
                for v in outs}
    names = list(outs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not resolved[a] & resolved[b], (a, b)
    # different systems: different names even before the output directory
    for v in ("other", "plain"):
        assert not ({p for p in found["bundled"] if p != "run"} & set(found[v]))
    assert "/tmp/ivshmem_socket" not in "".join(
        f.read_text() for out in outs.values() for f in out.rglob("*") if f.is_file())


def test_both_instances_and_the_server_name_one_socket(gen):
    out, lay = gen()
    lk = ivshmem_link(lay)
    server = args_of(out / "ivshmem0" / "ivshmem-server.args")
    opts = dict(zip(server[1::2], server[2::2])) if server[0] == "-F" else {}
    assert opts["-S"] == lk["run"]["socket"]
    assert int(opts["-l"]) == lk["ivshmem"]["size"]
    assert int(opts["-n"]) == lk["ivshmem"]["vectors"]
    for domain in ("host", "remote"):
        args = args_of(out / domain / "qemu.args")
        assert f"socket,id=ivshmem0,path={opts['-S']}" in args
        assert f"ivshmem-doorbell,chardev=ivshmem0,vectors={opts['-n']},id=ivshmem0" in args


def test_run_script_starts_server_then_host_then_remote(gen):
    out, lay = gen()
    script = (out / "run-qemu.sh").read_text()
    subprocess.run(["sh", "-n", str(out / "run-qemu.sh")], check=True)
    order = [script.index("ivshmem0/ivshmem-server.args"), script.index("host/qemu.args"),
             script.index("remote/qemu.args")]
    assert order == sorted(order)
    assert [lay["domains"][d]["qemu"]["start"] for d in ("host", "remote")] == [0, 1]


# -- the real QEMU ----------------------------------------------------------------

class StandInServer:
    """ivshmem-server's side of the protocol (QEMU docs/specs/ivshmem-spec.rst): on
    connect, the protocol version 0, the peer's ID, the shared memory fd (with -1),
    then one eventfd per vector of the peer. IDs are handed out in connection order."""

    def __init__(self, path, size, vectors):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen(2)
        self.sock.settimeout(TIMEOUT)
        self.shm = os.memfd_create("ivshmem")
        os.ftruncate(self.shm, size)
        self.vectors = vectors
        self.peers = []

    def accept(self):
        conn, _ = self.sock.accept()
        peer = len(self.peers)
        conn.sendall(struct.pack("<q", 0) + struct.pack("<q", peer))
        socket.send_fds(conn, [struct.pack("<q", -1)], [self.shm])
        for _ in range(self.vectors):
            ev = os.eventfd(0)
            socket.send_fds(conn, [struct.pack("<q", peer)], [ev])
            os.close(ev)
        self.peers.append(conn)
        return peer

    def close(self):
        for c in self.peers:
            c.close()
        self.sock.close()
        os.close(self.shm)


def start_instance(qemu, out, domain, mon):
    return subprocess.Popen([qemu, *args_of(out / domain / "qemu.args"), "-S", "-monitor",
                             f"unix:{mon},server=on,wait=off", "-serial", "null"], cwd=out,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def bar_size(props, n):
    """Size of BAR n from qtree's 'bar n: mem at ADDR [END]' (END = ADDR + size - 1)."""
    m = next(re.match(r"bar \d+: mem at (0x[0-9a-f]+) \[(0x[0-9a-f]+)\]", p) for p in props
             if p.startswith(f"bar {n}:"))
    return (int(m.group(2), 16) - int(m.group(1), 16) + 1) % (1 << 64)


def pci_device(qtree, kind):
    tree = parse_qtree(qtree)
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.get("name") == kind:
            return node
        stack.extend(node["children"])
    raise AssertionError(f"no {kind} in info qtree")


def test_qemu_runs_both_instances_on_one_ivshmem_server(gen, tmp_path):
    qemu = need_tool("qemu-system-aarch64")
    out, lay = gen()
    lk = ivshmem_link(lay)
    server_args = args_of(out / "ivshmem0" / "ivshmem-server.args")
    opts = dict(zip(server_args[1::2], server_args[2::2]))
    server = StandInServer(out / opts["-S"], int(opts["-l"]), int(opts["-n"]))
    procs = []
    try:
        peers = {}
        for domain in ("host", "remote"):        # the start order of run-qemu.sh
            procs.append(start_instance(qemu, out, domain, tmp_path / f"{domain}.sock"))
            peers[domain] = server.accept()
        assert peers == lk["ivshmem"]["peers"]
        for domain, proc in zip(("host", "remote"), procs):
            (qtree,) = hmp(tmp_path / f"{domain}.sock", ["info qtree"], proc)
            dev = pci_device(qtree, "ivshmem-doorbell")
            assert dev["id"] == "ivshmem0"
            assert f"vectors = {lk['ivshmem']['vectors']} ({lk['ivshmem']['vectors']:#x})" \
                in dev["props"]
            assert any(p.endswith(f"pci id {IVSHMEM_IDS[0]:x}:{IVSHMEM_IDS[1]:x} "
                                  f"(sub 1af4:1100)") for p in dev["props"])
            assert bar_size(dev["props"], 2) == lk["ivshmem"]["size"]
    finally:
        for p in procs:
            p.kill()
            p.communicate(timeout=TIMEOUT)
        server.close()


def test_qemu_maps_the_plain_memory_file(gen, tmp_path):
    qemu = need_tool("qemu-system-aarch64")
    out, lay = gen("plain")
    lk = ivshmem_link(lay)
    proc = start_instance(qemu, out, "host", tmp_path / "mon.sock")
    try:
        (qtree,) = hmp(tmp_path / "mon.sock", ["info qtree"], proc)
    finally:
        proc.kill()
        proc.communicate(timeout=TIMEOUT)
    dev = pci_device(qtree, "ivshmem-plain")
    assert bar_size(dev["props"], 2) == lk["ivshmem"]["size"]
    mem = out / lk["run"]["mem_path"]
    assert mem.is_file() and mem.stat().st_size == lk["ivshmem"]["size"]


def test_memory_map_shows_the_bar_layout(gen):
    out, lay = gen()
    text = (out / "memory-map.txt").read_text()
    section = text.split("\n\nivshmem link ivshmem0: offsets in its shared-memory BAR\n")[1]
    rows = [line.split() for line in section.split("\n\n")[0].splitlines()[1:]]
    iv = ivshmem_link(lay)["ivshmem"]
    assert [(r[4], int(r[0], 16)) for r in rows] == [
        ("ivshmem0_bar", 0), ("ivshmem0_status", iv["status"]["offset"]),
        ("ivshmem0_vring0", iv["vrings"][0]["offset"]),
        ("ivshmem0_vring1", iv["vrings"][1]["offset"]),
        ("ivshmem0_buffers", iv["buffers"]["offset"])]
    for domain in ("host", "remote"):
        assert f"\n\nQEMU instance of {domain}: physical addresses\n" in text

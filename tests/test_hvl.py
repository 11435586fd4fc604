"""Hypervisorless virtio: the shared region's layout, the Zephyr overlay and linker
fragment, and the Linux device side, for systems/qemu-r5-hvl.yaml and kv260-hvl.yaml.

- windows (0x200 per device) at the start of the pre-shared region, then the
  vrings, then the bounce-buffer pool: in order, without overlap, inside the
  region, each sized from the queues;
- the overlay parses with edtlib over the real board DTS (and the result
  passes dtc's checks as in Zephyr's build); its virtio,mmio nodes are the
  layout's windows, under the openamp,virtio-hvl node whose areas, region
  and IPI mailbox are the layout's;
- amp_hvl.ld, linked by arm-none-eabi-gcc with a C file that defines one
  vring per queue in .shared.vring.N, puts each vring section and the
  __shmem0_* symbols at the layout's addresses (read back with pyelftools);
  a vring bigger than its slot stops the link;
- the Linux overlay compiles with dtc and reserves the region; the device
  file (<device>/<link>.hvl.json) says what the layout says.
"""

import json
import subprocess

import pytest
from elftools.elf.elffile import ELFFile

from conftest import REPO, need_tool
from helpers import board_edt
from zephyr_amp import config

edtlib = pytest.importorskip("devicetree.edtlib")
dtlib = pytest.importorskip("devicetree.dtlib")

SYSTEMS = [REPO / "systems" / "qemu-r5-hvl.yaml", REPO / "systems" / "kv260-hvl.yaml"]
IDS = [p.stem for p in SYSTEMS]
WINDOW = 0x200
VRING_ALIGN = 0x1000


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("hvl")
    cache = {}

    def run(system):
        if system not in cache:
            out = root / system.stem
            config.generate(system, out)
            cache[system] = (out, json.loads((out / "layout.json").read_text()))
        return cache[system]
    return run


def hvl_link(layout):
    (lk,) = [lk for lk in layout["links"] if lk.get("transport") == "hvl"]
    return lk


def region(layout, name):
    return next(r for r in layout["regions"] if r["name"] == name)


def vring_size(num, align):
    return (16 * num + 4 + 2 * num + 2 + align - 1) // align * align + 4 + 8 * num + 2


# -- layout -----------------------------------------------------------------------

@pytest.mark.parametrize("system", SYSTEMS, ids=IDS)
def test_windows_vrings_pool_in_order_without_overlap(system, generated):
    _, lay = generated(system)
    lk = hvl_link(lay)
    shm = region(lay, lk["shm"])
    start, end = shm["base"], shm["base"] + shm["size"]
    areas = []
    for k, dev in enumerate(lk["devices"]):
        assert (dev["window"]["base"], dev["window"]["size"]) == (start + k * WINDOW, WINDOW)
        areas.append((dev["window"]["base"], dev["window"]["base"] + WINDOW, dev["name"]))
    assert lk["windows"] == {"base": start, "size": -(-len(lk["devices"]) * WINDOW // 0x1000)
                             * 0x1000}
    cursor = lk["vrings"]["base"]
    assert cursor == start + lk["windows"]["size"] == lk["vring_section_base"]
    need = 0
    for dev in lk["devices"]:
        assert len(dev["queues"]) == {"entropy": 1, "net": 2}[dev["type"]]
        for q in dev["queues"]:
            assert q["base"] == cursor and q["base"] % VRING_ALIGN == 0
            assert q["size"] == vring_size(q["num"], VRING_ALIGN) <= q["alloc"]
            assert q["num"] == dev["queue_size"]
            areas.append((q["base"], q["base"] + q["alloc"], q["section"]))
            cursor += q["alloc"]
        need += len(dev["queues"]) * dev["queue_size"] * dev["buffer_size"]
    assert cursor == lk["vrings"]["base"] + lk["vrings"]["size"]
    pool = lk["pool"]
    assert pool["base"] == cursor and pool["need"] == need <= pool["size"]
    areas.append((pool["base"], pool["base"] + pool["size"], "pool"))
    areas.sort()
    for (a0, a1, an), (b0, b1, bn) in zip(areas, areas[1:]):
        assert a1 <= b0, f"{an} overlaps {bn}"
    assert start <= areas[0][0] and areas[-1][1] <= end
    assert lk["symbols"] == {"__shmem0_start": lk["vrings"]["base"],
                             "__shmem0_pool_start": pool["base"],
                             "__shmem0_end": pool["base"] + pool["size"]}
    assert [q["section"] for d in lk["devices"] for q in d["queues"]] == \
        [f".shared.vring.{k}" for k in range(sum(len(d["queues"]) for d in lk["devices"]))]
    assert lk["shm"] in lay["domains"][lk["driver"]]["load_regions"]


def test_qemu_r5_hvl_stays_in_the_64_mib_of_xilinx_qemus_ddr(generated):
    _, lay = generated(SYSTEMS[0])
    for r in lay["regions"]:
        if r["kind"] != "tcm":
            assert r["base"] + r["size"] <= 64 << 20, r["name"]


def test_kv260_hvl_matches_the_reference_demo(generated):
    """formats.md 6.6: rng window 0x37000000, net 0x37000200, vrings from 0x37001000,
    the pool to the end of the 16 MiB region."""
    _, lay = generated(SYSTEMS[1])
    lk = hvl_link(lay)
    assert [(d["type"], d["id"], d["window"]["base"]) for d in lk["devices"]] == [
        ("entropy", 4, 0x37000000), ("net", 1, 0x37000200)]
    assert lk["symbols"] == {"__shmem0_start": 0x37001000,
                             "__shmem0_pool_start": lk["pool"]["base"],
                             "__shmem0_end": 0x38000000}


# -- Zephyr overlay -------------------------------------------------------------------

@pytest.mark.parametrize("system", SYSTEMS, ids=IDS)
def test_overlay_parses_and_equals_layout(system, generated, zephyr_dts, tmp_path):
    out, lay = generated(system)
    lk = hvl_link(lay)
    driver = lk["driver"]
    edt = board_edt(zephyr_dts, lay["domains"][driver]["target"], [out / driver / "amp.overlay"],
                    tmp_path)
    (hvl,) = edt.compat2nodes["openamp,virtio-hvl"]
    regs = {r.name: (r.addr, r.size) for r in hvl.regs}
    pool = lk["pool"]
    assert regs == {"windows": (lk["windows"]["base"], lk["windows"]["size"]),
                    "vrings": (lk["vrings"]["base"], lk["vrings"]["size"]),
                    "pool": (pool["base"], pool["size"])}
    shm = region(lay, lk["shm"])
    mem = hvl.props["memory-region"].val
    assert [(r.addr, r.size) for r in mem.regs] == [(shm["base"], shm["size"])]
    ipm = hvl.props["ipm"].val
    assert lk["ipi"]["zephyr_label"] in ipm.labels
    assert ipm.parent.status == "okay" and lk["ipi"]["zephyr_parent"] in ipm.parent.labels
    assert edt.chosen_node("zephyr,ipc") is ipm
    nodes = edt.compat2nodes["virtio,mmio"]
    assert len(nodes) == len(lk["devices"])
    for node, dev in zip(sorted(nodes, key=lambda n: n.regs[0].addr), lk["devices"]):
        assert node.parent is hvl and node.status == "okay"
        assert [(r.addr, r.size) for r in node.regs] == [(dev["window"]["base"], WINDOW)]
        # kicks come through the IPI: its interrupt (v4.4's virtio_mmio.c takes
        # DT_INST_IRQN() of every enabled virtio,mmio node)
        (irq,) = node.interrupts
        assert irq.data["irq"] == lk["ipi"]["driver"]["irq"]
        assert irq.data == ipm.parent.interrupts[0].data
        (child,) = node.children.values()
        assert child.compats == [f"virtio,device{dev['id']:x}"]
    dtc = need_tool("dtc")
    norm = tmp_path / "zephyr.dts"
    norm.write_text(edt.dts_source)
    res = subprocess.run([dtc, "-I", "dts", "-O", "dts", "-o", "/dev/null", "-b", "0",
                          "-E", "unit_address_vs_reg", "-Wno-unique_unit_address",
                          "-Wunique_unit_address_if_enabled", str(norm)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "hvl@" not in res.stderr and "virtio_mmio@" not in res.stderr, res.stderr


# -- linker fragment ------------------------------------------------------------------

LINKER_SCRIPT = """\
MEMORY
{{
	ram (rwx) : ORIGIN = {base:#x}, LENGTH = {size:#x}
}}
SECTIONS
{{
	.text : {{ *(.text*) *(.rodata*) }} > ram
	.data : {{ *(.data*) }} > ram
	.bss (NOLOAD) : {{ *(.bss*) *(COMMON) }} > ram
	INCLUDE amp_hvl.ld
}}
"""


def link_vrings(out, lay, tmp, grow=0):
    """A Cortex-R5 image with one vring array per queue in .shared.vring.N (the last one
    grow bytes bigger than vring_size), linked with the generated amp_hvl.ld."""
    lk = hvl_link(lay)
    queues = [q for d in lk["devices"] for q in d["queues"]]
    src = tmp / "vrings.c"
    lines = [f'unsigned char vq{k}[{q["size"] + (grow if k == len(queues) - 1 else 0)}] '
             f'__attribute__((section("{q["section"]}"), used));'
             for k, q in enumerate(queues)]
    lines += ["extern char __shmem0_pool_start[], __shmem0_end[];",
              "unsigned long pool_size(void) { return __shmem0_end - __shmem0_pool_start; }",
              "void _start(void) { for (;;) { } }"]
    src.write_text("\n".join(lines) + "\n")
    fw = region(lay, f"{lk['driver']}_fw")
    ld = tmp / "test.ld"
    ld.write_text(LINKER_SCRIPT.format(base=fw["base"], size=fw["size"]))
    elf = tmp / "hvl.elf"
    res = subprocess.run([need_tool("arm-none-eabi-gcc"), "-mcpu=cortex-r5", "-marm",
                          "-nostdlib", "-ffreestanding", "-O1", "-T", str(ld),
                          f"-L{out / lk['driver']}", "-o", str(elf), str(src)],
                         capture_output=True, text=True)
    return res, elf


@pytest.mark.parametrize("system", SYSTEMS, ids=IDS)
def test_linker_fragment_places_vrings_and_pool_symbols(system, generated, tmp_path):
    out, lay = generated(system)
    lk = hvl_link(lay)
    res, elf = link_vrings(out, lay, tmp_path)
    assert res.returncode == 0, res.stderr
    with open(elf, "rb") as f:
        image = ELFFile(f)
        sections = {s.name: s for s in image.iter_sections()}
        loaded = [(p["p_paddr"], p["p_paddr"] + p["p_filesz"]) for p in image.iter_segments()
                  if p["p_type"] == "PT_LOAD" and p["p_filesz"]]
        symtab = image.get_section_by_name(".symtab")
        symbols = {name: symtab.get_symbol_by_name(name)[0]["st_value"]
                   for name in lk["symbols"]}
    for dev in lk["devices"]:
        for q in dev["queues"]:
            sec = sections[q["section"]]
            assert (sec["sh_addr"], sec["sh_size"]) == (q["base"], q["size"]), q["section"]
            # NOLOAD: the image carries no bytes for a loader to write into the region
            assert sec["sh_type"] == "SHT_NOBITS" or not sec["sh_flags"] & 0x2   # SHF_ALLOC
            assert not any(lo < q["base"] + q["alloc"] and q["base"] < hi for lo, hi in loaded)
    assert symbols == lk["symbols"]


def test_a_vring_bigger_than_its_slot_stops_the_link(generated, tmp_path):
    out, lay = generated(SYSTEMS[0])
    q = hvl_link(lay)["devices"][-1]["queues"][-1]
    res, _ = link_vrings(out, lay, tmp_path, grow=q["alloc"] - q["size"] + 1)
    assert res.returncode != 0
    assert f"amp: {q['section']} is larger than the vring the layout reserved" in res.stderr


# -- Linux device side ----------------------------------------------------------------

def compile_overlay(dtso, tmp):
    dtc = need_tool("dtc")
    dtbo = tmp / "amp.dtbo"
    res = subprocess.run([dtc, "-@", "-I", "dts", "-O", "dtb", "-o", str(dtbo), str(dtso)],
                         capture_output=True, text=True)
    assert res.returncode == 0 and "ERROR" not in res.stderr, res.stderr
    back = tmp / "amp.decompiled.dts"
    subprocess.run([dtc, "-I", "dtb", "-O", "dts", "-o", str(back), str(dtbo)], check=True,
                   capture_output=True)
    return dtlib.DT(str(back))


def reg_pairs(node):
    v = node.props["reg"].to_nums()
    return [((v[i] << 32) | v[i + 1], (v[i + 2] << 32) | v[i + 3]) for i in range(0, len(v), 4)]


@pytest.mark.parametrize("system", SYSTEMS, ids=IDS)
def test_linux_overlay_and_device_file(system, generated, tmp_path):
    out, lay = generated(system)
    lk = hvl_link(lay)
    shm = region(lay, lk["shm"])
    dt = compile_overlay(out / lk["device"] / "amp.dtso", tmp_path)
    nodes = {n.name: n for n in dt.node_iter() if "/__overlay__" in n.path}
    reserved = nodes[f"shm@{shm['base']:x}"]
    assert reserved.parent.name == "reserved-memory" and "no-map" in reserved.props
    assert reg_pairs(reserved) == [(shm["base"], shm["size"])]
    uio = nodes[f"{lk['name']}-uio@{shm['base']:x}"]
    assert uio.props["compatible"].to_string() == "generic-uio"
    assert reg_pairs(uio) == [(shm["base"], shm["size"])]
    mailbox = nodes[f"mailbox@{lk['ipi']['linux']['buffers'][0]:x}"]
    assert mailbox.props["xlnx,ipi-id"].to_num() == lk["ipi"]["driver"]["ipi_id"]
    if lay["domains"][lk["driver"]]["loader"] == "linux-remoteproc":
        # remoteproc loads the driver; its image has NOBITS vrings in the region
        core = next(n for n in dt.node_iter() if n.name.startswith("r5f@"))
        assert reserved.props["phandle"].to_num() in core.props["memory-region"].to_nums()

    doc = json.loads((out / lk["device"] / f"{lk['name']}.hvl.json").read_text())
    assert doc["format"] == "zephyr-amp-hvl-device"
    assert (doc["driver"], doc["device"]) == (lk["driver"], lk["device"])
    assert (doc["shm"]["base"], doc["shm"]["size"]) == (shm["base"], shm["size"])
    assert [(w["device"], w["device_id"], w["base"], w["size"]) for w in doc["windows"]] == \
        [(d["name"], d["id"], d["window"]["base"], d["window"]["size"]) for d in lk["devices"]]
    assert [[(q["base"], q["size"]) for q in w["queues"]] for w in doc["windows"]] == \
        [[(q["base"], q["size"]) for q in d["queues"]] for d in lk["devices"]]
    assert (doc["pool"]["base"], doc["pool"]["size"]) == (lk["pool"]["base"],
                                                          lk["pool"]["size"])
    ipi = doc["ipi"]
    assert (ipi["driver"]["name"], ipi["driver"]["mask"]) == ("rpu0", 0x100)
    assert (ipi["device"]["name"], ipi["device"]["mask"]) == ("apu", 0x1)
    assert ipi["registers"]["trig"] == 0 and ipi["registers"]["isr"] == 0x10


# -- memory map ---------------------------------------------------------------------

@pytest.mark.parametrize("system", SYSTEMS, ids=IDS)
def test_memory_map_shows_windows_vrings_and_pool_inside_the_region(system, generated):
    out, lay = generated(system)
    lk = hvl_link(lay)
    text = (out / "memory-map.txt").read_text()
    section = text.split("\n\nphysical addresses\n", 1)[1].split("\n\n", 1)[0]
    rows = [line.split() for line in section.splitlines()[1:] if "(gap)" not in line]
    names = [r[4] for r in rows]
    inside = [f"{lk['name']}_{d['name']}_mmio" for d in lk["devices"]] + \
        [q["region"] for d in lk["devices"] for q in d["queues"]] + [lk["pool"]["region"]]
    at = names.index(lk["shm"])
    assert names[at + 1:at + 1 + len(inside)] == inside       # in address order, nested
    for row in rows[at + 1:at + 1 + len(inside)]:
        assert int(row[0], 16) >= int(rows[at][0], 16) and int(row[1], 16) <= int(rows[at][1], 16)
    svg = (out / "memory-map.svg").read_text()
    assert all(f">{name}  [" in svg for name in inside)

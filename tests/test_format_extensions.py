# ruff: noqa: E501 -- the table of expected messages: one message, one line, as the user sees it
"""The system-format keys that hand-written setups need (docs/system-format.md).

links[].vring.reserve, links[].buffers.reserve, links[].base, per-part
vring: {base: [A, B]} with buffers: {base: C}; domains[].carveouts[].dt-name and
in-table: false; domains[].trace: {size, name}; domains[].firmware.table.

Each one is checked where it lands: layout.json, the generated Linux overlay
(through dtc, read back with the importer's devicetree reader), and the resource
table, compiled with arm-none-eabi-gcc into a small image linked with the
generated amp_memory.ld and amp_sections.ld and read back with pyelftools.
Systems that do not use them keep their outputs byte for byte (test_golden.py).
The bad inputs are in tests/data/invalid_ext, one per file, each opening with a
comment saying why it is invalid.
"""

import json
import struct
import subprocess
import sys

import pytest

from conftest import REPO, need, need_tool
from helpers import TABLE_LINK_LD, TABLE_START_C
from zephyr_amp import config
from zephyr_amp.errors import AmpError
from zephyr_amp.readers import dts as dts_reader

ELFFile = pytest.importorskip("elftools.elf.elffile").ELFFile
INVALID = REPO / "tests" / "data" / "invalid_ext"
IMPORT = REPO / "scripts" / "west_commands" / "amp_import.py"

HEAD = """\
name: ext
board: kv260
domains:
  - name: linux
    os: linux
    cores: [a53_0, a53_1, a53_2, a53_3]
  - name: rpu0
    os: zephyr
    cores: [r5_0]
    mode: split
"""
LINK = """\
links:
  - name: rpmsg0
    type: rpmsg
    host: linux
    remote: rpu0
"""



def generate(tmp_path, domain="", link="", pools=""):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "ext.yaml"
    path.write_text(HEAD + domain + pools + LINK + link)
    gen = config.generate(path, tmp_path / "gen")
    return gen.out_dir, json.loads((gen.out_dir / "layout.json").read_text())


def regions(layout):
    return {r["name"]: (r["base"], r["size"]) for r in layout["regions"]}


def reserved(out, tmp_path):
    """{node name: (base, size)} of the generated Linux overlay's reserved memory."""
    dt = dts_reader.load_source(out / "linux" / "amp.dtso", "amp.dtso", work=tmp_path)
    nodes = {}
    for node in dt.node_iter():
        if node.name == "reserved-memory":
            for child in node.nodes.values():
                for base, size in dts_reader.regs(child):
                    nodes[child.name] = (base, size)
    return nodes, dt


def memory_region(dt, core="r5f@0"):
    """The labels a remoteproc core node lists in memory-region, in order."""
    for node in dt.node_iter():
        if node.name == core and "memory-region" in node.props:
            return [n.name for n in node.props["memory-region"].to_nodes()]
    raise AssertionError(f"no {core} with memory-region")


def table(out, layout, tmp_path, domain="rpu0"):
    """(section address, parsed entries) of the table in a linked image."""
    cc = need_tool("arm-none-eabi-gcc")
    gen = out / domain
    (tmp_path / "start.c").write_text(TABLE_START_C)
    first = layout["domains"][domain]["load_regions"][0]
    (tmp_path / "link.ld").write_text(TABLE_LINK_LD.format(region=first))
    elf = tmp_path / "fw.elf"
    subprocess.run([cc, "-mcpu=cortex-r5", "-marm", "-O1", "-ffreestanding", "-nostdlib",
                    "-Wall", "-Werror", "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments",
                    "-I", str(gen), f"-Wl,-L,{gen}", "-T", "link.ld", "start.c",
                    str(gen / "resource_table.c"), "-o", str(elf)],
                   cwd=tmp_path, check=True, capture_output=True, text=True)
    with open(elf, "rb") as f:
        sec = ELFFile(f).get_section_by_name(".resource_table")
        return sec["sh_addr"], _entries(sec.data()), elf


def _entries(data):
    """formats.md 2.1: carveout (0), trace (2), vdev (3) with their vrings."""
    _ver, num = struct.unpack_from("<2I", data, 0)
    out = []
    for off in struct.unpack_from(f"<{num}I", data, 16):
        kind, = struct.unpack_from("<I", data, off)
        if kind == 0:
            da, pa, length = struct.unpack_from("<3I", data, off + 4)
            name = data[off + 24:off + 56].split(b"\0")[0].decode()
            out.append(("carveout", name, da, length))
        elif kind == 2:
            da, length = struct.unpack_from("<2I", data, off + 4)
            name = data[off + 16:off + 48].split(b"\0")[0].decode()
            out.append(("trace", name, da, length))
        elif kind == 3:
            nvr = data[off + 25]
            das = [struct.unpack_from("<I", data, off + 28 + 20 * j)[0] for j in range(nvr)]
            out.append(("vdev", tuple(das)))
    return out


# -- links[].vring.reserve, links[].buffers.reserve, links[].base ------------------

def test_reserves_and_link_base_reach_layout_overlay_and_table(tmp_path):
    """OpenAMP's KV260 shape: 16 KiB vrings, 1 MiB of buffers, at 0x3ed40000."""
    need_tool("dtc")
    out, lay = generate(tmp_path, "    firmware: {memory: ddr, base: 0x3ed00000, size: 256K}\n",
                        "    base: 0x3ed40000\n    vring: {num: 8, reserve: 16K}\n"
                        "    buffers: {reserve: 1M}\n")
    r = regions(lay)
    assert r["rpmsg0_vring0"] == (0x3ed40000, 0x4000)
    assert r["rpmsg0_vring1"] == (0x3ed44000, 0x4000)
    assert r["rpmsg0_buffers"] == (0x3ed48000, 0x100000)
    assert r["rpmsg0_shm"] == (0x3ed40000, 0x108000)
    (link,) = lay["links"]
    assert link["vdev"]["buffers"]["count"] == 16       # what Linux allocates, not 2048
    nodes, _dt = reserved(out, tmp_path)
    assert nodes["vdev0vring0@3ed40000"] == (0x3ed40000, 0x4000)
    assert nodes["vdev0vring1@3ed44000"] == (0x3ed44000, 0x4000)
    assert nodes["vdev0buffer@3ed48000"] == (0x3ed48000, 0x100000)
    _addr, entries, _elf = table(out, lay, tmp_path)
    assert ("vdev", (0x3ed40000, 0x3ed44000)) in entries
    assert "reg = <0x3ed40000 0x108000>;" in (out / "rpu0" / "amp.overlay").read_text()


def test_a_pinned_link_is_reserved_before_anything_is_allocated(tmp_path):
    """A carveout allocated first does not land on the pinned link (first fit would
    put it at the allocation start, 0x3ed40000 on kv260: right after the base
    devicetree's rproc_0_fw_image)."""
    out, lay = generate(tmp_path, "    carveouts:\n      - {name: dma, size: 64K}\n",
                        "    base: 0x3ed40000\n")
    r = regions(lay)
    assert r["rpmsg0_vring0"][0] == 0x3ed40000
    lo, size = r["rpu0_dma"]
    assert lo >= 0x3ed40000 + r["rpmsg0_shm"][1]


def test_parts_pinned_one_by_one_in_another_order(tmp_path):
    """The buffers first, then vring1, then vring0 with a gap: the table's das follow
    the vrings, the overlay the three nodes, zephyr,ipc_shm spans them."""
    need_tool("dtc")
    out, lay = generate(tmp_path, "    trace: 4K\n",
                        "    vring: {base: [0x3ed50000, 0x3ed44000]}\n"
                        "    buffers: {base: 0x3ed40000}\n")
    r = regions(lay)
    assert r["rpmsg0_buffers"] == (0x3ed40000, 0x2000)
    assert r["rpmsg0_vring1"] == (0x3ed44000, 0x1000)
    assert r["rpmsg0_vring0"] == (0x3ed50000, 0x1000)
    assert r["rpmsg0_shm"] == (0x3ed40000, 0x11000)
    nodes, _dt = reserved(out, tmp_path)
    assert nodes["vdev0vring0@3ed50000"] == (0x3ed50000, 0x1000)
    assert nodes["vdev0buffer@3ed40000"] == (0x3ed40000, 0x2000)
    _addr, entries, _elf = table(out, lay, tmp_path)
    assert ("vdev", (0x3ed50000, 0x3ed44000)) in entries


# -- carveouts[].dt-name, in-table ---------------------------------------------------

def test_a_carveout_linux_maps_that_the_table_does_not_list(tmp_path):
    """OpenAMP's rproc_0_fw_image: memory@3ed00000 beside TCM firmware. On the KV260 that
    range is the base devicetree's own rproc_0_fw_image (issue 9): the overlay lists it
    in memory-region by its label and adds no node for it."""
    need_tool("dtc")
    out, lay = generate(tmp_path, "    trace: 4K\n    carveouts:\n"
                        "      - {name: fw_image, base: 0x3ed00000, size: 256K, "
                        "dt-name: memory, in-table: false}\n"
                        "      - {name: dma, base: 0x3ef40000, size: 64K}\n")
    r = next(x for x in lay["regions"] if x["name"] == "rpu0_fw_image")
    assert (r["base"], r["size"], r["dt_name"]) == (0x3ed00000, 0x40000, "memory")
    nodes, dt = reserved(out, tmp_path)
    assert "memory@3ed00000" not in nodes and nodes["dma@3ef40000"] == (0x3ef40000, 0x10000)
    assert memory_region(dt)[:2] == ["rproc_0_fw_image", "dma@3ef40000"]
    _addr, entries, _elf = table(out, lay, tmp_path)
    assert [e[1] for e in entries if e[0] == "carveout"] == ["dma"]
    assert [e["type"] for e in lay["resource_tables"]["rpu0"]["entries"]] == \
        ["carveout", "vdev", "trace"]


# -- trace: {size, name} -------------------------------------------------------------

def test_a_trace_entry_with_its_own_name(tmp_path):
    out, lay = generate(tmp_path, "    trace: {size: 8K, name: rpu0 log.1}\n")
    _addr, entries, _elf = table(out, lay, tmp_path)
    trace = next(r for r in lay["regions"] if r["name"] == "rpu0_trace")
    assert ("trace", "rpu0 log.1", trace["views"]["rpu0"], 0x2000) in entries
    t = lay["resource_tables"]["rpu0"]["entries"][-1]
    assert (t["type"], t["name"], t["len"]) == ("trace", "rpu0 log.1", 0x2000)


def test_a_trace_map_named_zephyr_log_is_the_plain_size(tmp_path):
    plain, _ = generate(tmp_path / "a", "    trace: 4K\n")
    named, _ = generate(tmp_path / "b", "    trace: {size: 4K, name: Zephyr_log}\n")
    for f in ("rpu0/resource_table.c", "rpu0/amp.overlay", "linux/amp.dtso"):
        assert (plain / f).read_text() == (named / f).read_text(), f


# -- firmware: {table: ADDR} ---------------------------------------------------------

@pytest.mark.parametrize("fw, addr, sram", [
    ("{memory: ddr, base: 0x3ed00000, size: 256K, table: 0x3ed20000}", 0x3ed20000,
     (0x3ed00000, 0x1f000)),
    ("{table: 0x2e000}", 0x2e000, (0x0, 0x10000)),
], ids=["ddr", "tcm"])
def test_a_fixed_table_address(tmp_path, fw, addr, sram):
    out, lay = generate(tmp_path, f"    firmware: {fw}\n    trace: 4K\n")
    rt = lay["domains"]["rpu0"]["resource_table"]
    assert rt["address"] == addr
    s = lay["domains"]["rpu0"]["sram"]
    assert (s["address"], s["size"]) == sram
    trace = next(r for r in lay["regions"] if r["name"] == "rpu0_trace")
    assert trace["views"].get("rpu0", trace["base"]) == addr - 0x1000
    sec_addr, entries, _elf = table(out, lay, tmp_path)
    assert sec_addr == addr
    assert ("trace", "Zephyr_log", addr - 0x1000, 0x1000) in entries


def test_amp_import_pins_a_table_linked_elsewhere(tmp_path):
    """A firmware whose table is not at the top of its memory imports as
    firmware: {table: ADDR}, and amp-config reproduces it."""
    for t in ("cpp", "dtc", "fdtoverlay"):
        need_tool(t)
    from conftest import ZEPHYR_DTS
    need(ZEPHYR_DTS.is_dir(), f"Zephyr devicetree fixtures not found at {ZEPHYR_DTS}")
    out, lay = generate(tmp_path, "    firmware: {memory: ddr, base: 0x3ed00000, size: 256K, "
                        "table: 0x3ed20000}\n    trace: 4K\n")
    _a, _e, elf = table(out, lay, tmp_path)
    yaml_out = tmp_path / "imported.yaml"
    r = subprocess.run([sys.executable, str(IMPORT), str(out / "linux" / "amp.dtso"),
                        str(out / "rpu0" / "amp.overlay"), str(elf), "--board", "kv260",
                        "--zephyr-dts", str(ZEPHYR_DTS), "-o", str(yaml_out), "--name", "ext"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "      table: 0x3ed20000    # " in yaml_out.read_text()
    again = config.configure(yaml_out).layout.to_json()
    assert sorted(json.dumps(x, sort_keys=True) for x in again["regions"]) == \
        sorted(json.dumps(x, sort_keys=True) for x in lay["regions"])
    assert again["resource_tables"] == lay["resource_tables"]


def test_every_extension_at_once_round_trips_through_amp_import(tmp_path):
    """TCM firmware with its table at a fixed address, a named trace, a DDR carveout
    Linux maps without a table entry, a link pinned part by part with its buffers
    first and a reserve: amp-config -> amp-import -> amp-config gives the same
    regions and tables."""
    for t in ("cpp", "dtc", "fdtoverlay"):
        need_tool(t)
    from conftest import ZEPHYR_DTS
    need(ZEPHYR_DTS.is_dir(), f"Zephyr devicetree fixtures not found at {ZEPHYR_DTS}")
    out, lay = generate(tmp_path, "    firmware: {table: 0x2e000}\n"
                        "    trace: {size: 4K, name: rpu0_log}\n    carveouts:\n"
                        "      - {name: fw_image, base: 0x3ed00000, size: 256K, "
                        "dt-name: memory, in-table: false}\n",
                        "    vring: {base: [0x3ed50000, 0x3ed44000]}\n"
                        "    buffers: {base: 0x3ed40000, reserve: 16K}\n")
    _a, _e, elf = table(out, lay, tmp_path)
    yaml_out = tmp_path / "imported.yaml"
    r = subprocess.run([sys.executable, str(IMPORT), str(out / "linux" / "amp.dtso"),
                        str(out / "rpu0" / "amp.overlay"), str(elf), "--board", "kv260",
                        "--zephyr-dts", str(ZEPHYR_DTS), "-o", str(yaml_out), "--name", "ext"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARNING" not in r.stderr, r.stderr
    text = yaml_out.read_text()
    assert "dt-name: memory, in-table: false}" in text
    assert 'trace: {size: 4K, name: "rpu0_log"}' in text
    assert "base: [0x3ed50000, 0x3ed44000]" in text
    again = config.configure(yaml_out).layout.to_json()
    # the carveout is the base devicetree's rproc_0_fw_image (issue 9): the overlay names
    # it only by that label, so the imported carveout carries the label as its name
    for x in again["regions"]:
        if x["name"] == "rpu0_rproc_0_fw_image":
            x["name"] = "rpu0_fw_image"
    assert sorted(json.dumps(x, sort_keys=True) for x in again["regions"]) == \
        sorted(json.dumps(x, sort_keys=True) for x in lay["regions"])
    assert again["resource_tables"] == lay["resource_tables"]


# -- bad inputs ------------------------------------------------------------------------

# (file, line, column, message after "file:line:column: ")
CASES = [
    ('buffers_reserve_too_small.yaml', 17, 24,
     'links[0].buffers.reserve: 0x1000 bytes is less than the 0x2000 needed for 16 buffers of 512 bytes; use at least 0x2000, or remove reserve'),
    ('carveout_dt_name_pattern.yaml', 13, 42,
     "domains[1].carveouts[0].dt-name: 'Pool@1' is not a reserved-memory node name amp-config writes: 1 to 31 lowercase letters, digits, '_' and '-', starting with a letter (the unit address @<base> is added); e.g. memory"),
    ('carveout_dt_name_vring.yaml', 13, 42,
     "domains[1].carveouts[0].dt-name: 'vdev0buffer' is a name Linux remoteproc gives vrings and rpmsg buffers (vdevNvringM, vdevNbuffer); give the node another name"),
    ('carveout_in_table_not_bool.yaml', 13, 43,
     "domains[1].carveouts[0].in-table: expected true or false, got 'maybe'"),
    ('ivshmem_vring_reserve.yaml', 16, 22,
     "links[0].vring.reserve: 'reserve' applies to the vring of an rpmsg link only; an ivshmem link places its vring itself; remove it"),
    ('link_base_outside_memory.yaml', 17, 11,
     'links[0].base: link rpmsg0 [0x7fffe000, 0x80002000) is outside ddr_low [0x0, 0x80000000); give a base between 0x0 and 0x7fffc000'),
    ('link_base_unaligned.yaml', 17, 11,
     'links[0].base: 0x3ed40800 is not aligned to the 0x1000-byte page; use 0x3ed41000'),
    ('link_base_with_shm.yaml', 20, 5,
     'links[0].base: the link is in shared memory ipc, whose base places it; remove base, or remove shm to pin the link itself'),
    ('part_bases_half.yaml', 17, 13,
     'links[0].vring.base: the parts of a link are pinned all or none: vring: {base: [A, B]} with buffers: {base: C}; give both, or one link base: instead'),
    ('part_bases_overlap.yaml', 17, 32,
     'links[0].vring.base[1]: [0x3ed40000, 0x3ed41000) overlaps another part of rpmsg0 [0x3ed40000, 0x3ed41000); start it at 0x3ed41000 or later'),
    ('part_bases_three.yaml', 17, 19,
     'links[0].vring.base: 3 vring bases; an rpmsg vdev has two vrings; give [vring0 base, vring1 base]'),
    ('table_leaves_no_sram.yaml', 12, 65,
     'domains[1].firmware.table: the resource table at 0x3ed00000 leaves no zephyr,sram below it (the firmware memory starts at 0x3ed00000); give a higher address, or remove table'),
    ('table_outside_top_bank.yaml', 12, 23,
     'domains[1].firmware.table: the resource table at 0x1000 (0x80 bytes) is not inside rpu0_btcm [0x20000, 0x30000); give an address between 0x20000 and 0x2ff80, or remove table'),
    ('table_unaligned.yaml', 12, 23,
     "domains[1].firmware.table: 0x2e004 is not 8-byte aligned (the table's entries are 32- and 64-bit words); use 0x2e000 or 0x2e008"),
    ('trace_map_no_size.yaml', 12, 12,
     'domains[1].trace: trace: {...} needs a size; add size: 4K'),
    ('trace_map_unknown_key.yaml', 12, 23,
     "domains[1].trace.nmae: unknown key 'nmae' in trace; did you mean 'name'?"),
    ('trace_name_quote.yaml', 12, 29,
     'domains[1].trace.name: \'rpu0"log\' is not a resource-table entry name (1 to 31 printable ASCII characters, no quote or backslash: the entry\'s name is char[32]); use e.g. Zephyr_log'),
    ('trace_name_too_long.yaml', 12, 29,
     "domains[1].trace.name: 'a_trace_name_of_thirty_two_chars' is not a resource-table entry name (1 to 31 printable ASCII characters, no quote or backslash: the entry's name is char[32]); use e.g. Zephyr_log"),
    ('vring_reserve_not_pages.yaml', 17, 22,
     'links[0].vring.reserve: 0x4800 is not a whole number of 0x1000-byte pages (Linux remoteproc maps whole pages); use 0x5000'),
    ('vring_reserve_too_small.yaml', 17, 32,
     'links[0].vring.reserve: 0x1000 bytes is less than the 0x2000 needed for a 256-entry vring with align 16 (PAGE_ALIGN(vring_size)); use at least 0x2000, or remove reserve'),
]


def test_every_file_has_a_case():
    assert sorted(p.name for p in INVALID.glob("*.yaml")) == sorted(c[0] for c in CASES)


@pytest.mark.parametrize("name, line, column, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, line, column, message, tmp_path):
    path = INVALID / name
    assert path.read_text().startswith("# Invalid: ")
    out = tmp_path / "out"
    with pytest.raises(AmpError) as e:
        config.generate(path, out)
    assert str(e.value) == f"{path}:{line}:{column}: {message}"
    assert (e.value.line, e.value.column) == (line, column)
    assert e.value.exit_code == 1
    assert not out.exists() or not any(out.iterdir()), "nothing is written"

"""The generated resource table compiles, links where the layout says, and has the right bytes.

For every system and every Zephyr domain with a table, once per session:
- resource_table.c compiles with arm-none-eabi-gcc -mcpu=cortex-r5 and with
  aarch64-linux-gnu-gcc (-Wall -Werror -c; no OpenAMP headers here, so the
  generated header's own struct definitions are used);
- it is linked, with the compiler of the domain's core, into a small ELF by a
  linker script of our own that INCLUDEs the generated amp_memory.ld (MEMORY)
  and, inside SECTIONS, the generated amp_sections.ld.
Then the tests check that .resource_table sits at layout.json's address inside
a PT_LOAD segment whose load address equals its run address (pyelftools, and
readelf -lSW independently), and parse the section bytes with struct, per
../shared/docs/formats.md section 2, without any help from the generator.
"""

import re
import shutil
import struct
import subprocess

import pytest

from conftest import need, need_tool
from helpers import (  # noqa: F401
    ALL_SYSTEMS,
    TABLE_LINK_LD,
    generated,
    layout_json,
    system_id,
    zephyr_domains,
)

ELFFile = pytest.importorskip("elftools.elf.elffile").ELFFile

# (compiler, flags for -c, flags for the link) per core architecture
COMPILERS = {
    "arm": ("arm-none-eabi-gcc", ["-mcpu=cortex-r5", "-marm"], []),
    "aarch64": ("aarch64-linux-gnu-gcc", ["-mcpu=cortex-a53", "-mgeneral-regs-only",
                                          "-fno-pic"], ["-static", "-no-pie"]),
}
CFLAGS = ["-Wall", "-Werror", "-O1", "-ffreestanding", "-fno-asynchronous-unwind-tables"]

START_C = """\
/* A minimal image around the generated resource table (tests only). */
#include "resource_table.h"
#include "amp_layout.h"

volatile int amp_table_length;

void _start(void)
{
	void *table;
	int length;

	rsc_table_get(&table, &length);
	amp_table_length = length + (int)AMP_PAGE_SIZE;
	for (;;) {
	}
}
"""



def _cc(arch):
    name, cflags, ldflags = COMPILERS[arch]
    return need_tool(name), cflags, ldflags


def _run(cmd, cwd):
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))}\n{res.stdout}\n{res.stderr}"
    return res


class Build:
    def __init__(self, system, domain, layout, gen_dir, work):
        self.system, self.domain, self.layout = system, domain, layout
        self.gen_dir, self.work = gen_dir, work
        self.elf = work / "fw.elf"
        self.objects = {}          # arch -> object file of resource_table.c


@pytest.fixture(scope="session")
def builds(generated, tmp_path_factory):  # noqa: F811
    """{(system id, domain): Build}, every table compiled and linked once."""
    for tool in ("arm-none-eabi-gcc", "aarch64-linux-gnu-gcc"):
        need(shutil.which(tool), f"{tool} is not installed (see .ci/run)")
    root = tmp_path_factory.mktemp("rsc")
    out = {}
    for system in ALL_SYSTEMS:
        gen = generated(system)
        layout = layout_json(gen)
        for name in zephyr_domains(layout):
            if not layout["domains"][name]["resource_table"]:
                continue
            work = root / system_id(system).replace(":", "_") / name
            work.mkdir(parents=True)
            b = Build(system, name, layout, gen / name, work)
            for arch in COMPILERS:
                cc, cflags, _ = _cc(arch)
                obj = work / f"resource_table.{arch}.o"
                _run([cc, *cflags, *CFLAGS, "-I", b.gen_dir, "-c",
                      b.gen_dir / "resource_table.c", "-o", obj], work)
                b.objects[arch] = obj
            arch = layout["domains"][name]["arch"]
            cc, cflags, ldflags = _cc(arch)
            (work / "start.c").write_text(START_C)
            first = layout["domains"][name]["load_regions"][0]
            (work / "link.ld").write_text(TABLE_LINK_LD.format(region=first))
            _run([cc, *cflags, *CFLAGS, "-I", b.gen_dir, "-c", "start.c", "-o", "start.o"],
                 work)
            _run([cc, *cflags, *ldflags, "-nostdlib", "-Wl,--build-id=none",
                  "-Wl,--no-warn-rwx-segments", f"-Wl,-L,{b.gen_dir}", "-T", "link.ld",
                  "start.o", b.objects[arch], "-o", b.elf], work)
            out[(system_id(system), name)] = b
    return out


def _cases():
    return [(s, d) for s in ALL_SYSTEMS for d in _domains_with_table(s)]


def _domains_with_table(system):
    from helpers import TEST_BOARDS
    from zephyr_amp import config
    try:
        layout = config.layout_for(system, [TEST_BOARDS])
    except Exception:       # noqa: BLE001 - reported by the test that generates it
        return ["(layout failed)"]
    return [n for n in zephyr_domains(layout) if layout["domains"][n]["resource_table"]]


CASES = _cases()
IDS = [f"{system_id(s)}/{d}" for s, d in CASES]


def _build(builds, system, domain):
    key = (system_id(system), domain)
    assert key in builds, f"no build for {key}"
    return builds[key]


# -- the table as formats.md section 2 describes it, parsed here from scratch ---

RSC_CARVEOUT, RSC_DEVMEM, RSC_TRACE, RSC_VDEV = 0, 1, 2, 3


def parse_table(data):
    """Bytes of .resource_table -> dict; every struct offset from formats.md 2.1."""
    ver, num, r0, r1 = struct.unpack_from("<4I", data, 0)
    offsets = list(struct.unpack_from(f"<{num}I", data, 16))
    entries = []
    for off in offsets:
        rtype, = struct.unpack_from("<I", data, off)
        if rtype == RSC_CARVEOUT:
            _, da, pa, length, flags, reserved = struct.unpack_from("<6I", data, off)
            name = data[off + 24:off + 56].split(b"\0")[0].decode()
            entries.append({"type": "carveout", "offset": off, "da": da, "pa": pa,
                            "len": length, "flags": flags, "reserved": reserved, "name": name})
        elif rtype == RSC_TRACE:
            _, da, length, reserved = struct.unpack_from("<4I", data, off)
            name = data[off + 16:off + 48].split(b"\0")[0].decode()
            entries.append({"type": "trace", "offset": off, "da": da, "len": length,
                            "reserved": reserved, "name": name})
        elif rtype == RSC_VDEV:
            (_, vid, notifyid, dfeatures, gfeatures, config_len, status, nvr,
             res0, res1) = struct.unpack_from("<6I4B", data, off)
            vrings = []
            for j in range(nvr):
                da, align, vnum, vnotify, vres = struct.unpack_from("<5I", data,
                                                                     off + 28 + 20 * j)
                vrings.append({"da": da, "align": align, "num": vnum, "notifyid": vnotify,
                               "reserved": vres})
            entries.append({"type": "vdev", "offset": off, "id": vid, "notifyid": notifyid,
                            "dfeatures": dfeatures, "gfeatures": gfeatures,
                            "config_len": config_len, "status": status,
                            "num_of_vrings": nvr, "reserved": [res0, res1],
                            "vrings": vrings, "end": off + 28 + 20 * nvr + config_len})
        else:
            entries.append({"type": rtype, "offset": off})
    return {"ver": ver, "num": num, "reserved": [r0, r1], "offsets": offsets,
            "entries": entries}


def _section(elf_path):
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        sec = elf.get_section_by_name(".resource_table")
        assert sec is not None, "no .resource_table section"
        segs = [(s["p_type"], s["p_vaddr"], s["p_paddr"], s["p_filesz"], s["p_memsz"])
                for s in elf.iter_segments()]
        return sec["sh_addr"], sec["sh_size"], sec["sh_addralign"], sec.data(), segs


# -- tests --------------------------------------------------------------------

@pytest.mark.parametrize("system,domain", CASES, ids=IDS)
def test_table_sits_at_the_layout_address_in_a_load_segment(builds, system, domain):
    b = _build(builds, system, domain)
    table = b.layout["resource_tables"][domain]
    addr, size, align, data, segs = _section(b.elf)
    assert addr == table["address"] == b.layout["domains"][domain]["resource_table"]["address"]
    assert size == table["size"] == len(data)
    assert addr % 8 == 0 and align >= 8
    loads = [s for s in segs if s[0] == "PT_LOAD" and s[1] <= addr and
             addr + size <= s[1] + s[3]]
    assert len(loads) == 1, f"{addr:#x}+{size:#x} not in exactly one PT_LOAD: {segs}"
    _, vaddr, paddr, filesz, memsz = loads[0]
    assert vaddr == paddr, "load address differs from run address"
    # the slot the layout reserved holds it
    slot = next(r for r in b.layout["regions"] if r["name"] == table["region"])
    lo = slot["views"].get(domain, slot["base"])
    assert lo <= addr and addr + size <= lo + slot["size"]


def _readelf():
    for name in ("readelf", "arm-none-eabi-readelf", "aarch64-linux-gnu-readelf"):
        if shutil.which(name):
            return shutil.which(name)
    need(False, "readelf (binutils) is not installed")


@pytest.mark.parametrize("system,domain", CASES, ids=IDS)
def test_readelf_agrees(builds, system, domain):
    """binutils' own view: .resource_table's address, and a LOAD segment that maps it."""
    b = _build(builds, system, domain)
    text = subprocess.run([_readelf(), "-lSW", str(b.elf)], capture_output=True, text=True,
                          check=True).stdout
    m = re.search(r"\]\s+\.resource_table\s+PROGBITS\s+([0-9a-f]+)\s+([0-9a-f]+)\s+"
                  r"([0-9a-f]+)\s+\S*\s+(\S+)", text)
    assert m, text
    addr, size, flags = int(m.group(1), 16), int(m.group(3), 16), m.group(4)
    table = b.layout["resource_tables"][domain]
    assert (addr, size) == (table["address"], table["size"])
    assert "A" in flags, "not SHF_ALLOC"
    # program headers in order: Type Offset VirtAddr PhysAddr FileSiz MemSiz ...
    phdrs = [ln.split() for ln in text.split("Program Headers:")[1].splitlines()
             if re.match(r"\s+[A-Z_]+\s+0x", ln)]
    holding = [i for i, ph in enumerate(phdrs)
               if int(ph[2], 16) <= addr and addr + size <= int(ph[2], 16) + int(ph[4], 16)]
    assert len(holding) == 1, text
    ph = phdrs[holding[0]]
    assert ph[0] == "LOAD" and ph[2] == ph[3], f"not a LOAD with VirtAddr == PhysAddr: {ph}"
    mapping = text.split("Section to Segment mapping:")[1].splitlines()[2:]
    rows = {int(r.split()[0]): r.split()[1:] for r in mapping if r.strip()}
    assert ".resource_table" in rows[holding[0]], rows


@pytest.mark.parametrize("system,domain", CASES, ids=IDS)
def test_table_bytes_match_formats_and_layout(builds, system, domain):
    b = _build(builds, system, domain)
    want = b.layout["resource_tables"][domain]
    _, size, _, data, _ = _section(b.elf)
    t = parse_table(data)
    assert t["ver"] == 1
    assert t["reserved"] == [0, 0]
    assert t["num"] == want["num"] == len(want["entries"])
    assert 16 + 4 * t["num"] <= size
    assert t["offsets"] == [e["offset"] for e in want["entries"]]
    assert all(off % 4 == 0 and off < size for off in t["offsets"])
    links = {lk["name"]: lk for lk in b.layout["links"]}
    trace = [r for r in b.layout["regions"] if r["kind"] == "trace" and r["owner"] == domain]
    seen_notify = []
    for got, exp in zip(t["entries"], want["entries"], strict=True):
        assert got["type"] == exp["type"], (got, exp)
        if got["type"] == "vdev":
            assert got["id"] == 7                       # VIRTIO_ID_RPMSG
            assert (got["notifyid"], got["dfeatures"]) == (exp["notifyid"], exp["dfeatures"])
            assert (got["gfeatures"], got["config_len"], got["status"]) == (0, 0, 0)
            assert got["reserved"] == [0, 0]
            assert got["num_of_vrings"] == 2
            assert got["end"] <= size
            vdev = next(lk["vdev"] for lk in links.values() if lk.get("remote") == domain
                        and lk.get("vdev") and lk["vdev"]["notifyid"] == got["notifyid"])
            for gv, lv in zip(got["vrings"], vdev["vrings"], strict=True):
                assert (gv["da"], gv["align"], gv["num"], gv["notifyid"], gv["reserved"]) == \
                    (lv["da"], lv["align"], lv["num"], lv["notifyid"], 0)
                assert gv["num"] & (gv["num"] - 1) == 0
                seen_notify.append(gv["notifyid"])
            seen_notify.append(got["notifyid"])
        elif got["type"] == "trace":
            t_reg = trace[0]
            assert (got["da"], got["len"], got["reserved"]) == \
                (t_reg["views"].get(domain, t_reg["base"]), t_reg["size"], 0)
            assert (got["da"], got["len"], got["name"]) == (exp["da"], exp["len"], exp["name"])
            assert got["len"] > 0
        elif got["type"] == "carveout":
            reg = next(r for r in b.layout["regions"] if r["kind"] == "carveout" and
                       r["owner"] == domain and r["dt_name"] == got["name"])
            assert (got["da"], got["pa"], got["len"], got["flags"], got["reserved"]) == \
                (reg["views"].get(domain, reg["base"]), reg["base"], reg["size"], 0, 0)
            assert got["name"] == exp["name"]
        else:
            pytest.fail(f"unexpected resource type {got['type']}")
    assert len(seen_notify) == len(set(seen_notify)), f"notify IDs repeat: {seen_notify}"


def test_tables_cover_every_entry_type(builds):
    """The cases above include a vdev, a trace and a carveout entry at least once."""
    kinds = set()
    for b in builds.values():
        kinds.update(e["type"] for e in b.layout["resource_tables"][b.domain]["entries"])
    assert {"vdev", "trace", "carveout"} <= kinds


def test_a_shifted_table_is_caught(builds, tmp_path):
    """The placement check can fail: link the same objects with the table 8 bytes off."""
    b = next(iter(builds.values()))
    arch = b.layout["domains"][b.domain]["arch"]
    cc, cflags, ldflags = _cc(arch)
    sections = (b.gen_dir / "amp_sections.ld").read_text()
    addr = b.layout["resource_tables"][b.domain]["address"]
    moved = re.sub(r"^\.resource_table 0x[0-9a-f]+ : AT\(0x[0-9a-f]+\)",
                   f".resource_table {addr + 8:#x} : AT({addr + 8:#x})", sections, flags=re.M)
    assert moved != sections
    (tmp_path / "amp_sections.ld").write_text(moved)
    shutil.copy(b.gen_dir / "amp_memory.ld", tmp_path)
    shutil.copy(b.work / "link.ld", tmp_path)
    res = subprocess.run([cc, *cflags, *ldflags, "-nostdlib", "-Wl,--no-warn-rwx-segments",
                          f"-Wl,-L,{tmp_path}", "-T", "link.ld", str(b.work / "start.o"),
                          str(b.objects[arch]), "-o", str(tmp_path / "bad.elf")],
                         cwd=tmp_path, capture_output=True, text=True)
    # the generated ASSERT stops the link: the fragment guards its own address
    assert res.returncode != 0
    assert "amp: .resource_table is not at the address the layout reserved" in res.stderr


def test_parser_reads_a_table_built_by_hand():
    """parse_table() itself, on bytes packed here from formats.md's field lists."""
    vdev = struct.pack("<6I4B", RSC_VDEV, 7, 2, 1, 0, 0, 0, 2, 0, 0)
    vdev += struct.pack("<5I", 0x3ed00000, 16, 8, 0, 0) + struct.pack("<5I", 0x3ed01000, 16, 8,
                                                                        1, 0)
    trace = struct.pack("<4I", RSC_TRACE, 0x3e000, 0x1000, 0) + b"Zephyr_log".ljust(32, b"\0")
    head = struct.pack("<4I", 1, 2, 0, 0) + struct.pack("<2I", 24, 24 + len(vdev))
    data = head + vdev + trace
    assert len(data) == 140                      # formats.md 2.6.1: 140 B with trace
    t = parse_table(data)
    assert t["entries"][0]["vrings"][1]["da"] == 0x3ed01000
    assert t["entries"][1] == {"type": "trace", "offset": 92, "da": 0x3e000, "len": 0x1000,
                               "reserved": 0, "name": "Zephyr_log"}

"""Unit tests of the layout engine: sizes from formats.md, alignment, placement, determinism."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO, SYSTEMS
from helpers import ALL_SYSTEMS, TEST_BOARDS, system_id
from zephyr_amp import layout, model
from zephyr_amp.errors import LayoutError
from zephyr_amp.links import rpmsg

PAGE = 0x1000


# -- sizes: the table of ../shared/docs/formats.md section 3 ------------------------

VRING_TABLE = [     # num, align, vring_size, Linux allocation (4 KiB pages) or None
    (512, 0x1000, 16390, 0x5000),
    (256, 0x1000, 10246, 0x3000),
    (256, 16, 6678, 0x2000),
    (64, 0x1000, 4614, 0x2000),
    (16, 16, 438, 0x1000),
    (16, 4, 430, None),
    (8, 16, 230, 0x1000),
]


@pytest.mark.parametrize("num,align,size,alloc", VRING_TABLE)
def test_vring_size_matches_formats_table(num, align, size, alloc):
    assert layout.vring_size(num, align) == size
    # the closed form given beside the definition
    assert size == layout.align_up(18 * num + 6, align) + 8 * num + 6
    if alloc is not None:
        assert layout.align_up(size, PAGE) == alloc


def _system(tmp_path, text, name="s.yaml", board_roots=()):
    f = tmp_path / name
    f.write_text(textwrap.dedent(text))
    return model.load_system(f, board_roots)


LINK_SYSTEM = """\
    name: l
    board: kv260
    domains:
      - {name: linux, os: linux, cores: [a53_0]}
      - {name: r, os: zephyr, cores: [r5_0]}
    links:
      - {name: k, type: rpmsg, host: linux, remote: r, vring: {num: %d, align: %d}}
    """


@pytest.mark.parametrize("num,align,size,alloc", [row for row in VRING_TABLE if row[3]])
def test_layout_allocates_the_linux_page_rounded_vrings(tmp_path, num, align, size, alloc):
    lay = layout.place(_system(tmp_path, LINK_SYSTEM % (num, align)))
    vdev = lay.links[0].vdev
    for v in vdev.vrings:
        assert (v.size, v.region.size, v.num, v.align) == (size, alloc, num, align)
        assert v.da == v.region.base and v.da % PAGE == 0 and v.da % align == 0
    # buffers: Linux's virtio_rpmsg_bus takes min(2 num, 512) x 512 bytes
    count = min(2 * num, 512)
    assert (vdev.buffer_count, vdev.buffer_size) == (count, 512)
    assert vdev.buffers.size == layout.align_up(count * 512, PAGE)
    assert vdev.buffers.base == vdev.vrings[1].region.end
    assert lay.links[0].shm.size == 2 * alloc + vdev.buffers.size


@pytest.mark.parametrize("num,count,pool", [(8, 16, 0x2000), (16, 32, 0x4000),
                                            (128, 256, 0x20000), (256, 512, 0x40000),
                                            (512, 512, 0x40000), (1024, 512, 0x40000)])
def test_rpmsg_buffer_pool(num, count, pool):
    assert rpmsg.buffer_count(num) == count
    assert count * 512 == pool       # formats.md 4: 256-entry vrings need 0x40000


def test_rpmsg_pool_as_configured_for_a_zephyr_host(tmp_path):
    lay = layout.place(_system(tmp_path, """\
        name: z
        board: kv260
        domains:
          - {name: a, os: zephyr, cores: [r5_0], mode: split}
          - {name: b, os: zephyr, cores: [r5_1], mode: split}
        links:
          - {name: l, type: rpmsg, host: a, remote: b, buffers: {count: 10, size: 256}}
        """))
    v = lay.links[0].vdev
    assert (v.buffer_count, v.buffer_size, v.buffers.size) == (10, 256, PAGE)


@pytest.mark.parametrize("carveouts,vdevs,trace,size", [
    (0, 1, False, 88),      # formats.md 2.6.1: Zephyr's table without trace
    (0, 1, True, 140),      # ... and with it
    (0, 0, False, 16),
    (1, 0, False, 16 + 4 + 56),
    (2, 2, True, 16 + 4 * 5 + 2 * 56 + 2 * 68 + 48),
])
def test_rsc_table_size(carveouts, vdevs, trace, size):
    assert layout.rsc_table_size(carveouts, vdevs, 2, 4096 if trace else 0) == size


# -- the bundled systems ---------------------------------------------------------------

def _place(path):
    return layout.place(model.load_system(path, [TEST_BOARDS]))


def test_kv260_rpmsg_layout():
    lay = _place(REPO / "systems" / "kv260-rpmsg.yaml")
    r = {x.name: x for x in lay.regions}
    # lock-step TCM: 4 banks, global alias and R5-local view
    assert [(r[n].base, r[n].view("rpu0"), r[n].size) for n in
            ("rpu0_atcm0", "rpu0_atcm1", "rpu0_btcm0", "rpu0_btcm1")] == [
        (0xffe00000, 0x0, 0x10000), (0xffe10000, 0x10000, 0x10000),
        (0xffe20000, 0x20000, 0x10000), (0xffe30000, 0x30000, 0x10000)]
    # trace and table at the top of the TCM, 4 KiB slot
    assert (r["rpu0_trace"].view("rpu0"), r["rpu0_trace"].size) == (0x3e000, 0x1000)
    assert r["rpu0_rsc_table"].view("rpu0") == 0x3f000
    dl = lay.domains["rpu0"]
    assert dl.sram == (0x0, 0x3e000)
    assert (dl.rsc_table.address, dl.rsc_table.size) == (0x3f000, 140)
    # the link: vrings then buffers, from the board's allocation start (0x3ed00000)
    # past what Linux's zynqmp.dtsi reserves there (rproc_0_fw_image, 256 KiB; issue 9)
    v = lay.links[0].vdev
    assert [x.da for x in v.vrings] == [0x3ed40000, 0x3ed41000]
    assert (v.buffers.base, v.buffers.size, v.buffer_count) == (0x3ed42000, 0x2000, 16)
    assert ([x.notifyid for x in v.vrings], v.notifyid) == ([0, 1], 2)
    t = dl.rsc_table
    assert [(e.type, e.offset) for e in t.entries] == [("vdev", 24), ("trace", 92)]


def test_kv260_split_layout():
    lay = _place(REPO / "systems" / "kv260-split-rpmsg.yaml")
    r = {x.name: x for x in lay.regions}
    assert (r["ipc"].base, r["ipc"].size) == (0x3ed40000, 2 * 0x6000)
    a, b = (lk.vdev for lk in lay.links)
    assert a.vrings[0].da == 0x3ed40000 and b.vrings[0].da == 0x3ed46000
    assert r["rpmsg_rpu0_shm"].parent == r["rpmsg_rpu1_shm"].parent == "ipc"
    # each remote sees its own TCM at the same local addresses
    for d, base in (("rpu0", 0xffe20000), ("rpu1", 0xffeb0000)):
        btcm = r[f"{d}_btcm"]
        assert (btcm.base, btcm.view(d)) == (base, 0x20000)
        dl = lay.domains[d]
        assert dl.sram == (0x0, 0x10000)
        assert dl.extra_ram == [(f"{d}_btcm", 0x20000, 0xf000)]
        assert dl.rsc_table.address == 0x2f800


@pytest.mark.parametrize("system", ALL_SYSTEMS, ids=system_id)
def test_invariants(system):
    lay = _place(system)
    by_name = {r.name: r for r in lay.regions}
    page = lay.page_size
    board = lay.system.board
    rpmsg = {lk.link.name for lk in lay.links if lk.link.type == "rpmsg"}

    def ancestors(reg):
        out = set()
        while reg.parent:
            out.add(reg.parent)
            reg = by_name[reg.parent]
        return out

    for reg in lay.regions:
        assert reg.size > 0, reg.name
        if reg.parent:          # children inside their parent
            p = by_name[reg.parent]
            assert p.base <= reg.base and reg.end <= p.end, (reg.name, p.name)
        elif reg.kind not in ("tcm", "mmio_window", "bar"):    # board RAM, not device memory
            assert any(m.base <= reg.base and reg.end <= m.end for m in board.memory), reg.name
        if reg.kind in ("pool", "shm", "firmware", "carveout") and not reg.parent:
            assert reg.base % page == 0, reg.name
        if reg.kind in ("vring", "buffer") and reg.link in rpmsg:
            # Linux remoteproc allocates whole pages
            assert reg.base % page == 0 and reg.size % page == 0, reg.name
    # no overlap but between a region and its ancestors, in each address space
    regs = sorted(lay.regions, key=lambda r: (r.space, r.base))
    for i, a in enumerate(regs):
        for b in regs[i + 1:]:
            if b.space != a.space or b.base >= a.end:
                break
            assert a.name in ancestors(b) or b.name in ancestors(a), (a.name, b.name)
    # vrings: 32-bit, aligned to their align; notify IDs unique per remote
    for lk in lay.links:
        if not lk.vdev:
            continue
        for v in lk.vdev.vrings:
            assert v.da + v.region.size <= 1 << 32
            assert v.da % v.align == 0 and v.region.size >= v.size
    for dl in lay.domains.values():
        if dl.rsc_table:
            ids = []
            for e in dl.rsc_table.entries:
                if e.type == "vdev":
                    ids += [e.fields["notifyid"]] + [v.notifyid for v in e.vdev.vrings]
            assert len(ids) == len(set(ids)) and all(i < 32 for i in ids), ids
            assert dl.rsc_table.address % 8 == 0
            assert dl.rsc_table.size <= dl.rsc_table.region.size


# -- allocation --------------------------------------------------------------------------

def test_fixed_base_is_honoured_and_allocation_goes_around_it(tmp_path):
    lay = layout.place(_system(tmp_path, """\
        name: f
        board: kv260
        domains:
          - {name: linux, os: linux, cores: [a53_0]}
          - {name: r, os: zephyr, cores: [r5_0], firmware: {memory: ddr, size: 1M}}
        shared-memory:
          - {name: p, base: 0x3ed40000}
        links:
          - {name: k, type: rpmsg, host: linux, remote: r, shm: p}
        """))
    r = {x.name: x for x in lay.regions}
    assert r["p"].base == 0x3ed40000 and r["k_vring0"].base == 0x3ed40000
    # the pool's size was computed (16 KiB) and reserved before the firmware was
    # allocated: the 1 MiB firmware does not fit below it, so it goes above
    assert r["p"].size == 0x4000
    assert r["r_fw"].base == 0x3ed50000


def test_carveouts_are_page_rounded_and_64k_aligned(tmp_path):
    lay = layout.place(_system(tmp_path, """\
        name: c
        board: kv260
        domains:
          - {name: r, os: zephyr, cores: [r5_0],
             carveouts: [{name: a, size: 100}, {name: b, size: 5K}]}
        """))
    r = {x.name: x for x in lay.regions}
    assert (r["r_a"].base, r["r_a"].size) == (0x3ed00000, 0x1000)
    assert (r["r_b"].base, r["r_b"].size) == (0x3ed10000, 0x2000)
    t = lay.domains["r"].rsc_table
    assert [(e.type, e.fields["da"], e.fields["len"]) for e in t.entries] == [
        ("carveout", 0x3ed00000, 0x1000), ("carveout", 0x3ed10000, 0x2000)]


def test_no_room_is_a_layout_error(tmp_path):
    with pytest.raises(LayoutError) as e:
        layout.place(_system(tmp_path, """\
            name: full
            board: qemu_cortex_r5
            domains:
              - {name: linux, os: linux, cores: [a53_0]}
              - {name: r, os: zephyr, cores: [r5_0], carveouts: [{name: big, size: 96M}]}
            """))
    # 128 MiB of ddr_low with Zephyr 4.4's qemu_cortex_r5, allocation from 0x3000000
    assert "no room for carveout big (0x6000000 bytes) in ddr_low" in str(e.value)
    assert e.value.key == "domains[1].carveouts[0]"


# -- determinism --------------------------------------------------------------------------

@pytest.mark.parametrize("system", SYSTEMS, ids=system_id)
def test_place_is_deterministic(system):
    a = _place(system).to_json()
    b = _place(system).to_json()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_place_does_not_depend_on_hash_seed():
    """Sets and dicts must not leak iteration order into the layout."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
            "from zephyr_amp import config; "
            "print(json.dumps([config.layout_for(p) for p in sys.argv[2:]], sort_keys=True))")
    outs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        res = subprocess.run([sys.executable, "-c", code,
                              str(REPO / "scripts" / "west_commands"),
                              *map(str, SYSTEMS)], env=env, capture_output=True, text=True,
                             check=True)
        outs.add(res.stdout)
    assert len(outs) == 1

"""zephyr_amp.elfcheck on firmware built from source with the real cross compilers.

Each broken image is a good one with ONE thing changed (a -D for the C code, a
-D for the linker script, a link flag, or bytes patched after linking) and
must produce its rule, with its message, and no other error.
"""

import copy
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from elf import firmware as fw
from elf import handwritten as hw

from conftest import REPO
from zephyr_amp.elfcheck import RULES, ElfCheckError, check_elf, vring_size
from zephyr_amp.elfread import ElfImage


@dataclass
class Case:
    """A broken variant: ``rule`` and a piece of its ``message`` expected.

    layout: None (no layout), 'own' (the target's layout), or a target name
    whose layout to check against. severity: of the expected finding; for a
    warning, the image must have no error at all.
    """

    id: str
    target: str
    rule: str
    message: str
    layout: str = 'own'
    severity: str = 'error'
    defines: dict = field(default_factory=dict)
    ld_defines: dict = field(default_factory=dict)
    ldflags: tuple = ()
    patch: object = None


def _all_loads(data, **values):
    for i, p in enumerate(fw.phdrs(data)):
        if p['p_type'] == 1:
            data = fw.set_phdr(data, i, **values)
    return data


def _set_byte(at, value):
    return lambda d: d[:at] + bytes([value]) + d[at + 1:]


CASES = [
    # A. container
    Case('bad-magic', 'r5', 'ELF-01', "not an ELF file (bad magic b'\\x7fELG')", None,
         patch=_set_byte(3, ord('G'))),
    Case('short-header', 'r5', 'ELF-02', 'file is shorter than the ELF header: 40 bytes, '
         'ELF32 needs 52', None, patch=lambda d: d[:40]),
    Case('bad-class', 'r5', 'ELF-03', 'EI_CLASS is 3', None, patch=_set_byte(4, 3)),
    Case('big-endian', 'r5', 'ELF-04', 'big-endian image', None, patch=_set_byte(5, 2)),
    Case('wrong-machine', 'r5', 'ELF-05', 'ELF is ELF32/AArch64 but core r5_0 needs ELF32/ARM',
         patch=lambda d: fw.set_ehdr(d, e_machine=183)),
    Case('wrong-class', 'a53', 'ELF-05', 'ELF is ELF64/AArch64 but core r5_0 needs ELF32/ARM',
         'r5'),
    Case('relocatable', 'r5', 'ELF-06', 'e_type is ET_REL', None,
         patch=lambda d: fw.set_ehdr(d, e_type=1)),
    Case('shared-object', 'a53', 'ELF-06', 'e_type is ET_DYN', severity='warning',
         patch=lambda d: fw.set_ehdr(d, e_type=3)),
    Case('truncated', 'r5', 'ELF-07', 'file truncated: section header table ends at', None,
         patch=lambda d: d[:-16]),
    Case('shstrndx', 'a53', 'ELF-07', 'e_shstrndx 40 is not below e_shnum', None,
         patch=lambda d: fw.set_ehdr(d, e_shstrndx=40)),
    Case('nothing-loaded', 'r5', 'ELF-08', 'no PT_LOAD segment with p_memsz > 0',
         patch=lambda d: _all_loads(d, p_type=4)),
    # B. segments
    Case('filesz-gt-memsz', 'r5', 'SEG-01', 'p_filesz 0x1010 is larger than p_memsz 0x1008',
         patch=lambda d: fw.set_phdr(d, 1, p_filesz=0x1010)),
    Case('segment-past-eof', 'r5', 'SEG-02', 'segment bytes end at file offset', None,
         patch=lambda d: fw.set_phdr(d, 1, p_offset=len(d))),
    Case('empty-segment', 'r5', 'SEG-05', 'PT_LOAD with p_memsz 0', None, severity='warning',
         patch=lambda d: fw.set_phdr(d, 1, p_filesz=0, p_memsz=0)),
    Case('segments-overlap', 'r5', 'SEG-06', 'overlaps segment 0', None,
         patch=lambda d: fw.set_phdr(d, 1, p_vaddr=0x20, p_paddr=0x20)),
    Case('outside-memory', 'r5', 'SEG-04', 'is outside every memory region of r5_0',
         ld_defines={'DATA_REGION': 'DDR'}),
    Case('on-shared-memory', 'r5', 'SEG-07', 'overlaps vdev0buffer (rpmsg0_buffers) (shared '
         'memory)',
         ld_defines={'DATA_REGION': 'SHM'}),
    Case('tcm-global-alias', 'r5', 'SEG-08', 'segment at 0xffe20000 uses the global TCM alias '
         'of rpu0_btcm0; link it at the R5-local address 0x20000',
         ld_defines={'BTCM0_ORIGIN': '0xffe20000'}),
    Case('no-reset-vector', 'r5', 'SEG-09', 'segment 0 (.vectors .text .rodata) covers the R5 '
         'LOVEC reset vector at 0x0 with no code section there (e_entry 0x100 is not used by '
         'xlnx_r5_remoteproc)', ld_defines={'VECTORS_ADDR': '0x100'}),
    Case('entry-not-lovec', 'r5', 'SEG-09', 'e_entry 0x20 is not used by xlnx_r5_remoteproc',
         severity='warning', ldflags=('-Wl,-e,reset',)),
    Case('entry-outside', 'r5', 'SEG-10', 'e_entry 0x3f800 is not inside an executable PT_LOAD',
         None, ldflags=('-Wl,-e,0x3f800',)),
    # One change: BTCM declared as the single 128 KiB bank the R5 sees in lock-step, and used.
    Case('straddles-banks', 'r5', 'SEG-11', 'straddles rpu0_btcm0 and rpu0_btcm1',
         ld_defines={'BTCM0_LENGTH': '128K', 'STACK_SIZE': '0x11000'}),
    # C. table placement
    Case('missing-table', 'r5', 'RSC-01', 'no .resource_table section; rpmsg cannot start',
         defines={'NO_RSC_TABLE': None}),
    Case('prefixed-table', 'r5', 'RSC-02', 'no section named exactly .resource_table, only '
         '.resource_table.x', None, defines={'RSC_SECTION': '".resource_table.x"'}),
    Case('table-nobits', 'r5', 'RSC-03', '.resource_table is SHT_NOBITS',
         ld_defines={'RSC_TYPE': '(NOLOAD)'}),
    Case('table-not-loaded', 'r5', 'RSC-04', '(not SHF_ALLOC) is not in any PT_LOAD',
         ld_defines={'RSC_TYPE': '(INFO)'}),
    Case('table-lma-vma', 'r5', 'RSC-05', 'but linked at 0x3e000 (VMA)',
         ld_defines={'RSC_LMA': 'AT > BTCM0'}),
    Case('table-misaligned', 'r5', 'RSC-06', 'sh_addr 0x3e004 is not 8-byte aligned', None,
         severity='warning', ld_defines={'RSC_ADDR': '0x3e004'}),
    Case('table-elsewhere', 'r5', 'RSC-07', '.resource_table is at 0x3e008, the layout puts it '
         'at 0x3e000', severity='warning', ld_defines={'RSC_ADDR': '0x3e008'}),
    # D. table header
    Case('header-short', 'r5', 'HDR-01', '.resource_table is 8 bytes, a header needs 16',
         defines={'RSC_TINY': None}),
    Case('bad-version', 'r5', 'HDR-02', 'resource table ver is 2, loaders accept 1',
         defines={'RSC_VER': 2}),
    Case('reserved-set', 'r5', 'HDR-03', 'reserved words are 0x1, 0x0; must be 0',
         defines={'RSC_RESERVED0': 1}),
    Case('num-too-large', 'r5', 'HDR-04', 'num = 64 needs 272 bytes of header, section is 200',
         defines={'RSC_NUM': 64}),
    Case('offset-past-end', 'r5', 'HDR-05', 'offset[1] = 4000 leaves no room for an entry',
         defines={'RSC_OFFSET_TRACE': 4000}),
    Case('offset-in-header', 'a53', 'HDR-05', 'offset[0] = 8 points into the header', None,
         defines={'RSC_OFFSET0': 8}),
    Case('unknown-type', 'r5', 'HDR-06', 'unknown resource type 77', severity='warning',
         defines={'CARVEOUT_TYPE': 77}),
    # E. carveout, devmem, trace
    Case('carveout-reserved', 'r5', 'ENT-01', 'reserved is 0x1, must be 0',
         defines={'CARVEOUT_RESERVED': 1}),
    Case('carveout-name', 'r5', 'ENT-02', "no region has the devicetree node name 'ddr'",
         defines={'CARVEOUT_NAME': '"ddr"'}),
    Case('devmem-zynqmp', 'r5', 'ENT-03', 'devmem entry on ZynqMP',
         defines={'CARVEOUT_TYPE': 1}),
    Case('trace-reserved', 'r5', 'TRACE-01', 'reserved is 0x1, must be 0',
         defines={'TRACE_RESERVED': 1}),
    Case('trace-len-0', 'r5', 'TRACE-02', 'trace buffer len is 0', defines={'TRACE_LEN': 0}),
    # Without a layout nobody can say whether the host maps it: a warning that says so.
    Case('trace-outside', 'r5', 'TRACE-02', 'trace buffer [0x3e100,+0x2000) is not inside a '
         'PT_LOAD segment or a carveout; whether the host can map it there (a TCM bank, a '
         'memory-region of the core) needs the layout', None, severity='warning',
         defines={'TRACE_LEN': 0x2000}),
    Case('trace-outside-layout', 'r5', 'TRACE-02', 'trace buffer [0x3e100,+0x2000) is not '
         'inside a PT_LOAD segment or a carveout or a load region of rpu0',
         defines={'TRACE_LEN': 0x2000}),
    # F. vdev
    Case('vdev-reserved', 'r5', 'VDEV-01', 'reserved bytes are not 0',
         defines={'VDEV_RESERVED': 1}),
    Case('one-vring', 'r5', 'VDEV-02', 'rpmsg needs exactly 2 vrings, num_of_vrings is 1', None,
         defines={'VDEV_NUM_VRINGS': 1}),
    Case('vdev-status', 'r5', 'VDEV-03', 'status 0x4 and gfeatures 0x0 must start at 0', None,
         severity='warning', defines={'VDEV_STATUS': 4}),
    Case('notify-duplicate', 'a53', 'VDEV-04', 'notify ID 4 is also used by rsc entry 0 (vdev) '
         'field notifyid', defines={'VRING0_NOTIFYID': 4}),
    # G. vrings
    Case('vring-num-0', 'r5', 'VRING-01', 'vring num is 0', defines={'VRING0_NUM': 0}),
    Case('vring-num-pow2', 'r5', 'VRING-02', 'vring num 6 is not a power of two',
         defines={'VRING0_NUM': 6}),
    Case('vring-align-pow2', 'r5', 'VRING-03', 'vring align 0x18 is not a power of two',
         defines={'VRING_ALIGN': 24}),
    Case('vring-too-big', 'a53', 'VRING-04', 'vdev1/vring1 needs 0x1a16 bytes (num 256, align '
         '0x10), region rpmsg1_vring1 has 0x1000', defines={'VDEV1_VRING1_NUM': 256}),
    Case('vring-misplaced', 'r5', 'VRING-05', 'vdev0/vring0 da is 0x3ed00100, the layout '
         'expects 0x3ed00000', defines={'VRING0_DA': '0x3ed00100'}),
    Case('vring-unaligned', 'r5', 'VRING-06', 'vring da 0x3ed00008 is not 16-byte aligned',
         None, defines={'VRING0_DA': '0x3ed00008'}),
    Case('vring-on-code', 'r5', 'VRING-07', 'overlaps segment 0 (.vectors .text .rodata)', None,
         defines={'VRING0_DA': '0x0'}),
    Case('vrings-overlap', 'a53', 'VRING-08', 'vdev1/vring0 [0x47004000,+0x1b6) overlaps '
         'vdev0/vring0', None, defines={'VDEV1_VRING0_DA': '0x47004000'}),
    Case('vring-asymmetric', 'a53', 'VRING-09', 'rpmsg vrings have num 16 and 8', None,
         severity='warning', defines={'VDEV1_VRING1_NUM': 8}),
    # A trace buffer, which a53.ld.in links above 4 GiB: the u32 da keeps the low half.
    Case('trace-above-4g', 'a53', 'VRING-10', 'trace da 0x100000 is the low 32 bits of '
         '0x100100000 (segment 2 (.trace)): the u32 field cannot hold the address', None,
         defines={'HAVE_TRACE': 1}),
    # The unchanged image, checked against its system with the shared memory above 4 GiB.
    Case('shm-above-4g', 'a53', 'VRING-10', 'the layout puts vdev0/vring0 at 0x147004000; its '
         'u32 da cannot hold an address at or above 4 GiB', 'a53-high'),
    # H. platform. PLAT-01: the good image with the attach metadata (XAMP), one field or
    # its place changed.
    Case('xamp-magic', 'r5', 'PLAT-01', "magic is 0x78616d71, not 0x78616d70 ('xamp'): "
         'xlnx_r5_remoteproc will not attach', None, severity='warning',
         defines={'XAMP': None, 'XAMP_MAGIC': '0x78616d71'}),
    Case('xamp-comp-magic', 'r5', 'PLAT-01', 'comp_magic is 0x78616d70, not ~magic 0x879e928f',
         severity='warning', defines={'XAMP': None, 'XAMP_COMP_MAGIC': '0x78616d70'}),
    Case('xamp-table-address', 'r5', 'PLAT-01', 'rsc_tbl is 0x3e100, .resource_table is at '
         '0x3e000', severity='warning', defines={'XAMP': None, 'XAMP_RSC_TBL': '0x3e100'}),
    Case('xamp-table-size', 'r5', 'PLAT-01', 'rsc_tbl_size is 100, .resource_table is 200 bytes',
         severity='warning', defines={'XAMP': None, 'XAMP_RSC_TBL_SIZE': 100}),
    Case('xamp-no-address', 'a53', 'PLAT-01', '.resource_table_metadata has 16 bytes; the attach '
         'metadata is 24 bytes', severity='warning', defines={'XAMP': None, 'XAMP_NO_ADDR': None}),
    Case('xamp-misplaced', 'r5', 'PLAT-01', '.resource_table_metadata is at 0x3ed10100; '
         'xlnx_r5_remoteproc reads it at the start of rpu0_ddr (0x3ed10000)', severity='warning',
         defines={'XAMP': None}, ld_defines={'META_ADDR': '0x3ed10100'}),
    # PLAT-02: no rule for .resource_table in the script, as in Zephyr's for the ZynqMP RPU
    # (r5_main.c has z_cstart); RSC-07 (a warning under Linux) says where it landed.
    Case('table-orphan', 'r5', 'PLAT-02', 'Zephyr image not linked with the generated '
         "amp_sections.ld (or with a stale one); Zephyr's ZynqMP RPU script has no rule for the "
         'table, ld places it as an orphan: build with -DAMP_CMAKE=<amp-config output>/rpu0/'
         'amp.cmake or add zephyr_linker_sources(SECTIONS <amp-config output>/rpu0/'
         'amp_sections.ld)', severity='info', ld_defines={'RSC_ORPHAN': None}),
    # Layout comparison
    Case('table-differs', 'r5', 'LAY-01', 'num is 16, the layout says 8',
         defines={'VRING_NUM': 16}),
]


def _build(case, out):
    elf = fw.build(case.target, out, case.id, case.defines, case.ld_defines, case.ldflags)
    if case.patch:
        elf = fw.patched(elf, out / f'{case.id}-patched.elf', case.patch)
    return elf


@pytest.fixture(scope='session')
def fw_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('firmware')


@pytest.fixture(scope='session')
def good(fw_dir):
    """The two good images, built once."""
    return {t: fw.build(t, fw_dir, f'{t}-good') for t in fw.TARGETS}


@pytest.fixture(scope='session')
def broken(fw_dir, good):
    """Every variant, built once, two at a time; a failed build is kept as its
    exception so that only its own test fails."""
    def one(case):
        try:
            return _build(case, fw_dir)
        except Exception as e:      # noqa: BLE001 - reported by the test that needs it
            return e
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip((c.id for c in CASES), pool.map(one, CASES)))


def _check(path, target, layout='own'):
    if layout is None:
        return check_elf(path)
    lay, domain = fw.LAYOUTS[target if layout == 'own' else layout]
    return check_elf(path, lay, domain)


@pytest.mark.parametrize('target', sorted(fw.TARGETS))
@pytest.mark.parametrize('with_layout', [False, True], ids=['no-layout', 'layout'])
def test_good_image_is_clean(good, target, with_layout):
    report = _check(good[target], target, 'own' if with_layout else None)
    assert [str(f) for f in report.findings] == []
    assert report.ok(werror=True)


@pytest.fixture(scope='session')
def xamp(fw_dir):
    """The two good images with valid Xilinx attach metadata."""
    return {t: fw.build(t, fw_dir, f'{t}-xamp', defines={'XAMP': None}) for t in fw.TARGETS}


@pytest.mark.parametrize('target', sorted(fw.TARGETS))
@pytest.mark.parametrize('with_layout', [False, True], ids=['no-layout', 'layout'])
def test_good_image_with_attach_metadata_is_clean(xamp, target, with_layout):
    with ElfImage.open(xamp[target]) as image:
        (meta,) = image.sections_named('.resource_table_metadata')
    assert meta.sh_size == {'r5': 20, 'a53': 24}[target]
    report = _check(xamp[target], target, 'own' if with_layout else None)
    assert [str(f) for f in report.findings] == []


def test_enough_broken_images():
    assert len({c.id for c in CASES}) == len(CASES) >= 25


@pytest.mark.parametrize('case', CASES, ids=[c.id for c in CASES])
def test_broken_image(broken, case):
    elf = broken[case.id]
    if isinstance(elf, Exception):
        raise elf
    report = _check(elf, case.target, case.layout)
    found = [f for f in report.findings if f.rule == case.rule]
    assert found, f'{case.rule} not reported; got: {[str(f) for f in report.findings]}'
    assert any(case.message in f.message and f.severity == case.severity for f in found), \
        [str(f) for f in found]
    others = {f.rule for f in report.errors} - {case.rule}
    assert not others, f'other errors: {[str(f) for f in report.errors]}'
    if case.severity != 'error':
        assert report.errors == []


def test_every_rule_has_a_broken_image():
    # SEG-03: test_lma_vma_table_also_warns_about_the_segment; HVL-01: test_hvl_pool_symbols
    assert set(RULES) - {c.rule for c in CASES} == {'SEG-03', 'HVL-01'}


def test_every_rule_is_documented():
    """docs/amp-validate.md has one row per rule, with the default severity first."""
    rows = {}
    for line in (REPO / 'docs' / 'amp-validate.md').read_text().splitlines():
        cells = [c.strip() for c in line.split('|')[1:-1]]
        if len(cells) == 4 and cells[0] in RULES:
            rows[cells[0]] = cells[1]
    assert set(rows) == set(RULES)
    assert {r: s.split()[0] for r, s in rows.items()} == {r: RULES[r].severity for r in RULES}


# -- specific behaviours ---------------------------------------------------

def test_findings_carry_object_range_region_and_consequence(broken):
    report = _check(broken['outside-memory'], 'r5')
    (f,) = report.errors
    assert f.obj == 'segment 3 (.data)'
    assert f.ranges == [(0x10000000, 0x10000004)]
    assert f.region == 'rpu0_atcm0, rpu0_atcm1, rpu0_btcm0, rpu0_btcm1, rpu0_ddr'
    assert f.consequence == 'fail'
    assert str(f).startswith('error   SEG-04 segment 3 (.data) [0x10000000,0x10000004) vs ')
    assert str(f).endswith('=> loader fails: Linux: "bad phdr da 0x%llx mem 0x%llx", the load '
                           'fails')


def test_lma_vma_table_also_warns_about_the_segment(broken):
    report = _check(broken['table-lma-vma'], 'r5')
    assert {f.rule for f in report.warnings} == {'SEG-03'}


def test_severity_follows_the_loader(broken):
    path = broken['notify-duplicate']
    assert [f.severity for f in check_elf(path).findings if f.rule == 'VDEV-04'] == ['warning']
    assert [f.severity for f in check_elf(path, loader='openamp').findings
            if f.rule == 'VDEV-04'] == ['error']


def test_segment_in_another_cores_tcm(good):
    """Split mode: RPU0's image with data on RPU1's BTCM (global address)."""
    lay = copy.deepcopy(fw.KV260_LAYOUT)
    lay['domains']['rpu1'] = dict(lay['domains']['rpu0'], cores=['r5_1'], load_regions=[])
    lay['regions'].append({'name': 'rpu1_btcm', 'kind': 'tcm', 'owner': 'rpu1',
                           'base': 0xFFEB0000, 'size': 0x10000, 'views': {'rpu1': 0x20000}})
    data = Path(good['r5']).read_bytes()
    p = fw.phdrs(data)[1]
    moved = fw.set_phdr(data, 1, p_paddr=0xFFEB0000 + p['p_paddr'] - 0x20000)
    path = Path(good['r5']).with_name('r5-on-rpu1.elf')
    path.write_bytes(moved)
    report = check_elf(path, lay, 'rpu0')
    assert [(f.rule, f.message) for f in report.errors] == [
        ('SEG-07', 'segment [0xffeb0000,+0x1008) overlaps rpu1_btcm (rpu1)')]


def test_shared_memory_above_4g_is_one_finding_per_field(broken):
    """Each vring and carveout field the layout puts above 4 GiB is VRING-10,
    not also VRING-05, ENT-02 or LAY-01 about the same field."""
    report = _check(broken['shm-above-4g'], 'a53', 'a53-high')
    assert [(f.rule, f.obj) for f in report.findings] == [
        ('VRING-10', f'rsc entry {i} (vdev) vring {j} field da') for i in (0, 1) for j in (0, 1)
    ] + [('VRING-10', 'rsc entry 2 (carveout) field da'),
         ('VRING-10', 'rsc entry 2 (carveout) field pa')]
    assert report.findings[4].message == ('the layout says da 0x140100000; the u32 da of a '
                                          'carveout entry cannot hold it')


def test_zephyr_placement_advice_needs_a_zephyr_image_and_a_layout(fw_dir, broken):
    """PLAT-02 speaks only about Zephyr images (a53_main.c is none until it has
    Zephyr's initlevel section) and only when a layout reserves the table."""
    moved = {'RSC_ADDR': '0x400ff008'}
    plain = _check(fw.build('a53', fw_dir, 'a53-table-moved', ld_defines=moved), 'a53')
    assert _check_rules(plain) == ['RSC-07']
    zephyr = fw.build('a53', fw_dir, 'a53-zephyr-table-moved',
                      ld_defines=dict(moved, INITLEVEL=None))
    assert [(f.rule, f.severity, f.message) for f in _check(zephyr, 'a53').findings] == [
        ('RSC-07', 'warning', ('.resource_table is at 0x400ff008, the layout puts it at '
                             '0x400ff000')),
        ('PLAT-02', 'info', ('Zephyr image not linked with the generated amp_sections.ld (or '
                             'with a stale one): build with -DAMP_CMAKE=<amp-config output>/a53/'
                             'amp.cmake or add zephyr_linker_sources(SECTIONS <amp-config '
                             'output>/a53/amp_sections.ld)'))]
    assert 'PLAT-02' not in _check_rules(_check(broken['table-orphan'], 'r5', None))


def test_hvl_pool_symbols(fw_dir):
    lay = copy.deepcopy(fw.KV260_LAYOUT)
    lay['links'].append({'name': 'hvl0', 'type': 'virtio-mmio', 'transport': 'hvl',
                         'driver': 'rpu0', 'device': 'linux', 'domains': ['rpu0', 'linux'],
                         'pool': {'base': 0x3ED41000, 'size': 0x3F000},
                         'vring_section_base': 0x3ED40000})
    good = fw.build('r5', fw_dir, 'hvl-good', ld_defines={'HVL': None, 'HVL_POOL': '0x3ed41000'})
    assert [str(f) for f in check_elf(good, lay, 'rpu0').findings] == []
    bad = fw.build('r5', fw_dir, 'hvl-bad', ld_defines={'HVL': None, 'HVL_POOL': '0x3ed42000'})
    assert [(f.rule, f.message) for f in check_elf(bad, lay, 'rpu0').findings] == [
        ('HVL-01', '__shmem0_pool_start is 0x3ed42000, the layout says 0x3ed41000')]
    plain = _check_rules(check_elf(fw.build('r5', fw_dir, 'hvl-none'), lay, 'rpu0'))
    assert plain == ['HVL-01'] * 4


def _check_rules(report):
    return [f.rule for f in report.findings]


def test_raw_reader_agrees_with_pyelftools(good):
    """Processor-specific types are names for pyelftools, numbers for the raw
    reader; everything else must be equal."""
    def same(raw, parsed, kind):
        assert len(raw) == len(parsed)
        for r, p in zip(raw, parsed):
            if not isinstance(getattr(r, kind), str):
                r = replace(r, **{kind: getattr(p, kind)})
            assert r == p

    for path in good.values():
        with ElfImage.open(path) as image:
            assert image.parser == 'pyelftools'
            same(image.raw_phdrs(), image.phdrs, 'p_type')
            same(image.raw_shdrs(), image.shdrs, 'sh_type')


def test_falls_back_to_raw_headers_when_pyelftools_gives_up(good, tmp_path):
    """A symbol table whose sh_link points at a non-string section makes
    pyelftools raise while building sections; the raw reader still finds the
    table, so the section rules run."""
    data = bytearray(Path(good['r5']).read_bytes())
    h = fw.read_ehdr(data)
    with ElfImage.open(good['r5']) as image:
        symtab = next(s for s in image.shdrs if s.name == '.symtab')
    at = h['e_shoff'] + symtab.index * h['e_shentsize'] + 24      # sh_link (ELF32)
    data[at:at + 4] = (1).to_bytes(4, 'little')
    path = tmp_path / 'bad-link.elf'
    path.write_bytes(bytes(data))
    report = _check(path, 'r5')
    assert report.parser == 'raw'
    assert report.findings == []


def test_unreadable_file_is_a_check_error(tmp_path):
    with pytest.raises(ElfCheckError, match='cannot read the ELF'):
        check_elf(tmp_path / 'missing.elf')


def test_unknown_domain_lists_the_choices(good):
    with pytest.raises(ElfCheckError, match="no domain 'rpu9' in the layout; choose --domain "
                       'from: linux, rpu0'):
        check_elf(good['r5'], fw.KV260_LAYOUT, 'rpu9')


def test_empty_file(tmp_path):
    path = tmp_path / 'empty.elf'
    path.write_bytes(b'')
    assert [(f.rule, f.message) for f in check_elf(path).findings] == [
        ('ELF-02', 'file is shorter than the ELF header (0 bytes)')]


def test_report_json_shape(broken):
    doc = _check(broken['bad-version'], 'r5').to_json()
    assert set(doc) == {'path', 'domain', 'ok', 'errors', 'warnings', 'findings'}
    assert doc['ok'] is False and doc['errors'] == 1 and doc['domain'] == 'rpu0'
    (f,) = doc['findings']
    assert f == {'rule': 'HDR-02', 'severity': 'error',
                 'message': 'resource table ver is 2, loaders accept 1',
                 'object': '.resource_table header field ver', 'ranges': [],
                 'ranges_are': 'addresses', 'region': None, 'consequence': 'ignore',
                 'effect': ('Linux: "unsupported fw ver: %d", the table is dropped and '
                            'xlnx_r5_remoteproc boots the core without IPC'), 'also': []}


@pytest.mark.parametrize('num,align,size', [(512, 0x1000, 0x4006), (256, 0x1000, 0x2806),
                                            (256, 16, 0x1A16), (16, 4, 0x1AE), (8, 16, 0xE6)])
def test_vring_size_matches_formats_md(num, align, size):
    assert vring_size(num, align) == size


# -- hostile files -----------------------------------------------------------

MUTATION_COUNT = 3000
MUTATION_SECONDS = 60
PER_FILE_SECONDS = 5


def _mutate(rng, data, table):
    """One damaged copy: bytes in the ELF header, the program headers, the
    section headers, the resource table or anywhere; or a truncation."""
    data = bytearray(data)
    how = rng.randrange(6)
    if how == 5:
        return bytes(data[:rng.randrange(len(data))])
    h = fw.read_ehdr(data)
    lo, hi = [(0, 64), (h['e_phoff'], h['e_phoff'] + h['e_phnum'] * h['e_phentsize']),
              (h['e_shoff'], len(data)), table, (0, len(data))][how]
    for _ in range(rng.randrange(1, 9)):
        at = rng.randrange(lo, hi)
        data[at] = rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)])
    return bytes(data)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


@pytest.fixture(scope='session')
def handwritten_clean(fw_dir):
    """(elf, layout, domain) of the clean hand-written image of each target."""
    from zephyr_amp import config
    out = []
    for v in (v for v in hw.VARIANTS if v.rule is None):
        path, domain, roots = hw.SYSTEMS[v.target]
        out.append((hw.build(v, fw_dir), config.layout_for(path, board_roots=roots), domain))
    return out


def test_random_mutations_never_crash_or_hang(good, xamp, handwritten_clean, tmp_path):
    """Thousands of damaged images (seeded): every one ends in a Report. The
    images with attach metadata have it damaged where the table would be."""
    rng = random.Random(20260602)
    sources = []
    images = [(good[t], fw.LAYOUTS[t], '.resource_table') for t in sorted(good)]
    images += [(xamp[t], fw.LAYOUTS[t], '.resource_table_metadata') for t in sorted(xamp)]
    images += [(elf, (layout, domain), '.resource_table')
               for elf, layout, domain in handwritten_clean]
    for path, (layout, domain), name in images:
        with ElfImage.open(path) as image:
            (sec,) = image.sections_named(name)
        table = (sec.sh_offset, sec.sh_offset + sec.sh_size)
        sources.append((Path(path).read_bytes(), layout, domain, table))
    path = tmp_path / 'mutant.elf'
    old = signal.signal(signal.SIGALRM, _alarm)
    deadline = time.monotonic() + MUTATION_SECONDS
    done = 0
    try:
        while done < MUTATION_COUNT and time.monotonic() < deadline:
            data, layout, domain, table = sources[done % len(sources)]
            mutant = _mutate(rng, data, table)
            path.write_bytes(mutant)
            signal.setitimer(signal.ITIMER_REAL, PER_FILE_SECONDS)
            try:
                report = (check_elf(path, layout, domain) if done % 2 else check_elf(path))
                report.to_json()
                [str(f) for f in report.findings]
            except _Timeout:
                pytest.fail(f'check_elf hung on mutant {done}; kept in {path}')
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            done += 1
    finally:
        signal.signal(signal.SIGALRM, old)
    assert done >= 500, f'only {done} mutants in {MUTATION_SECONDS} s'

"""zephyr_amp.elfcheck on firmware linked with what `west amp-config`
generates (its resource_table.c, amp_memory.ld, amp_sections.ld, amp_hvl.ld)
for every bundled and valid test system: clean, and with one change."""

from pathlib import Path

import pytest

from conftest import REPO, SYSTEMS
from elf import firmware as fw
from zephyr_amp.elfcheck import check_elf
from zephyr_amp.elfread import ElfImage

# -- firmware built from what amp-config generates --------------------------

ENTRY = {'EM_ARM': ('r5', '_vector_table'), 'EM_AARCH64': ('a53', '_start')}


# The bundled systems, then the valid systems of the amp-config tests (they
# bring the qemu_cortex_a53 AArch64 and qemu_cortex_r5 domains).
TEST_BOARDS = REPO / 'tests' / 'data' / 'boards'
GENERATED_SYSTEMS = SYSTEMS + sorted((REPO / 'tests' / 'data' / 'valid').glob('*.yaml'))


def _generated_images(out):
    """(system, domain, elf, layout) for every remote domain of every system
    above: the C table, headers and linker fragments of `west amp-config`,
    linked with a minimal application."""
    from zephyr_amp import config
    for path in GENERATED_SYSTEMS:
        gen = out / path.stem
        config.generate(path, gen, board_roots=[TEST_BOARDS])
        layout = config.layout_for(path, board_roots=[TEST_BOARDS])
        for name, dom in sorted(layout['domains'].items()):
            if not dom.get('elf') or dom.get('resource_table') is None:
                continue
            target, entry = ENTRY[dom['elf']['machine']]
            views = {r['name']: r['views'].get(name, r['base']) for r in layout['regions']}
            regions = sorted(dom['load_regions'], key=views.get)
            code = min(regions, key=lambda r: abs(views[r] - ((dom.get('boot') or {})
                                                              .get('lovec', views[r]))))
            data = next((r for r in regions if r != code), code)
            here = gen / name
            ld_defines = {'CODE_REGION': code, 'DATA_REGION': data, 'ENTRY_SYMBOL': entry}
            sources = [fw.HERE / fw.TARGETS[target]['main'], here / 'resource_table.c']
            if (here / 'amp_hvl.ld').exists():
                ld_defines['HAVE_AMP_HVL'] = None
                sources.append(_hvl_vrings(layout, name, out / f'{path.stem}-{name}-hvl.c'))
            elf = fw.build(target, out, f'{path.stem}-{name}',
                           defines={'NO_TRACE_BUF': None}, ld_defines=ld_defines,
                           ld_template=fw.HERE / 'generated.ld.in',
                           ldflags=(f'-Wl,-L{here}',), sources=sources,
                           table_header='', include_dirs=[here])
            yield path.stem, name, elf, layout


def _hvl_vrings(layout, domain, path):
    """A C file with one array per HVL vring of the domain, each in the
    .shared.vring.N section the HVL driver defines it in."""
    lines = []
    for link in layout['links']:
        if link.get('transport') == 'hvl' and link.get('driver') == domain:
            for dev in link['devices']:
                for q in dev['queues']:
                    n = q['section'].rsplit('.', 1)[1]
                    lines.append(f'__attribute__((section("{q["section"]}"), used)) '
                                 f'char hvl_vring{n}[{q["size"]}];')
    path.write_text('\n'.join(lines) + '\n')
    return path


@pytest.fixture(scope='session')
def generated(tmp_path_factory):
    return list(_generated_images(tmp_path_factory.mktemp('generated')))


def test_generated_firmware_validates_clean(generated):
    assert generated, 'no system has a remote domain with a resource table'
    assert {'EM_ARM', 'EM_AARCH64'} <= {lay['domains'][d]['elf']['machine']
                                        for _, d, _, lay in generated}
    found = {(system, domain): [str(f) for f in check_elf(elf, layout, domain).findings]
             for system, domain, elf, layout in generated}
    assert found == {key: [] for key in found}


def test_generated_firmware_with_one_change(generated, tmp_path):
    """The generated image of the first system with a vdev, with its table's vring moved."""
    domain, elf, layout, vdev = next(
        (d, e, lay, v) for _, d, e, lay in generated
        for v in lay['resource_tables'][d]['entries'] if v['type'] == 'vdev')
    with ElfImage.open(elf) as image:
        (sec,) = image.sections_named('.resource_table')
    data = bytearray(Path(elf).read_bytes())
    at = sec.sh_offset + vdev['offset'] + 28               # vring 0 field da
    da = int.from_bytes(data[at:at + 4], 'little')
    data[at:at + 4] = (da + 0x100).to_bytes(4, 'little')
    path = tmp_path / 'moved-vring.elf'
    path.write_bytes(bytes(data))
    report = check_elf(path, layout, domain)
    assert [(f.rule, f.message) for f in report.errors] == [
        ('VRING-05', (f'vdev0/vring0 da is {da + 0x100:#x}, the layout expects {da:#x} '
                      '(or ANY) in vdev0vring0 (rpmsg0_vring0)'))]


def test_generated_split_image_on_the_other_cores_tcm(generated, tmp_path):
    """Split mode: RPU0's generated image with its data segment moved (by
    p_paddr) onto RPU1's BTCM at its global address."""
    found = [(d, e, lay) for s, d, e, lay in generated if s == 'kv260-split-rpmsg']
    if not found:
        pytest.skip('systems/kv260-split-rpmsg.yaml is not bundled')
    (domain, elf, layout), *_ = found
    rpu1_btcm = next(r for r in layout['regions'] if r['name'] == 'rpu1_btcm')
    data = Path(elf).read_bytes()
    index, seg = next((i, p) for i, p in enumerate(fw.phdrs(data)) if p['p_paddr'] == 0x20000)
    path = tmp_path / 'on-rpu1.elf'
    path.write_bytes(fw.set_phdr(data, index, p_paddr=rpu1_btcm['base']))
    report = check_elf(path, layout, domain)
    end = rpu1_btcm['base'] + seg['p_memsz']
    assert [(f.rule, f.message) for f in report.errors] == [
        ('SEG-07', (f'segment [{rpu1_btcm["base"]:#x},+{seg["p_memsz"]:#x}) overlaps rpu1_btcm '
         '(rpu1)'))]
    assert report.errors[0].ranges[0] == (rpu1_btcm['base'], end)

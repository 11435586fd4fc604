"""zephyr_amp.elfcheck on firmware with a hand-written resource table
(handwritten.py), built with the real cross compilers and checked against
the system YAMLs of systems/, the way a user meets amp-validate first."""

import os
import subprocess
import sys

import pytest

from conftest import REPO
from elf import handwritten as hw
from zephyr_amp.elfcheck import RULES, check_elf
from zephyr_amp.elfcheck.rules import Findings

# -- firmware with a hand-written table (tests/elf/handwritten.py) ------------

@pytest.fixture(scope='session')
def handwritten(tmp_path_factory):
    """{variant id: (variant, elf, layout, domain)}, the layouts from the
    system YAMLs through amp-config's own code."""
    from zephyr_amp import config
    layouts = {t: config.layout_for(path, board_roots=roots)
               for t, (path, _, roots) in hw.SYSTEMS.items()}
    out = tmp_path_factory.mktemp('handwritten')
    return {v.id: (v, hw.build(v, out), layouts[v.target], hw.SYSTEMS[v.target][1])
            for v in hw.VARIANTS}


@pytest.mark.parametrize('target', sorted(hw.PINNED))
def test_handwritten_addresses_are_the_systems(handwritten, target):
    """What hw_<target>.h hard-codes is where the system's layout puts it."""
    _, _, layout, domain = handwritten[f'{target}-clean']
    views = {r['name']: (r.get('views') or {}).get(domain, r['base'])
             for r in layout['regions']}
    assert {name: views.get(name) for name in hw.PINNED[target]} == hw.PINNED[target]


@pytest.mark.parametrize('target', sorted(hw.PINNED))
def test_handwritten_clean_image_passes_with_its_system(handwritten, target):
    """Another trace name, other notify IDs and an extra leading carveout: no
    error and no warning, one LAY-01 line of information."""
    _, elf, layout, domain = handwritten[f'{target}-clean']
    report = check_elf(elf, layout, domain)
    assert [(f.rule, f.severity) for f in report.findings] == [('LAY-01', 'info')]
    info = report.findings[0].message
    for piece in ("rsc entry 0 (carveout) is not in the layout's table",
                  'rsc entry 1 (vdev) notifyid is 31, the layout says 2',
                  "rsc entry 2 (trace) name is 'remote_log', the layout says 'Zephyr_log'"):
        assert piece in info
    assert report.ok(werror=True)
    strict = check_elf(elf, layout, domain, strict_table=True)
    assert {f.rule for f in strict.errors} == {'LAY-01'} and len(strict.errors) == 5


@pytest.mark.parametrize('target', sorted(hw.PINNED))
def test_handwritten_clean_image_without_its_system(handwritten, target):
    """The trace buffer lies outside every segment (in TCM on the KV260): only
    the layout can say the host maps it, so without one it is a warning."""
    _, elf, _, _ = handwritten[f'{target}-clean']
    report = check_elf(elf)
    assert [(f.rule, f.severity) for f in report.findings] == [('TRACE-02', 'warning')]
    assert 'needs the layout: pass --system or --layout' in report.findings[0].message
    assert report.ok()


DEFECTS = [v for v in hw.VARIANTS if v.rule]


@pytest.mark.parametrize('variant', DEFECTS, ids=[v.id for v in DEFECTS])
def test_handwritten_defect_is_one_error(handwritten, variant):
    _, elf, layout, domain = handwritten[variant.id]
    report = check_elf(elf, layout, domain, variant.loader)
    assert [f.rule for f in report.errors] == [variant.rule], [str(f) for f in report.errors]
    assert variant.message in report.errors[0].message, str(report.errors[0])
    # The same verdict without the system where the rule needs no layout; a
    # trace buffer only the layout can place is a warning that says so.
    alone = check_elf(elf, loader=variant.loader)
    if variant.rule == 'TRACE-02':
        assert alone.errors == [] and [f.rule for f in alone.warnings] == ['TRACE-02']
    elif variant.rule in ('VRING-04', 'VRING-05'):     # the region sizes are the layout's
        assert [f.rule for f in alone.errors] == ['VRING-08']
    else:
        assert [f.rule for f in alone.errors] == [variant.rule]


def test_one_defect_attaches_its_consequences(handwritten):
    _, elf, layout, domain = handwritten['r5-vring-on-buffers']
    (f,) = check_elf(elf, layout, domain).errors
    assert f.also == [('VRING-08 rsc entry 0 (carveout) [0x3ed42000,+0x2000) overlaps '
                       'vdev0/vring1 [0x3ed42000,+0xe6)')]
    assert '(also: VRING-08 ' in str(f)
    _, elf, layout, domain = handwritten['r5-vring-too-big']
    (f,) = check_elf(elf, layout, domain).errors
    assert [a.split()[0] for a in f.also] == ['VRING-08']


def test_moved_table_is_rsc04_with_where_its_bytes_load(handwritten):
    _, elf, layout, domain = handwritten['r5-table-moved']
    (f,) = check_elf(elf, layout, domain).errors
    assert f.message.startswith('.resource_table sh_addr is 0x3f800 but its bytes (file offset ')
    assert f.message.endswith(') load at 0x3f000 in segment 2')
    assert f.ranges == [(0x3F800, 0x3F800 + 200), (0x3F000, 0x3F000 + 200)]


def test_loader_decides_the_effect_and_the_severity(handwritten):
    """--loader overrides the layout's loader (linux-remoteproc here)."""
    _, elf, layout, domain = handwritten['r5-notify-duplicate-openamp']
    linux = [f for f in check_elf(elf, layout, domain).findings if f.rule == 'VDEV-04']
    assert [(f.severity, f.effect.split(':')[0]) for f in linux] == [('warning', 'Linux')]
    openamp = [f for f in check_elf(elf, layout, domain, 'openamp').findings
               if f.rule == 'VDEV-04']
    assert [(f.severity, f.effect.split(':')[0]) for f in openamp] == [('error', 'OpenAMP')]
    both = [f for f in check_elf(elf).findings if f.rule == 'VDEV-04']
    assert both[0].effect.startswith('Linux: ') and '; OpenAMP: ' in both[0].effect
    assert both[0].message.endswith('(an error if the loader is OpenAMP: pass --loader or '
                                    '--system)')


def test_vring03_quotes_the_kernel(handwritten):
    _, elf, layout, domain = handwritten['r5-align-0']
    (f,) = check_elf(elf, layout, domain).errors
    assert f.effect == ('Linux: "invalid qsz (%d) or alignment (%d)", the vdev probe fails: '
                        'no rpmsg device; the core still boots')
    assert str(f).split(' => ')[1].startswith('ignored: Linux: ')


def test_elf07_gives_file_offsets_and_the_header(handwritten):
    _, elf, layout, domain = handwritten['r5-truncated']
    (f,) = check_elf(elf, layout, domain).errors
    assert f.obj.startswith('section header ') and f.file_ranges
    assert ' file offsets [0x' in str(f)
    assert f.to_json()['ranges_are'] == 'file offsets'


@pytest.mark.parametrize('loader', [None, 'linux-remoteproc', 'openamp'])
def test_in_silence_only_where_nothing_is_printed(loader):
    make = Findings(loader)
    for rule in RULES:
        text = str(make(rule, 'x', severity='error'))
        if 'ignored in silence' in text:
            assert '"' not in text.split(' => ')[1], text


def test_handwritten_through_the_command(handwritten, tmp_path):
    """The clean A53 image against its system through `west amp-validate`'s
    code, with the system's board in a --board-root: exit 0."""
    _, elf, _, domain = handwritten['a53-clean']
    path, _, roots = hw.SYSTEMS['a53']
    r = subprocess.run([sys.executable, str(REPO / 'scripts' / 'west_commands' /
                                             'amp_validate.py'), str(elf), '--system', str(path),
                        '--board-root', str(roots[0]), '--domain', domain, '--werror'],
                       capture_output=True, text=True, check=False,
                       env=dict(os.environ, ZEPHYR_AMP_CACHE=str(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1].endswith('OK: 0 error(s), 0 warning(s), checked against '
                                              'domain zep')

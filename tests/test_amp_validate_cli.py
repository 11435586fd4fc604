"""west amp-validate from the command line: exit codes, human and JSON output.

The command runs as a child process through its standalone entry
(python scripts/west_commands/amp_validate.py), which builds the same parser
and calls the same do_run as `west amp-validate`; one test runs the real
`west amp-validate` in a throwaway workspace.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
from elf import firmware as fw

from conftest import REPO, need_tool

COMMAND = REPO / 'scripts' / 'west_commands' / 'amp_validate.py'


def run(*args, cwd=None, cache='off'):
    env = dict(os.environ, ZEPHYR_AMP_CACHE=str(cache))
    return subprocess.run([sys.executable, str(COMMAND), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    out = tmp_path_factory.mktemp('cli')
    return {
        'good': fw.build('r5', out, 'good'),
        'warn': fw.build('r5', out, 'warn', ld_defines={'RSC_ADDR': '0x3e004'}),
        'bad': fw.build('r5', out, 'bad', defines={'RSC_VER': 2}),
        'layout': _write_json(out / 'layout.json', fw.KV260_LAYOUT),
        # the vrings where systems/kv260-rpmsg.yaml has them (past Linux's
        # rproc_0_fw_image, issue 9); fw.KV260_LAYOUT keeps the old addresses
        'system': fw.build('r5', out, 'system', defines={'VRING0_DA': '0x3ed40000',
                                                         'VRING1_DA': '0x3ed41000'}),
    }


def _write_json(path, doc):
    path.write_text(json.dumps(doc))
    return path


def test_clean_image_exits_0(images):
    r = run(images['good'], '--layout', images['layout'], '--domain', 'rpu0')
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f'{images["good"]}: OK: 0 error(s), 0 warning(s), checked against '
                        'domain rpu0\n')


def test_error_exits_1_with_one_line_per_finding(images):
    r = run(images['bad'], '--layout', images['layout'], '--domain', 'rpu0')
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines == [
        (f'{images["bad"]}: error   HDR-02 .resource_table header field ver: resource table '
         'ver is 2, loaders accept 1 => ignored: Linux: "unsupported fw ver: %d", the table is '
         'dropped and xlnx_r5_remoteproc boots the core without IPC'),
        f'{images["bad"]}: FAIL: 1 error(s), 0 warning(s), checked against domain rpu0']


def test_warnings_pass_unless_werror(images):
    assert run(images['warn']).returncode == 0
    r = run(images['warn'], '--werror')
    assert r.returncode == 1
    assert r.stdout.splitlines()[-1].endswith('FAIL: 0 error(s), 1 warning(s), checked '
                                              'against the rules that need no layout')


def test_several_images_one_verdict_each_and_a_summary(images):
    r = run(images['good'], images['bad'])
    assert r.returncode == 1
    assert r.stdout.splitlines()[-1] == 'FAIL: 1 of 2 images failed'


def test_json_document(images):
    r = run(images['good'], images['bad'], '--layout', images['layout'], '--domain', 'rpu0',
            '--json')
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert {k: doc[k] for k in ('format', 'version', 'ok', 'werror', 'domain', 'system')} == {
        'format': 'zephyr-amp-validate', 'version': 2, 'ok': False, 'werror': False,
        'domain': 'rpu0', 'system': None}
    assert doc['layout'] == str(images['layout'])
    good, bad = doc['reports']
    assert (good['ok'], good['errors'], good['findings']) == (True, 0, [])
    assert bad['path'] == str(images['bad']) and bad['ok'] is False
    (f,) = bad['findings']
    assert set(f) == {'rule', 'severity', 'message', 'object', 'ranges', 'ranges_are', 'region',
                      'consequence', 'effect', 'also'}
    assert (f['rule'], f['severity'], f['consequence']) == ('HDR-02', 'error', 'ignore')


def test_json_werror_marks_warnings(images):
    doc = json.loads(run(images['warn'], '--json', '--werror').stdout)
    assert doc['ok'] is False and doc['werror'] is True
    assert doc['reports'][0]['findings'][0]['rule'] == 'RSC-06'


@pytest.mark.parametrize('args,message', [
    (['--domain', 'rpu0'], '--domain needs --system or --layout'),
    (['--layout', 'x.json'], '--system and --layout need --domain'),
    (['--system', 'a.yaml', '--layout', 'b.json', '--domain', 'rpu0'],
     'argument --layout: not allowed with argument --system'),
    (['--loader', 'uboot'], "argument --loader: invalid choice: 'uboot'"),
])
def test_bad_arguments_are_user_errors(images, args, message):
    r = run(images['good'], *args)
    assert r.returncode == 1
    assert message in r.stderr


def test_unknown_domain_is_a_user_error(images):
    r = run(images['good'], '--layout', images['layout'], '--domain', 'rpu9')
    assert r.returncode == 1
    assert r.stderr == ("FATAL ERROR: no domain 'rpu9' in the layout; choose --domain from: "
                        'linux, rpu0\n')


def test_unreadable_inputs_are_user_errors(images, tmp_path):
    r = run(tmp_path / 'missing.elf')
    assert (r.returncode, r.stdout) == (1, '')
    assert 'missing.elf: cannot read the ELF' in r.stderr
    r = run(images['good'], '--layout', tmp_path / 'none.json', '--domain', 'rpu0')
    assert (r.returncode, r.stderr) == (1, (f'FATAL ERROR: {tmp_path / "none.json"}: cannot '
                                           'read: No such file or directory\n'))
    (tmp_path / 'junk.json').write_text('{"domains": ')
    r = run(images['good'], '--layout', tmp_path / 'junk.json', '--domain', 'rpu0')
    assert r.returncode == 1 and 'junk.json: not JSON' in r.stderr


def test_bad_system_file_is_a_user_error(images, tmp_path):
    r = run(images['good'], '--system', tmp_path / 'none.yaml', '--domain', 'rpu0')
    assert r.returncode == 1
    assert r.stderr.startswith('FATAL ERROR: ') and 'none.yaml' in r.stderr
    assert 'Traceback' not in r.stderr


def test_system_goes_through_amp_config(images, tmp_path):
    """--system lays the YAML out with amp-config's own code: the test image
    has a carveout named after no region of the bundled system (ENT-02) and
    its trace elsewhere (LAY-01, information). The second run reads the cached
    layout and says the same."""
    args = (images['system'], '--system', REPO / 'systems' / 'kv260-rpmsg.yaml', '--domain',
            'rpu0', '--json')
    first = run(*args, cache=tmp_path / 'cache')
    assert list((tmp_path / 'cache').glob('*.json')), 'no layout cached'
    second = run(*args, cache=tmp_path / 'cache')
    assert first.stdout == second.stdout
    doc = json.loads(first.stdout)
    assert first.returncode == 1 and doc['system'].endswith('kv260-rpmsg.yaml')
    found = [(f['rule'], f['severity']) for f in doc['reports'][0]['findings']]
    assert found == [('RSC-07', 'warning'), ('PLAT-02', 'info'), ('ENT-02', 'error'),
                     ('LAY-01', 'info')]


def test_board_root_reaches_the_system(images, tmp_path):
    """A system on a board only a --board-root has: without it, amp-config's
    unknown-board error (exit 1); with it, checked."""
    (tmp_path / 'boards').mkdir()
    (tmp_path / 'boards' / 'myboard.yaml').write_bytes(
        (REPO / 'boards' / 'kv260.yaml').read_bytes().replace(b'name: kv260', b'name: myboard'))
    system = tmp_path / 'sys.yaml'
    system.write_bytes((REPO / 'systems' / 'kv260-rpmsg.yaml').read_bytes()
                       .replace(b'board: kv260', b'board: myboard'))
    r = run(images['good'], '--system', system, '--domain', 'rpu0')
    assert r.returncode == 1 and 'myboard' in r.stderr and r.stdout == ''
    r = run(images['good'], '--system', system, '--board-root', tmp_path / 'boards',
            '--domain', 'rpu0')
    assert r.stdout.splitlines()[-1].endswith('checked against domain rpu0'), r.stderr


def test_json_into_a_file_keeps_the_human_lines(images, tmp_path):
    out = tmp_path / 'findings.json'
    r = run(images['bad'], '--json', out)
    assert r.returncode == 1
    assert r.stdout.splitlines()[-1].endswith('FAIL: 1 error(s), 0 warning(s), checked '
                                              'against the rules that need no layout')
    assert json.loads(out.read_text())['reports'][0]['findings'][0]['rule'] == 'HDR-02'
    r = run(images['bad'], '--json', '-')
    assert json.loads(r.stdout)['ok'] is False


def test_help_teaches_by_example():
    r = run('--help')
    assert r.returncode == 0
    # the bundled system by a path that exists wherever the user runs it (issue 11)
    system = REPO / 'systems' / 'kv260-rpmsg.yaml'
    assert f'west amp-validate build/zephyr/zephyr.elf --system {system}' in r.stdout
    assert system.is_file()
    assert '"format": "zephyr-amp-validate"' in r.stdout
    last = r.stdout.rstrip().split('\n\n')[-1]
    assert last.startswith('Exit status: 0 when no error')


def test_real_west_command(images, tmp_path):
    """`west amp-validate` through west itself, in a workspace whose manifest
    repository carries a copy of this project's scripts/ (west refuses
    west-commands files reached through a symlink out of the project)."""
    need_tool('west')
    manifest = tmp_path / 'ws' / 'manifest'
    manifest.mkdir(parents=True)
    (manifest / 'west.yml').write_text(
        'manifest:\n  projects: []\n  self:\n    west-commands: scripts/west-commands.yml\n')
    shutil.copytree(REPO / 'scripts', manifest / 'scripts',
                    ignore=shutil.ignore_patterns('*.egg-info', '__pycache__'))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO / 'scripts' / 'west_commands'), os.environ.get('PYTHONPATH', '')]))
    west = shutil.which('west')
    r = subprocess.run([west, 'init', '-l', str(manifest)], cwd=tmp_path, capture_output=True,
                       text=True, env=env, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([west, 'amp-validate', str(images['bad'])], cwd=tmp_path / 'ws',
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 1, r.stderr
    assert 'HDR-02' in r.stdout
    r = subprocess.run([west, '-q', 'amp-validate', str(images['bad']), '--json'],
                       cwd=tmp_path / 'ws', capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 1 and json.loads(r.stdout)['ok'] is False, r.stderr


def test_cached_layout_follows_the_system_bytes(tmp_path, monkeypatch):
    """The cached --system layout is keyed by the system's bytes: an edit lays
    it out again; a system with errors is reported, never cached."""
    from zephyr_amp.elfcheck import layouts
    from zephyr_amp.errors import AmpError
    cache = tmp_path / 'cache'
    monkeypatch.setenv('ZEPHYR_AMP_CACHE', str(cache))
    system = tmp_path / 'sys.yaml'
    text = (REPO / 'tests' / 'elf' / 'systems' / 'kv260-handwritten.yaml').read_text()
    system.write_text(text)
    first = layouts.system_layout(system)
    assert layouts.system_layout(system) == first and len(list(cache.glob('*.json'))) == 1
    system.write_text(text.replace('num: 8 ', 'num: 16 '))
    again = layouts.system_layout(system)
    assert again['links'][0]['vdev']['vrings'][0]['num'] == 16
    assert len(list(cache.glob('*.json'))) == 2
    system.write_text(text.replace('num: 8 ', 'num: 6 '))
    with pytest.raises(AmpError):
        layouts.system_layout(system)
    assert len(list(cache.glob('*.json'))) == 2
    monkeypatch.setenv('ZEPHYR_AMP_CACHE', 'off')
    system.write_text(text.replace('num: 8 ', 'num: 32 '))
    assert layouts.system_layout(system)['links'][0]['vdev']['vrings'][0]['num'] == 32
    assert len(list(cache.glob('*.json'))) == 2

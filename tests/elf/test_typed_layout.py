"""The ELF checker reads the typed layout amp-config writes (zephyr_amp.layout.Layout):
amp-validate (--layout, --system) and amp-build hand it a Layout, and the
domain's view it builds from one is the view built from the layout.json
document, for every bundled and valid test system and every hand-written
layout of the checker's tests."""

import json

import pytest

from conftest import REPO, SYSTEMS
from elf import firmware as fw
from zephyr_amp import config
from zephyr_amp.elfcheck import ElfCheckError, check_elf, layouts
from zephyr_amp.elfcheck.target import Target
from zephyr_amp.layout import Layout

TEST_BOARDS = REPO / 'tests' / 'data' / 'boards'
VALID = SYSTEMS + sorted((REPO / 'tests' / 'data' / 'valid').glob('*.yaml'))


def _fields(target):
    return {f: getattr(target, f) for f in target.__dataclass_fields__}


@pytest.mark.parametrize('path', VALID, ids=lambda p: p.stem)
def test_typed_view_is_the_document_view(path):
    result = config.configure(path, board_roots=[TEST_BOARDS])
    doc = json.loads(result.files['layout.json'])
    for domain in doc['domains']:
        want = _fields(Target.from_layout(doc, domain))
        assert _fields(Target.from_typed(result.layout, domain)) == want, domain
        assert _fields(Target.from_typed(Layout.from_json(doc), domain)) == want, domain


@pytest.mark.parametrize('name', sorted(fw.LAYOUTS))
def test_hand_written_layouts_read_as_typed(name):
    doc, domain = fw.LAYOUTS[name]
    assert _fields(Target.from_typed(Layout.from_json(doc), domain)) == \
        _fields(Target.from_layout(doc, domain))


def test_amp_validate_reads_typed_layouts(tmp_path, monkeypatch):
    monkeypatch.setenv('ZEPHYR_AMP_CACHE', str(tmp_path / 'cache'))
    path = tmp_path / 'layout.json'
    path.write_text(json.dumps(fw.KV260_LAYOUT))
    assert isinstance(layouts.read_layout(path), Layout)
    system = REPO / 'systems' / 'kv260-rpmsg.yaml'
    first = layouts.layout_of(system)
    assert isinstance(first, Layout) and 'rpu0' in first.domains
    assert layouts.layout_of(system).to_json() == first.to_json()     # from the cache
    assert len(list((tmp_path / 'cache').glob('*.json'))) == 1
    path.write_text(json.dumps({'domains': {}, 'format': 'other'}))
    with pytest.raises(ElfCheckError, match='not a zephyr-amp layout.json'):
        layouts.read_layout(path)
    path.write_text('[1]')
    with pytest.raises(ElfCheckError, match='no "domains" object'):
        layouts.read_layout(path)


def test_check_elf_takes_a_layout_or_its_document(tmp_path):
    elf = fw.build('r5', tmp_path, 'bad', defines={'RSC_VER': 2})
    typed = [str(f) for f in check_elf(elf, Layout.from_json(fw.KV260_LAYOUT), 'rpu0').findings]
    assert typed == [str(f) for f in check_elf(elf, fw.KV260_LAYOUT, 'rpu0').findings]
    assert typed            # the table's version is wrong: there is something to compare

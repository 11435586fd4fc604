"""Golden files and determinism: the same system YAML gives the same bytes, always.

tests/golden/<system>/ holds every file `west amp-config` writes for the
bundled kv260-rpmsg and kv260-split-rpmsg systems. When a change to the
templates or the layout is intended, regenerate them and review the diff:

    AMP_UPDATE_GOLDEN=1 python3 -m pytest -q tests/test_golden.py
    git diff tests/golden/

(With AMP_UPDATE_GOLDEN=1 the golden tests rewrite the files and pass.)
"""

import difflib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SYSTEMS
from helpers import system_id
from zephyr_amp import config

GOLDEN = REPO / "tests" / "golden"
GOLDEN_SYSTEMS = ["kv260-rpmsg", "kv260-split-rpmsg"]
UPDATE = os.environ.get("AMP_UPDATE_GOLDEN", "") not in ("", "0")


def _files(root):
    root = Path(root)
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _diff(name, want, got):
    lines = difflib.unified_diff(want.decode(errors="replace").splitlines(),
                                 got.decode(errors="replace").splitlines(),
                                 f"golden/{name}", f"generated/{name}", lineterm="", n=2)
    return "\n".join(list(lines)[:60])


@pytest.mark.parametrize("name", GOLDEN_SYSTEMS)
def test_golden(name, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    system = Path("systems") / f"{name}.yaml"
    if UPDATE:
        config.generate(system, GOLDEN / name)
    out = tmp_path / name
    config.generate(system, out)
    got, want = _files(out), _files(GOLDEN / name)
    assert want, f"no golden files in {GOLDEN / name}; run with AMP_UPDATE_GOLDEN=1"
    assert sorted(got) == sorted(want), "the set of generated files changed"
    diffs = [_diff(f, want[f], got[f]) for f in sorted(got) if got[f] != want[f]]
    assert not diffs, ("generated files differ from tests/golden (if intended, regenerate "
                       "with AMP_UPDATE_GOLDEN=1):\n" + "\n".join(diffs))


def test_golden_covers_every_output_kind():
    kinds = {Path(f).name for name in GOLDEN_SYSTEMS for f in _files(GOLDEN / name)}
    assert kinds >= {"layout.json", "memory-map.svg", "memory-map.txt", "amp.dtso",
                     "amp.overlay", "amp.conf", "resource_table.c", "resource_table.h",
                     "amp_layout.h", "amp_sections.ld", "amp_memory.ld", "amp.cmake"}


def test_no_absolute_paths_or_timestamps_in_golden():
    for name in GOLDEN_SYSTEMS:
        for f, data in _files(GOLDEN / name).items():
            text = data.decode()
            assert str(REPO) not in text and "/tmp/" not in text, f
            assert "\r" not in text and text.endswith("\n"), f


@pytest.mark.parametrize("system", SYSTEMS, ids=system_id)
def test_same_input_same_bytes(system, tmp_path, monkeypatch):
    """Twice into different directories, and from another cwd with another spelling
    of the path: identical bytes."""
    monkeypatch.chdir(REPO)
    rel = system.relative_to(REPO)
    config.generate(rel, tmp_path / "a")
    config.generate(rel, tmp_path / "b" / "deeper")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config.generate(system, "c")                              # absolute path, relative -o
    config.generate(os.path.relpath(system), tmp_path / "d")  # ../../.. spelling
    a = _files(tmp_path / "a")
    assert a
    for other in ("b/deeper", "elsewhere/c", "d"):
        assert _files(tmp_path / other) == a, other


def test_same_bytes_whatever_the_hash_seed(tmp_path):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from zephyr_amp import config; "
            "[config.generate(p, f'{sys.argv[2]}/{i}') for i, p in enumerate(sys.argv[3:])]")
    results = []
    for seed in ("0", "4242"):
        out = tmp_path / seed
        subprocess.run([sys.executable, "-c", code, str(REPO / "scripts" / "west_commands"),
                        str(out), *map(str, SYSTEMS)], check=True, cwd=tmp_path,
                       env=dict(os.environ, PYTHONHASHSEED=seed))
        results.append(_files(out))
    assert results[0] and results[0] == results[1]


def test_rerun_replaces_its_own_output_only(tmp_path):
    out = tmp_path / "out"
    config.generate(SYSTEMS[0], out)
    (out / "stale.txt").write_text("from an older run\n")
    config.generate(SYSTEMS[0], out)
    assert not (out / "stale.txt").exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not ours\n")
    from zephyr_amp.errors import UsageError
    with pytest.raises(UsageError) as e:
        config.generate(SYSTEMS[0], foreign)
    assert e.value.exit_code == 2
    assert (foreign / "keep.txt").read_text() == "not ours\n"


@pytest.mark.parametrize("system", SYSTEMS, ids=system_id)
def test_memory_map_picture_and_table(system, tmp_path):
    """memory-map.svg is well-formed SVG naming every region with its base and size;
    memory-map.txt has a row for every region in every address space it is seen in."""
    import xml.etree.ElementTree as ET

    res = config.generate(system, tmp_path / "out")
    root = ET.parse(tmp_path / "out" / "memory-map.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    labels = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    table = (tmp_path / "out" / "memory-map.txt").read_text()
    for r in res.layout.regions:
        assert any(lb.startswith(f"{r.name}  [{r.base:#x}, {r.end:#x})") for lb in labels), \
            r.name
        assert re.search(rf"^  {r.base:#x}\s+{r.end:#x}\s+.*\b{r.name}\s", table, re.M), r.name
        for dom, addr in r.views.items():
            assert any(lb.startswith(f"{r.name}  [{addr:#x}, {addr + r.size:#x})")
                       for lb in labels), (r.name, dom)

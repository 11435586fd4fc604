"""schema.quick(): the reading of a schema that lets a valid document skip pykwalify.

It may say False for a document pykwalify passes (pykwalify then decides), never
True for one pykwalify refuses or one that holds a null (check_with() reports
those): every finding keeps pykwalify's wording and position. Checked here on the
bundled files and on every one-value change of them that the quick reading passes.
"""

import subprocess
import sys
import textwrap

import pytest

from conftest import REPO
from zephyr_amp import model, schema
from zephyr_amp.source import Source

SYSTEMS = sorted((REPO / "systems").glob("*.yaml"))
BOARDS = sorted((REPO / "boards").glob("*.yaml"))
# what a value is replaced with: each breaks some rule of some key
REPLACEMENTS = [None, "x", "R" * 200, "UPPER", "a\n", "ddr", "zephyr", "split",
                1, -1, 2 ** 40, 1.5, True, [], ["x"], {}, {"name": "x"}]


def _schemas():
    return {"system": schema.whole_matches(model.system_schema()),
            "board": schema.whole_matches(schema.load_schema("board"))}


def _pykwalify_passes(data, rules):
    """What check_with() finds without quick(): pykwalify's errors, and the nulls."""
    from pykwalify.core import Core
    core = Core(source_data=data, schema_data=rules)
    core.validate(raise_exception=False)
    return not core.validation_errors_exceptions and not list(schema._null_paths(data))


def _paths(data, path=()):
    yield path
    items = data.items() if isinstance(data, dict) else \
        enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        yield from _paths(value, path + (key,))


def _variants(data):
    """Every document one change away: a value replaced, a key removed, a key added."""
    for path in _paths(data):
        if not path:
            continue
        for new in REPLACEMENTS:
            yield _changed(data, path, lambda parent, key, new=new: parent.__setitem__(key, new))
        yield _changed(data, path, lambda parent, key: parent.__delitem__(key))
    for path in _paths(data):
        yield _changed(data, path + ("bogus",), lambda parent, key: parent.__setitem__(key, 1))


def _changed(data, path, change):
    import copy
    out = copy.deepcopy(data)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, (dict, list)) and (isinstance(parent, dict) or
                                             isinstance(path[-1], int)):
        change(parent, path[-1])
    return out


@pytest.mark.parametrize("path", SYSTEMS + BOARDS, ids=lambda p: p.name)
def test_quick_reading_passes_every_bundled_file(path):
    rules = _schemas()["system" if path.parent.name == "systems" else "board"]
    fits = schema.quick(rules)
    assert fits is not None, "the schema uses a construct quick() does not read"
    assert fits(Source(path).data)


@pytest.mark.parametrize("path", SYSTEMS + BOARDS, ids=lambda p: p.name)
def test_quick_reading_never_passes_what_pykwalify_refuses(path):
    rules = _schemas()["system" if path.parent.name == "systems" else "board"]
    fits = schema.quick(rules)
    passed = 0
    for data in _variants(Source(path).data):
        if fits(data):
            passed += 1
            assert _pykwalify_passes(data, rules), data
    assert passed, "no variant passed: the check above never ran"


def test_quick_reading_refuses_what_it_does_not_read():
    """A schema construct beyond types, required, enum, pattern, length and range
    (a default, unique, an include) leaves the decision to pykwalify."""
    for extra in ({"default": "x"}, {"unique": True}, {"nullable": False}):
        rules = {"type": "map", "mapping": {"name": {"type": "str", **extra}}}
        assert schema.quick(rules) is None, extra
    assert schema.quick({"type": "map", "mapping": {"name": {"include": "x"}}}) is None


def test_quick_reading_refuses_a_null_under_type_any():
    """check_with() reports every null, pykwalify passes one under type: any."""
    fits = schema.quick({"type": "map", "mapping": {"trace": {"type": "any"}}})
    assert fits({"trace": {"size": 4096}})
    assert not fits({"trace": {"size": None}})


def test_checking_a_bundled_system_imports_neither_pykwalify_nor_jinja2():
    """amp-config --check of a valid system: pykwalify only words findings, jinja2
    only renders, elftools only reads ELF files; the records of what a link adds to
    the files (links/outputs.py) are only made to render."""
    code = textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(REPO / "scripts" / "west_commands")!r})
        from zephyr_amp import config
        config.check({str(REPO / "systems" / "kv260-rpmsg.yaml")!r})
        heavy = {{"pykwalify", "jinja2", "elftools", "zephyr_amp.render",
                 "zephyr_amp.links.outputs"}}
        made = {{"Zephyr", "Kconfig"}} & set(vars(sys.modules["zephyr_amp.links.base"]))
        print(" ".join(sorted(made | (heavy & (set(sys.modules) | {{m.split(".")[0]
                                                                   for m in sys.modules}})))))
        """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == ""


def test_schema_files_are_cached_as_python_caches_bytecode(tmp_path, monkeypatch):
    """schema.cached_yaml(): parsed once into the pycache (PYTHONPYCACHEPREFIX here),
    read from there while the file's bytes are the same, parsed again when they
    change; nothing written under PYTHONDONTWRITEBYTECODE."""
    path = tmp_path / "lib" / "rules.yaml"
    path.parent.mkdir()
    path.write_text("type: map\nmapping: {name: {type: str}}\n")
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "pyc"))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert schema.cached_yaml(path) == {"type": "map", "mapping": {"name": {"type": "str"}}}
    assert not (tmp_path / "pyc").exists()
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    schema.cached_yaml(path)
    cache = schema._cache_path(path)
    assert cache.is_file() and str(cache).startswith(str(tmp_path / "pyc"))
    import marshal
    cache.write_bytes(marshal.dumps((path.read_bytes(), {"from": "the cache"})))
    assert schema.cached_yaml(path) == {"from": "the cache"}
    path.write_text("type: seq\nsequence: [{type: int}]\n")      # new bytes: parsed again
    assert schema.cached_yaml(path) == {"type": "seq", "sequence": [{"type": "int"}]}
    cache.write_bytes(b"not marshal data")                       # a broken cache: parsed
    assert schema.cached_yaml(path) == {"type": "seq", "sequence": [{"type": "int"}]}
    assert schema.cached_yaml(path) == schema.cached_yaml(path)
    assert [p.name for p in cache.parent.iterdir()] == [cache.name]   # no temp file left

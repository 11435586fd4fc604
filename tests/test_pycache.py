"""What the library keeps beside its bytecode (zephyr_amp/pycache.py): the code of its
dataclasses (dataclass_cache: the dataclasses Python would define, same code for the
same text, dataclasses left as it was) and its compiled templates (render: the same
files), written only where bytecode would be."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

from conftest import REPO
from zephyr_amp import dataclass_cache

LIB = str(REPO / "scripts" / "west_commands")

# Import the library inside compiled() (or plainly), and take a fingerprint of every
# method dataclasses made for the library's classes.
PROBE = textwrap.dedent(f"""\
    import dataclasses, json, sys
    sys.path.insert(0, {LIB!r})
    from zephyr_amp import dataclass_cache
    if len(sys.argv) > 1:                       # plain: as Python defines them
        from zephyr_amp import config  # noqa: F401 - the library's dataclasses
    else:
        with dataclass_cache.compiled():
            from zephyr_amp import config  # noqa: F401
    assert "exec" not in vars(dataclasses), "dataclasses left patched"
    def code_print(c):
        return [c.co_code.hex(), c.co_names, c.co_varnames, c.co_flags, c.co_argcount,
                c.co_kwonlyargcount, c.co_qualname, c.co_filename,
                [code_print(k) if hasattr(k, "co_code") else repr(k) for k in c.co_consts]]
    prints = {{}}
    for name, module in sorted(sys.modules.items()):
        if not name.startswith("zephyr_amp"):
            continue
        for cls in vars(module).values():
            if isinstance(cls, type) and dataclasses.is_dataclass(cls) and \\
                    cls.__module__ == name:
                for attr, f in sorted(vars(cls).items()):
                    if getattr(getattr(f, "__code__", None), "co_filename", "") == "<string>":
                        prints[f"{{name}}.{{cls.__qualname__}}.{{attr}}"] = [
                            code_print(f.__code__), repr(f.__defaults__),
                            sorted(getattr(f, "__annotations__", {{}}))]
    from zephyr_amp import boards
    board = boards.load_board("kv260")
    assert board == boards.load_board("kv260") and "Board(" in repr(board)
    print(json.dumps(prints))
    """)


def _probe(env, *plain):
    r = subprocess.run([sys.executable, "-c", PROBE, *plain], env=env,
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def _caches(tmp_path):
    return list((tmp_path / "pyc").rglob("dataclasses.*.marshal"))


def _env(tmp_path, write):
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(tmp_path / "pyc"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def test_second_import_compiles_no_dataclass_code(tmp_path):
    """The first run compiles and keeps every text, the second adds none, and both
    define the same methods as a plain import."""
    plain = _probe(_env(tmp_path, write=False), "plain")
    first = _probe(_env(tmp_path, write=True))
    [cache] = _caches(tmp_path)
    kept = cache.read_bytes()
    import marshal
    assert len(marshal.loads(kept)) > 50
    second = _probe(_env(tmp_path, write=True))
    assert cache.read_bytes() == kept               # nothing compiled, nothing written
    assert len(plain) > 100 and first == plain and second == plain


def test_nothing_is_written_where_bytecode_is_not(tmp_path):
    first = _probe(_env(tmp_path, write=False))
    assert not _caches(tmp_path)
    assert first == _probe(_env(tmp_path, write=False), "plain")


def test_a_broken_cache_is_compiled_afresh(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "pyc"))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    path = dataclass_cache.cache_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not marshal data")
    with dataclass_cache.compiled():
        @dataclasses.dataclass(frozen=True)
        class Point:
            x: int
            y: int = 2
    assert "exec" not in vars(dataclasses)
    assert Point(1) == Point(1, 2) and repr(Point(1)).endswith("Point(x=1, y=2)")
    assert len(dataclass_cache._read(path)) >= 3      # __init__, __repr__, __eq__, ...


RENDER = textwrap.dedent(f"""\
    import hashlib, json, sys
    sys.path.insert(0, {LIB!r})
    import jinja2
    compiled = []
    real = jinja2.Environment.compile
    def counting(self, source, name=None, filename=None, *args, **kwargs):
        compiled.append(name)
        return real(self, source, name, filename, *args, **kwargs)
    jinja2.Environment.compile = counting
    from zephyr_amp import config
    out = {{}}
    for path in sorted(__import__("pathlib").Path({str(REPO / "systems")!r}).glob("*.yaml")):
        files = config.configure(path).files
        out[path.name] = {{k: hashlib.sha256(v.encode()).hexdigest() for k, v in files.items()}}
    print(json.dumps({{"compiled": len(compiled), "files": out}}))
    """)


def _render(env):
    r = subprocess.run([sys.executable, "-c", RENDER], env=env, capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    return out["compiled"], out["files"]


def test_templates_compile_once_and_write_the_same_files(tmp_path):
    compiled, plain = _render(_env(tmp_path, write=False))
    assert compiled > 10 and not list((tmp_path / "pyc").rglob("*.jinja2"))
    compiled, first = _render(_env(tmp_path, write=True))
    kept = {p: p.read_bytes() for p in (tmp_path / "pyc").rglob("*.jinja2")}
    assert compiled > 10 and len(kept) == compiled
    compiled, second = _render(_env(tmp_path, write=True))
    assert compiled == 0
    assert {p: p.read_bytes() for p in kept} == kept
    assert first == plain and second == plain

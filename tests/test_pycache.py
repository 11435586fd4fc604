"""What the library keeps beside its bytecode (zephyr_amp/pycache.py): its compiled
templates (render: the same files), written only where bytecode would be."""

import json
import os
import subprocess
import sys
import textwrap

from conftest import REPO

LIB = str(REPO / "scripts" / "west_commands")

def _env(tmp_path, write):
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(tmp_path / "pyc"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


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

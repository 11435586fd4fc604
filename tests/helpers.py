"""Helpers shared by the amp-config tests (fixtures are imported by the test modules).

- ``generated``: a session fixture; ``generated(system)`` runs the real
  pipeline (config.generate) once per system and returns the output directory.
- Zephyr devicetree: ``BOARD_DTS`` (board target -> arch and board DTS path),
  ``preprocess()`` runs cpp as Zephyr's build does.
- ``zephyr_domains()`` / ``linux_domains()`` read them from a layout.json.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, SYSTEMS, need_tool

DATA = REPO / "tests" / "data"
TEST_BOARDS = DATA / "boards"
# Valid systems beyond the bundled ones, to reach what those do not use
# (firmware in DDR, carveouts, several vdevs, the QEMU boards).
EXTRA_SYSTEMS = sorted((DATA / "valid").glob("*.yaml"))
ALL_SYSTEMS = list(SYSTEMS) + EXTRA_SYSTEMS


# A minimal firmware around a generated resource table (the Zephyr 4.4 API) and the
# linker script that places it with the generated amp_memory.ld and amp_sections.ld
# (inside SECTIONS, as amp_sections.ld's header says); {region} is the first load region.
TABLE_START_C = """\
#include "resource_table.h"
volatile int amp_table_length;
void _start(void)
{
	void *table;    /* rsc_table_get(void **, int *) */
	int length;
	rsc_table_get(&table, &length);
	amp_table_length = length;
	for (;;) {
	}
}
"""
TABLE_LINK_LD = """\
INCLUDE amp_memory.ld
ENTRY(_start)
SECTIONS
{{
	.text : {{ *(.text*) *(.rodata*) }} > {region}
	.data : {{ *(.data*) *(.bss*) *(COMMON) }} > {region}
	INCLUDE amp_sections.ld
	/DISCARD/ : {{ *(.comment) *(.note*) *(.ARM.attributes) *(.eh_frame*) }}
}}
"""

# Zephyr board target -> (dts/<arch>, board DTS relative to a Zephyr tree)
BOARD_DTS = {
    "kv260_r5": ("arm", "boards/amd/kv260_r5/kv260_r5.dts"),
    "qemu_cortex_r5": ("arm", "boards/qemu/cortex_r5/qemu_cortex_r5.dts"),
    "qemu_cortex_a53": ("arm64", "boards/qemu/cortex_a53/qemu_cortex_a53.dts"),
}


# The bundled matrices: Zephyr v4.4 + openamp-system-reference (west.yml), and the
# samples only OpenAMP's staging fork has (west-staging.yml)
MATRICES = (REPO / "matrix" / "amp-matrix.yaml", REPO / "matrix" / "amp-matrix-staging.yaml")


def matrix_jobs():
    """The jobs of both bundled matrices, each build once."""
    from zephyr_amp import matrix
    out, seen = [], set()
    for path in MATRICES:
        for job in matrix.load(path).jobs:
            key = (job.sample, job.board, job.system, job.domain)
            if key not in seen:
                seen.add(key)
                out.append(job)
    return out


def system_id(path):
    """pytest id of a system file: its stem, prefixed for the test-only ones."""
    path = Path(path)
    return path.stem if path.parent == REPO / "systems" else f"extra:{path.stem}"


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """generated(system_path) -> output directory, generated once per session."""
    from zephyr_amp import config

    root = tmp_path_factory.mktemp("amp")
    cache = {}

    def run(system, zephyr="4.4"):
        """zephyr: the Zephyr version the files target."""
        key = (Path(system), zephyr)
        if key not in cache:
            out = root / (system_id(key[0]).replace(":", "_") + ("" if zephyr == "4.4"
                                                                  else f"-{zephyr}"))
            config.generate(key[0], out, board_roots=[TEST_BOARDS], zephyr_version=zephyr)
            cache[key] = out
        return cache[key]

    return run


def layout_json(out_dir):
    return json.loads((Path(out_dir) / "layout.json").read_text())


def zephyr_domains(layout):
    return sorted(n for n, d in layout["domains"].items() if d["os"] == "zephyr")


def linux_domains(layout):
    return sorted(n for n, d in layout["domains"].items()
                  if d["os"] == "linux" and d["role"] == "host")


def region(layout, name):
    return next(r for r in layout["regions"] if r["name"] == name)


def view(reg, domain):
    """Address of a layout.json region in a domain's view."""
    return reg["views"].get(domain, reg["base"])


# What Zephyr v4.4's boards declare differently from v3.7's, as DTS applied after a v3.7
# board DTS (tests/data/zephyr-4.4/README.md)
V44_DELTA = DATA / "zephyr-4.4"
ZEPHYR_SHAPES = ("4.4", "3.7")


def tree_version(zephyr_root):
    """'MAJOR.MINOR' of a Zephyr tree (its VERSION file); the fixtures, which have none,
    are v3.7.0's files."""
    from zephyr_amp import zephyr_version
    found = zephyr_version.of_tree(Path(zephyr_root))
    return found[0] if found else "3.7"


def board_files(zephyr_root, target, zephyr="3.7"):
    """The board DTS of target and, for zephyr="4.4" on a v3.7 tree, the file that
    turns it into what v4.4 declares (when that board changed)."""
    arch, dts = BOARD_DTS[target]
    files = [Path(zephyr_root) / dts]
    tree = tree_version(zephyr_root)
    if zephyr == "3.7" and tree != "3.7":
        pytest.skip(f"the Zephyr tree at {zephyr_root} is {tree}, not 3.7")
    delta = V44_DELTA / f"{target}.dtsi"
    if zephyr == "4.4" and tree == "3.7" and delta.is_file():
        files.append(delta)
    return files


def preprocess(zephyr_root, target, overlays, out, extra_roots=(), zephyr="4.4"):
    """cpp the board DTS plus overlays as Zephyr does; returns the .pre path.
    zephyr: the board's shape, "4.4" (board_files(); what the generated files target by
    default) or "3.7" (the tree as it is)."""
    arch, dts = BOARD_DTS[target]
    cpp = shutil.which("cpp")
    cmd = [cpp, "-x", "assembler-with-cpp", "-nostdinc"]
    for root in [*extra_roots, zephyr_root]:
        for sub in ("include", "include/zephyr", "dts/common", f"dts/{arch}", "dts"):
            if (Path(root) / sub).is_dir():
                cmd += ["-isystem", str(Path(root) / sub)]
    for board_file in board_files(zephyr_root, target, zephyr):
        cmd += ["-include", str(board_file)]
    for overlay in overlays:
        cmd += ["-include", str(overlay)]
    pre = Path(out) / "zephyr.dts.pre"
    cmd += ["-undef", "-D__DTS__", "-o", str(pre), os.devnull]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return pre


def board_edt(zephyr_root, target, overlays, out, zephyr="4.4"):
    """Zephyr's edtlib EDT of the board DTS plus overlays, as a Zephyr build makes it:
    preprocess() with this module's dts/ as a Zephyr module adds it, against the
    tree's bindings and this module's (dts/bindings: the HVL transport)."""
    from devicetree import edtlib
    need_tool("cpp")
    own = [REPO] if (REPO / "dts").is_dir() else []
    pre = preprocess(zephyr_root, target, overlays, out, extra_roots=own, zephyr=zephyr)
    bindings = [str(Path(zephyr_root) / "dts" / "bindings")]
    bindings += [str(r / "dts" / "bindings") for r in own if (r / "dts" / "bindings").is_dir()]
    return edtlib.EDT(str(pre), bindings)


def run(cmd, cwd=None, env=None, check=True):
    """subprocess.run with text output; on failure the assertion shows both streams."""
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                         text=True)
    if check:
        assert res.returncode == 0, (f"{' '.join(map(str, cmd))} exited {res.returncode}\n"
                                     f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")
    return res


# -- west workspaces ------------------------------------------------------------------

# What a manifest repository of this project needs for `west amp-config` to run.
WORKSPACE_FILES = ("west.yml", "pyproject.toml", "scripts", "templates", "boards", "systems",
                   "zephyr", "dts")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache")


def west_env(tmp, **extra):
    """Environment for west/git subprocesses, isolated as west's own tests do: config
    files in tmp (never the user's ~/.westconfig), no ZEPHYR_BASE, a fixed git identity,
    wide help output."""
    env = dict(os.environ)
    for var in ("ZEPHYR_BASE", "WEST_CONFIG_LOCAL", "GIT_DIR", "GIT_WORK_TREE"):
        env.pop(var, None)
    tmp = Path(tmp)
    env.update(WEST_CONFIG_GLOBAL=str(tmp / "westconfig.global"),
               WEST_CONFIG_SYSTEM=str(tmp / "westconfig.system"),
               GIT_CONFIG_GLOBAL=str(tmp / "gitconfig"), GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="amp tests", GIT_AUTHOR_EMAIL="amp@example.invalid",
               GIT_COMMITTER_NAME="amp tests", GIT_COMMITTER_EMAIL="amp@example.invalid",
               COLUMNS="200")
    env.update(extra)
    return env


def copy_project(dst, names=WORKSPACE_FILES):
    """Copy this working tree (uncommitted changes included) into dst."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=_IGNORE)
        elif src.is_file():
            shutil.copy2(src, dst / name)
    return dst


def git_commit_all(repo, env, branch="main"):
    run(["git", "init", "-q", "-b", branch, repo], env=env)
    run(["git", "-C", repo, "add", "-A"], env=env)
    run(["git", "-C", repo, "commit", "-q", "-m", "snapshot for tests"], env=env)


def make_workspace(root, env):
    """A west workspace whose manifest repository is a copy of this project:
    returns the manifest repository's directory (where systems/ is)."""
    root = Path(root)
    manifest = copy_project(root / "zephyr-amp")
    git_commit_all(manifest, env)
    run(["west", "init", "-l", manifest], cwd=root, env=env)
    # west.yml imports Zephyr's manifest; without a Zephyr clone west cannot
    # resolve that import, so leave the zephyr project out
    run(["west", "config", "manifest.project-filter", "--", "-zephyr"], cwd=root, env=env)
    return manifest


@pytest.fixture(scope="session")
def west_workspace(tmp_path_factory):
    """(manifest repository dir, env) of a session-wide temporary west workspace."""
    from conftest import need_tool
    need_tool("west")
    need_tool("git")
    root = tmp_path_factory.mktemp("westws")
    env = west_env(root)
    return make_workspace(root / "ws", env), env


def assert_west_rejects(workspace, path, line, column, message, tmp_path, board_root):
    """`west amp-config PATH` in the workspace fails as a user error should:
    exit 1, exactly one 'FILE:LINE:COLUMN: message' on stderr, no traceback,
    and nothing written."""
    manifest, env = workspace
    out = tmp_path / "out"
    res = subprocess.run(["west", "amp-config", str(path), "-o", str(out),
                          "--board-root", str(board_root)], cwd=manifest, env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert res.stderr.strip() == f"FATAL ERROR: {path}:{line}:{column}: {message}"
    assert list(tmp_path.iterdir()) == []

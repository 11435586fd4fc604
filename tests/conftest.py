"""Shared test fixtures, and the tests' isolation from the machine around them.

Tools (cross compilers, dtc, QEMU) and the devicetree fixtures in
../shared/zephyr-dts are needed by many tests. On a developer machine a
missing one skips the test with the reason; in CI (CI=true), where .ci/run
installs everything, it fails instead, so that a green CI means tested.

Isolation, set up before any test runs (so it holds wherever the clone is):
- temporary directories: west finds a workspace by looking for .west in the
  current directory and every parent, so a temp dir below a workspace (say
  /tmp/.west, made by an earlier `west init -l` of a clone in /tmp) would make
  every "outside a workspace" test run inside it and every `west init` in a
  test fail. When the system's temp dir has a .west above it, the tests use
  the first of /var/tmp, /dev/shm, ~/.cache that has none (and say so).
- west's configuration: WEST_CONFIG_GLOBAL and WEST_CONFIG_SYSTEM point at
  (empty) files of this session, so a user's ~/.westconfig (a project filter,
  zephyr.base) never reaches a west the tests run. ZEPHYR_BASE stays as it is
  for the tests that read it; every test that runs west removes it from that
  west's environment (helpers.west_env, standin_workspace.west_env).
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts" / "west_commands"))


def enclosing_workspace(path):
    """The west topdir at or above path (a folder holding .west), or None."""
    path = Path(path).resolve()
    for d in (path, *path.parents):
        if (d / ".west").is_dir():
            return d
    return None


def _temp_root():
    """A writable temp folder with no west workspace at or above it."""
    default = Path(tempfile.gettempdir())
    if enclosing_workspace(default) is None:
        return default, None
    for cand in (Path("/var/tmp"), Path("/dev/shm"), Path.home() / ".cache"):
        if cand.is_dir() and os.access(cand, os.W_OK) and enclosing_workspace(cand) is None:
            return cand, default
    raise pytest.UsageError(
        f"every temp folder is inside a west workspace ({enclosing_workspace(default)}/.west "
        f"encloses {default}); set TMPDIR to a folder outside any workspace")


_CLEANUP = []


def _isolate():
    root, moved_from = _temp_root()
    if moved_from is not None:
        os.environ["TMPDIR"] = str(root)
        tempfile.tempdir = None          # gettempdir() reads TMPDIR again
        assert Path(tempfile.gettempdir()) == root
    config = Path(tempfile.mkdtemp(prefix="zephyr-amp-westconfig-"))
    _CLEANUP.append(config)
    os.environ["WEST_CONFIG_GLOBAL"] = str(config / "west-global.ini")
    os.environ["WEST_CONFIG_SYSTEM"] = str(config / "west-system.ini")
    os.environ.pop("WEST_CONFIG_LOCAL", None)
    return moved_from, root


_MOVED_FROM, TEMP_ROOT = _isolate()


def pytest_unconfigure(config):
    for path in _CLEANUP:
        shutil.rmtree(path, ignore_errors=True)


def pytest_report_header(config):
    if _MOVED_FROM is not None:
        return (f"temp files in {TEMP_ROOT}: {_MOVED_FROM} is inside the west workspace "
                f"{enclosing_workspace(_MOVED_FROM)}")
    return None

SYSTEMS = sorted((REPO / "systems").glob("*.yaml"))
IN_CI = os.environ.get("CI", "").lower() == "true"


def _zephyr_dts_dir():
    env = os.environ.get("AMP_ZEPHYR_DTS")
    if env:
        return Path(env)
    return REPO.parent / "shared" / "zephyr-dts"


ZEPHYR_DTS = _zephyr_dts_dir()


def need(condition, reason):
    """Skip (developer machine) or fail (CI) when a prerequisite is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


def need_tool(name):
    path = shutil.which(name)
    need(path is not None, f"{name} is not installed (see .ci/run for the package)")
    return path


@pytest.fixture
def repo():
    return REPO


@pytest.fixture
def zephyr_dts():
    """Zephyr's board DTS and bindings: $ZEPHYR_BASE when set, else ../shared/zephyr-dts."""
    base = os.environ.get("ZEPHYR_BASE")
    if base and (Path(base) / "dts" / "bindings").is_dir():
        return Path(base)
    need(ZEPHYR_DTS.is_dir(), f"devicetree fixtures not found at {ZEPHYR_DTS} "
         "(set AMP_ZEPHYR_DTS or ZEPHYR_BASE)")
    return ZEPHYR_DTS

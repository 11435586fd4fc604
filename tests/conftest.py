"""Shared test fixtures.

Tools (cross compilers, dtc, QEMU) and the devicetree fixtures in
../shared/zephyr-dts are needed by many tests. On a developer machine a
missing one skips the test with the reason; in CI (CI=true), where .ci/run
installs everything, it fails instead, so that a green CI means tested.
"""

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts" / "west_commands"))

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

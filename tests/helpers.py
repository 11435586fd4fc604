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

from conftest import REPO, SYSTEMS

DATA = REPO / "tests" / "data"
TEST_BOARDS = DATA / "boards"
# Valid systems beyond the bundled ones, to reach what those do not use
# (firmware in DDR, carveouts, several vdevs, the QEMU boards).
EXTRA_SYSTEMS = sorted((DATA / "valid").glob("*.yaml"))
ALL_SYSTEMS = list(SYSTEMS) + EXTRA_SYSTEMS

# Zephyr board target -> (dts/<arch>, board DTS relative to a Zephyr tree)
BOARD_DTS = {
    "kv260_r5": ("arm", "boards/amd/kv260_r5/kv260_r5.dts"),
    "qemu_cortex_r5": ("arm", "boards/qemu/cortex_r5/qemu_cortex_r5.dts"),
    "qemu_cortex_a53": ("arm64", "boards/qemu/cortex_a53/qemu_cortex_a53.dts"),
}


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

    def run(system):
        system = Path(system)
        if system not in cache:
            out = root / system_id(system).replace(":", "_")
            config.generate(system, out, board_roots=[TEST_BOARDS])
            cache[system] = out
        return cache[system]

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


def preprocess(zephyr_root, target, overlays, out, extra_roots=()):
    """cpp the board DTS plus overlays as Zephyr does; returns the .pre path."""
    arch, dts = BOARD_DTS[target]
    cpp = shutil.which("cpp")
    cmd = [cpp, "-x", "assembler-with-cpp", "-nostdinc"]
    for root in [*extra_roots, zephyr_root]:
        for sub in ("include", "include/zephyr", "dts/common", f"dts/{arch}", "dts"):
            if (Path(root) / sub).is_dir():
                cmd += ["-isystem", str(Path(root) / sub)]
    cmd += ["-include", str(Path(zephyr_root) / dts)]
    for overlay in overlays:
        cmd += ["-include", str(overlay)]
    pre = Path(out) / "zephyr.dts.pre"
    cmd += ["-undef", "-D__DTS__", "-o", str(pre), os.devnull]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return pre


def run(cmd, cwd=None, env=None, check=True):
    """subprocess.run with text output; on failure the assertion shows both streams."""
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                         text=True)
    if check:
        assert res.returncode == 0, (f"{' '.join(map(str, cmd))} exited {res.returncode}\n"
                                     f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")
    return res

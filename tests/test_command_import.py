"""West loads an extension command file by path, without putting its folder
on sys.path, and the library must import from beside it even when the
package is not pip-installed (as in a user's west workspace)."""

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import REPO

COMMANDS = sorted((REPO / "scripts" / "west_commands").glob("amp_*.py"))

# -S: no site processing, so an editable install's finder (a .pth file) is not
# active; site-packages itself is added by hand so that west and jinja2 import.
PROBE = """
import importlib.util, sys
sys.path.append({site!r})
try:
    import zephyr_amp
    sys.exit("zephyr_amp importable before loading the command: probe is not isolated")
except ImportError:
    pass
spec = importlib.util.spec_from_file_location("cmd", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import zephyr_amp
print(zephyr_amp.__file__)
"""


@pytest.mark.parametrize("command", COMMANDS, ids=lambda p: p.stem)
def test_command_imports_library_beside_it(command, tmp_path):
    site = sysconfig.get_paths()["purelib"]
    probe = PROBE.format(site=site, path=str(command))
    out = subprocess.run([sys.executable, "-S", "-c", probe], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    expected = REPO / "scripts" / "west_commands" / "zephyr_amp" / "__init__.py"
    assert out.stdout.strip() == str(expected)


DECOY = '''"""A decoy zephyr_amp: another copy of the package, installed in site-packages."""
__version__ = "9.9.9-decoy"
raise ImportError("the decoy zephyr_amp was imported instead of the workspace's own")
'''


def test_west_runs_the_workspace_library_over_an_installed_copy(tmp_path):
    """Through west's own loading (a workspace whose manifest names this repository), with
    a decoy zephyr_amp in a user site-packages that site.py puts before west's append."""
    import standin_workspace as ws

    userbase = tmp_path / "userbase"
    env = ws.west_env(tmp_path / "config", PYTHONUSERBASE=str(userbase),
                      PYTHONNOUSERSITE="")
    env.pop("PYTHONNOUSERSITE")
    site = subprocess.run(
        [sys.executable, "-c",
         "import site; print(site.getusersitepackages() if site.ENABLE_USER_SITE else '')"],
        env=env, capture_output=True, text=True, check=True).stdout.strip()
    if not site:
        # a virtual environment has no user site-packages: PYTHONPATH is also ahead of
        # the folder west appends
        site = str(tmp_path / "pythonpath")
        env["PYTHONPATH"] = site
    decoy = Path(site) / "zephyr_amp"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text(DECOY)
    probe = subprocess.run([sys.executable, "-c", "import zephyr_amp"], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
    assert "decoy" in probe.stderr, "the decoy is not what a plain import finds"

    top = ws.make(tmp_path / "ws", env, zephyr="absent")
    system = REPO / "systems" / "kv260-rpmsg.yaml"
    for command in (["amp-config", system, "--check"], ["amp-validate", "--help"],
                    ["amp-build", "--help"]):
        out = ws.west(top, "-v", *command, env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "decoy" not in out.stdout + out.stderr
    out = ws.west(top, "-v", "amp-config", system, "--check", env=env)
    library = REPO.resolve() / "scripts" / "west_commands" / "zephyr_amp"
    assert f"zephyr_amp 0.1.0 from {library}" in out.stdout

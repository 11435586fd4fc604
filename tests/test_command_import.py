"""West loads an extension command file by path, without putting its folder
on sys.path, and the library must import from beside it even when the
package is not pip-installed (as in a user's west workspace)."""

import subprocess
import sys
import sysconfig

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

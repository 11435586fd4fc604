"""The tree stays ruff clean (pyproject.toml [tool.ruff]: pycodestyle, pyflakes,
import order), so that CI, which runs the README's test command, checks it."""

import subprocess

from conftest import REPO, need_tool


def test_ruff_check_is_clean():
    ruff = need_tool("ruff")
    r = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", "."],
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

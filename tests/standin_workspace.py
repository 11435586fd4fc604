"""Temporary west workspaces for the amp-build tests and benchmark.

    <topdir>/manifest/west.yml        the workspace's manifest (written here)
    <topdir>/zephyr/                  a git copy of tests/standin_zephyr (NOT Zephyr)
    <topdir>/openamp-system-reference/
                                      a git copy of tests/standin_openamp_sysref (NOT
                                      openamp-system-reference: its sample paths only)
    <topdir>/modules/zephyr-amp       a symlink to this repository (its west commands)

west's configuration is isolated: WEST_CONFIG_GLOBAL and WEST_CONFIG_SYSTEM
point at files in the workspace's parent, ZEPHYR_BASE and the toolchain
variables are removed from the environment.
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STANDIN = REPO / "tests" / "standin_zephyr"
STANDIN_SYSREF = REPO / "tests" / "standin_openamp_sysref"

GIT = ["git", "-c", "user.name=amp-build tests", "-c", "user.email=tests@invalid",
       "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]

MANIFEST = """\
manifest:
  version: "1.2"
  remotes:
    - name: standin
      url-base: https://standin.invalid
  projects:
{zephyr}    - name: openamp-system-reference
      remote: standin
      repo-path: standin-openamp-system-reference
      path: openamp-system-reference
    - name: zephyr-amp
      remote: standin
      path: modules/zephyr-amp
      west-commands: scripts/west-commands.yml
  self:
    path: manifest
"""

ZEPHYR_PROJECT = """\
    - name: zephyr
      remote: standin
      repo-path: standin-zephyr
      path: zephyr
      west-commands: scripts/west-commands.yml
"""

_DROP = ("ZEPHYR_BASE", "ZEPHYR_TOOLCHAIN_VARIANT", "ZEPHYR_SDK_INSTALL_DIR", "CROSS_COMPILE",
         "GNUARMEMB_TOOLCHAIN_PATH", "WEST_DIR")


def west_env(config_dir, **extra):
    """os.environ with west's configuration isolated in config_dir."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    config_dir = Path(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    env["WEST_CONFIG_GLOBAL"] = str(config_dir / "west-global.ini")
    env["WEST_CONFIG_SYSTEM"] = str(config_dir / "west-system.ini")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def west(topdir, *args, env, check=False):
    """Run `python -m west ARGS` in topdir; the CompletedProcess, output as text."""
    return subprocess.run([sys.executable, "-m", "west", *map(str, args)], cwd=topdir, env=env,
                          capture_output=True, text=True, check=check)


def git(cwd, *args):
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True)


def make(topdir, env, zephyr="standin", manifest=None):
    """Make a workspace at topdir. zephyr: 'standin' (a cloned stand-in), 'absent' (no
    project zephyr), 'uncloned' (a project zephyr not fetched). Returns topdir."""
    topdir = Path(topdir)
    (topdir / "manifest").mkdir(parents=True)
    text = manifest or MANIFEST.format(zephyr="" if zephyr == "absent" else ZEPHYR_PROJECT)
    (topdir / "manifest" / "west.yml").write_text(textwrap.dedent(text))
    (topdir / "modules").mkdir()
    (topdir / "modules" / "zephyr-amp").symlink_to(REPO, target_is_directory=True)
    if zephyr == "standin":
        copy_standin(topdir / "zephyr")
    copy_standin(topdir / "openamp-system-reference", STANDIN_SYSREF)
    west(topdir, "init", "-l", topdir / "manifest", env=env, check=True)
    return topdir


def copy_standin(dest, source=STANDIN):
    """tests/standin_zephyr (or another stand-in) as a git repository with one commit."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", f"stand-in {source.name} (tests only)")
    return dest

"""`west amp-config` as a real west extension, in real (temporary) west workspaces.

1. This repository as the manifest repository (`west init -l`): `west help`
   lists amp-config with its help line, and the command writes the same files
   as the library does.
2. The documented integration: a user's own manifest repository lists this
   project with `west-commands: scripts/west-commands.yml`; `west update`
   clones it (from a local bare repository holding a snapshot of this working
   tree, uncommitted changes included), and `west amp-config` works from there.

West's configuration is isolated as in west's own tests: WEST_CONFIG_GLOBAL and
WEST_CONFIG_SYSTEM point at files in the temporary directory, ZEPHYR_BASE is
unset, git gets its own identity and no global config.
"""

import re
import textwrap

import pytest

from conftest import REPO, need_tool
from helpers import copy_project, git_commit_all, make_workspace, run, west_env

HELP_LINE = "generate overlays, resource table and shared-memory layout from a system YAML"


@pytest.fixture
def tools():
    need_tool("west")
    need_tool("git")


def _listed(help_text):
    """amp-config and its help line in `west help` (west wraps long help lines)."""
    flat = re.sub(r"\s+", " ", help_text)
    return f" amp-config: {HELP_LINE} " in flat


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_west_init_l_workspace(tools, tmp_path):
    env = west_env(tmp_path)
    manifest = make_workspace(tmp_path / "ws", env)
    assert (tmp_path / "ws" / ".west" / "config").is_file()
    assert not (tmp_path / "westconfig.global").exists() or \
        "project-filter" not in (tmp_path / "westconfig.global").read_text()

    res = run(["west", "help"], cwd=manifest, env=env)
    assert _listed(res.stdout), res.stdout
    res = run(["west", "amp-config", "-h"], cwd=manifest, env=env)
    assert "usage: west amp-config" in res.stdout and "--check" in res.stdout

    out = tmp_path / "out"
    res = run(["west", "amp-config", "systems/kv260-rpmsg.yaml", "-o", out, "--show"],
              cwd=manifest, env=env)
    assert "kv260-rpmsg: wrote 12 files to" in res.stdout
    assert "memory map of kv260-rpmsg" in res.stdout
    # --show prints the table that memory-map.txt holds
    assert (out / "memory-map.txt").read_text().rstrip("\n") in res.stdout
    assert res.stderr == ""
    # the same bytes as the library writes for the bundled system
    from zephyr_amp import config
    ref = tmp_path / "ref"
    config.generate(REPO / "systems" / "kv260-rpmsg.yaml", ref)
    assert _files(out) == _files(ref)

    # the default output directory is amp/<system> at the workspace top (issue 11: outside
    # build/, which `west build -p` deletes), whatever the cwd inside the workspace
    run(["west", "amp-config", "systems/kv260-split-rpmsg.yaml"], cwd=manifest, env=env)
    assert (tmp_path / "ws" / "amp" / "kv260-split-rpmsg" / "layout.json").is_file()
    assert not (manifest / "build").exists()


def test_west_commands_from_a_project_of_another_manifest(tools, tmp_path):
    env = west_env(tmp_path)
    # a bare repository holding this working tree as it is now
    snapshot = copy_project(tmp_path / "snapshot")
    git_commit_all(snapshot, env)
    bare = tmp_path / "zephyr-amp.git"
    run(["git", "clone", "-q", "--bare", snapshot, bare], env=env)

    ws = tmp_path / "ws"
    app = ws / "app"
    app.mkdir(parents=True)
    (app / "west.yml").write_text(textwrap.dedent(f"""\
        # A user's application manifest that pulls in zephyr-amp for its commands.
        manifest:
          projects:
            - name: zephyr-amp
              url: {bare.as_uri()}
              revision: main
              path: modules/tools/zephyr-amp
              west-commands: scripts/west-commands.yml
        """))
    git_commit_all(app, env)
    run(["west", "init", "-l", app], cwd=ws, env=env)
    run(["west", "update"], cwd=ws, env=env)
    project = ws / "modules" / "tools" / "zephyr-amp"
    assert (project / "scripts" / "west-commands.yml").is_file()

    res = run(["west", "help"], cwd=app, env=env)
    assert re.search(r"extension commands from project zephyr-amp", res.stdout), res.stdout
    assert _listed(res.stdout), res.stdout

    out = tmp_path / "out"
    res = run(["west", "amp-config", project / "systems" / "kv260-split-rpmsg.yaml",
               "-o", out], cwd=app, env=env)
    assert "kv260-split-rpmsg: wrote 20 files" in res.stdout
    assert (out / "rpu1" / "resource_table.c").is_file()

    # errors come back as one line and exit code 1 through this route too
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nboard: kv260\ndomains:\n  - {name: l, os: linux, cores: [x]}\n")
    res = run(["west", "amp-config", bad, "-o", tmp_path / "out2"], cwd=app, env=env,
              check=False)
    assert res.returncode == 1
    assert res.stderr.strip() == (f"FATAL ERROR: {bad}:4:34: domains[0].cores[0]: board "
                                  "kv260 has no core 'x'; cores: a53_0, a53_1, a53_2, "
                                  "a53_3, r5_0, r5_1")
    assert not (tmp_path / "out2").exists()

"""A Zephyr user's first hour, as the README tells it (issue 11).

Each README section a new user follows has a test here that follows it:
- "Quick start": the two commands come first; bootstrap.sh (run on a copy of
  this project, installs skipped) makes a workspace only in the folder it
  names, and the tests isolate themselves from any workspace around them.
- "Use it from your own west workspace": the manifest entry and every command
  of that section, in a temporary workspace whose manifest imports an
  uncloned Zephyr, with a local bare clone as the url.
- Missing Python packages, the default output folder, --list-systems,
  --board-facts, -h texts; the commands without west (cli.py), installed as a
  user installs them.
"""

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import standin_workspace as standin
from conftest import REPO, enclosing_workspace, need, need_tool
from helpers import copy_project, git_commit_all, run, west_env

COMMANDS = REPO / "scripts" / "west_commands"
SYSTEM = REPO / "systems" / "kv260-rpmsg.yaml"
README = (REPO / "README.md").read_text()


def section(title):
    """The text of a README section (## title) up to the next ## heading."""
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.DOTALL | re.MULTILINE)
    assert m, f"README has no section {title!r}"
    return m.group(1)


def blocks(text, lang):
    return [textwrap.dedent(b) for b in re.findall(rf"^ *```{lang}\n(.*?)^ *```", text,
                                                    re.DOTALL | re.MULTILINE)]


def commands(block):
    """Shell lines of a block, continuations joined, comments dropped."""
    joined = block.replace("\\\n", " ")
    return [ln.split("  #")[0].strip() for ln in joined.splitlines()
            if ln.strip() and not ln.strip().startswith("#")]


def cli(*args, cwd, env=None):
    env = dict(env or os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(COMMANDS), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "zephyr_amp", *map(str, args)], cwd=cwd,
                          env=env, check=False, capture_output=True, text=True, timeout=120)


# -- Quick start -----------------------------------------------------------------------

def test_readme_quick_start_is_two_commands_and_comes_first():
    first = re.search(r"^## (.*)$", README, re.MULTILINE).group(1)
    assert first == "Quick start"
    block = blocks(section("Quick start"), "sh")[0]
    assert commands(block) == ["bash scripts/bootstrap.sh", "python3 -m pytest -q"]


@pytest.fixture
def clone(tmp_path):
    """A copy of this project as a user's clone at tmp/home/src/zephyr-amp, with the
    tmp folder itself holding nothing else."""
    need_tool("west")
    need_tool("git")
    path = copy_project(tmp_path / "home" / "src" / "zephyr-amp")
    return path


def _bootstrap(clone, env, *args):
    return subprocess.run(["bash", str(clone / "scripts" / "bootstrap.sh"), "--no-install",
                           *map(str, args)], cwd=clone, env=env, check=False, capture_output=True,
                          text=True, timeout=300)


def test_bootstrap_makes_a_workspace_only_in_the_folder_it_names(clone, tmp_path):
    env = west_env(tmp_path)
    res = _bootstrap(clone, env)
    assert res.returncode == 0, res.stdout + res.stderr
    ws = clone / ".workspace"
    assert f"Workspace: {ws.resolve()}" in res.stdout
    assert (ws / ".west" / "config").is_file()
    # no other folder became a workspace: not the clone, its parents, or tmp
    for d in (clone, *clone.parents):
        assert not (d / ".west").exists(), f"{d} was made a workspace"
    assert (ws / "amp" / "kv260-rpmsg" / "layout.json").is_file()
    assert "memory map of kv260-rpmsg" in res.stdout
    top = run(["west", "topdir"], cwd=ws, env=env).stdout.strip()
    assert Path(top) == ws.resolve()
    # the workspace's manifest repository is this clone, Zephyr left out (west.yml's
    # other project, openamp-system-reference, is listed: not cloned until west update)
    listed = run(["west", "list", "-f", "{name} {abspath}"], cwd=ws, env=env).stdout
    assert listed.split() == ["manifest", str(ws / "zephyr-amp"), "openamp-system-reference",
                              str(ws / "openamp-system-reference")]
    assert not (ws / "openamp-system-reference").exists()
    assert (ws / "zephyr-amp").resolve() == clone.resolve()
    # .workspace/ is git-ignored in the clone
    assert "/.workspace/" in (REPO / ".gitignore").read_text().splitlines()
    # again: the same workspace is reused
    again = _bootstrap(clone, env)
    assert again.returncode == 0 and "already set up" in again.stdout


def test_bootstrap_workspace_dir_and_what_it_refuses(clone, tmp_path):
    env = west_env(tmp_path)
    other = tmp_path / "elsewhere" / "ws"
    res = _bootstrap(clone, env, "--workspace", other)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (other / ".west").is_dir() and (other / "amp" / "kv260-rpmsg").is_dir()
    assert not (clone / ".workspace").exists()

    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    res = _bootstrap(clone, env, "--workspace", full)
    assert res.returncode == 2 and "is not empty" in res.stderr
    assert not (full / ".west").exists()

    res = _bootstrap(clone, env, "--workspace", clone.parent)
    assert res.returncode == 2 and "contains this clone" in res.stderr
    assert not (clone.parent / ".west").exists()


def test_tests_isolate_themselves_from_an_enclosing_workspace(tmp_path):
    """The failure of issue 11: a temp folder below a workspace. The suite's own west
    tests still pass, because conftest moves temp files out of it."""
    need_tool("west")
    enclosing = tmp_path / "encl"
    (enclosing / ".west").mkdir(parents=True)
    tmp = enclosing / "tmp"
    tmp.mkdir()
    # what every test that runs `west init` would meet there
    manifest = tmp / "x" / "manifest"
    manifest.mkdir(parents=True)
    (manifest / "west.yml").write_text("manifest:\n  projects: []\n")
    env = west_env(tmp_path / "cfg", TMPDIR=str(tmp))
    res = run([sys.executable, "-m", "west", "init", "-l", manifest], cwd=tmp, env=env,
              check=False)
    assert res.returncode != 0 and "already initialized" in res.stderr

    res = run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
               "tests/test_west_workspace.py", "tests/test_command_import.py"],
              cwd=REPO, env=env, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert f"{tmp} is inside the west workspace {enclosing}" in res.stdout


def test_this_session_sees_no_workspace_above_its_temp_files(tmp_path):
    assert enclosing_workspace(tmp_path) is None
    assert Path(os.environ["WEST_CONFIG_GLOBAL"]).parent.is_dir()


# -- amp-config for a first-time user -------------------------------------------------------

@pytest.fixture
def absent_ws(tmp_path):
    """A workspace with this repository as a project and no Zephyr."""
    need_tool("git")
    env = standin.west_env(tmp_path / "config")
    return standin.make(tmp_path / "ws", env, zephyr="absent"), env


def test_default_output_is_amp_at_the_workspace_top(absent_ws, tmp_path):
    top, env = absent_ws
    sub = top / "manifest"
    res = standin.west(sub, "amp-config", SYSTEM, env=env)
    assert res.returncode == 0, res.stderr
    out = top / "amp" / "kv260-rpmsg"
    assert f"kv260-rpmsg: wrote 12 files to {out}" in res.stdout
    assert (out / "layout.json").is_file()
    assert not (sub / "amp").exists() and not (top / "build").exists()
    # outside a workspace: the current folder
    here = tmp_path / "here"
    here.mkdir()
    res = cli("amp-config", SYSTEM, cwd=here)
    assert res.returncode == 0, res.stderr
    assert (here / "amp" / "kv260-rpmsg" / "layout.json").is_file()


FAKE = 'raise ModuleNotFoundError("No module named {0!r}", name={0!r})\n'


def test_a_missing_package_is_one_line_with_the_fix(absent_ws, tmp_path):
    """jinja2 is what amp-config imports that west does not (west imports yaml and
    pykwalify itself, and fails before any extension command without them)."""
    top, env = absent_ws
    module = dist = "jinja2"
    fake = tmp_path / "fake"
    (fake / module).mkdir(parents=True)
    (fake / module / "__init__.py").write_text(FAKE.format(module))
    env = dict(env, PYTHONPATH=str(fake))
    line = f"FATAL ERROR: missing Python package {dist}: pip install -r {REPO / 'requirements.txt'}"
    res = standin.west(top, "amp-config", SYSTEM, "-o", tmp_path / "out", env=env)
    assert (res.returncode, res.stderr.strip()) == (2, line), res.stdout + res.stderr
    assert not (tmp_path / "out").exists()
    assert (REPO / "requirements.txt").is_file()
    # -h still works, --check renders nothing and so needs no jinja2, and the same
    # without west
    assert standin.west(top, "amp-config", "-h", env=env).returncode == 0
    res = standin.west(top, "amp-config", SYSTEM, "--check", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    res = cli("amp-config", SYSTEM, "-o", tmp_path / "out", cwd=tmp_path, env=env)
    assert (res.returncode, res.stderr.strip()) == (2, line)


def test_list_systems_gives_paths_that_exist(tmp_path):
    res = cli("amp-config", "--list-systems", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    bundled = sorted((REPO / "systems").glob("*.yaml"))
    for path in bundled:
        name = yaml.safe_load(path.read_text())["name"]
        assert re.search(rf"^{name} +\S+ +{re.escape(str(path))}$", res.stdout, re.MULTILINE), name
    paths = re.findall(r"(/\S+\.yaml)$", res.stdout, re.MULTILINE)
    assert len(paths) == len(bundled) and all(Path(p).is_file() for p in paths)


def test_board_facts_name_what_a_system_uses(tmp_path):
    from zephyr_amp import boards

    for name in boards.known_boards():
        board = boards.load_board(name)
        res = cli("amp-config", "--board-facts", name, cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        words = set(re.findall(r"[\w.-]+", res.stdout))
        for core in board.cores:
            assert core in words, (name, core)
        for mem in board.memory:
            assert mem.name in words, (name, mem.name)
        for mb in board.mailboxes:
            assert mb.name in words, (name, mb.name)
        assert str(board.path) in res.stdout
    res = cli("amp-config", "--board-facts", "kv26", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.strip().startswith("FATAL ERROR: no board 'kv26': ")
    assert len(res.stderr.strip().splitlines()) == 1


def test_help_names_paths_that_exist_and_the_exit_status(absent_ws):
    top, env = absent_ws
    res = standin.west(top, "amp-config", "-h", env=env)
    assert res.returncode == 0
    paths = re.findall(r"(?:^|\s)(/[\w./-]+)", res.stdout, re.MULTILINE)
    assert paths, "no path in amp-config -h"
    for p in paths:
        assert Path(p.rstrip(".")).exists(), p
    assert "Exit status:" in res.stdout
    assert "see systems/" not in res.stdout


def test_quiet_does_not_swallow_requested_output(absent_ws):
    top, env = absent_ws
    res = standin.west(top, "-q", "amp-config", SYSTEM, "--check", "--show", env=env)
    assert res.returncode == 0
    assert "memory map of kv260-rpmsg" in res.stdout
    assert "nothing written" not in res.stdout           # the info line is quiet
    res = standin.west(top, "-q", "amp-config", "--list-systems", env=env)
    assert "kv260-rpmsg" in res.stdout


# -- without west ------------------------------------------------------------------------------

def test_cli_runs_every_west_command_and_writes_the_same_bytes(tmp_path):
    from zephyr_amp import config

    spec = yaml.safe_load((REPO / "scripts" / "west-commands.yml").read_text())
    names = [c["name"] for e in spec["west-commands"] for c in e["commands"]]
    for name in names:
        res = cli(name, "-h", cwd=tmp_path)
        assert res.returncode == 0, (name, res.stderr)
        assert res.stdout.startswith(f"usage: python -m zephyr_amp {name}")
    out = tmp_path / "out"
    res = cli("-v", "amp-config", SYSTEM, "-o", out, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"from {COMMANDS / 'zephyr_amp'}" in res.stdout
    ref = tmp_path / "ref"
    config.generate(SYSTEM, ref)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(ref) for p in ref.rglob("*") if p.is_file())
    assert all((out / f).read_bytes() == (ref / f).read_bytes() for f in files)
    # errors: one line, the command's exit status
    res = cli("amp-config", tmp_path / "nope.yaml", cwd=tmp_path)
    assert (res.returncode, res.stderr.strip()) == (
        1, f"FATAL ERROR: {tmp_path / 'nope.yaml'}: no such file")
    res = cli("amp-build", "--dry-run", cwd=tmp_path)
    assert res.returncode == 2 and "needs a west workspace" in res.stderr
    assert cli(cwd=tmp_path).returncode == 2
    assert cli("amp-nothing", cwd=tmp_path).returncode == 2


def test_console_scripts_are_the_cli_entries():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    scripts = meta["project"]["scripts"]
    spec = yaml.safe_load((REPO / "scripts" / "west-commands.yml").read_text())
    west_names = [c["name"] for e in spec["west-commands"] for c in e["commands"]]
    assert {"amp-config", "amp-validate", "amp-build"} <= set(scripts)
    from zephyr_amp import cli as cli_mod
    for name, target in scripts.items():
        assert name in west_names
        module, func = target.split(":")
        assert module == "zephyr_amp.cli" and callable(getattr(cli_mod, func))


def _pip(*args, cwd):
    res = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                         cwd=cwd, check=False, capture_output=True, text=True, timeout=300)
    need(res.returncode == 0, f"pip {' '.join(args[:2])} failed (no network?): "
         f"{res.stderr.strip()[-300:]}")
    return res


def test_installed_console_scripts_work_and_a_bare_copy_says_what_is_missing(tmp_path):
    """pip install -e of a clone (the console scripts run its command files), and a
    plain pip install, whose copy of the package has no command files beside it."""
    project = copy_project(tmp_path / "clone", names=(
        "pyproject.toml", "README.md", "requirements.txt", "scripts", "templates", "boards",
        "systems"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, capture_output=True)
    py = venv / "bin" / "python"
    res = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "-e",
                          str(project)], check=False, capture_output=True, text=True, timeout=300)
    need(res.returncode == 0, f"pip install -e failed (no network?): {res.stderr[-300:]}")
    res = subprocess.run([str(venv / "bin" / "amp-config"), "--list-systems"], cwd=tmp_path,
                         check=False, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert str(project / "systems" / "kv260-rpmsg.yaml") in res.stdout
    res = subprocess.run([str(venv / "bin" / "amp-validate"), "-h"], check=False,
                         capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("usage: amp-validate")

    target = tmp_path / "plain"
    _pip("install", "-q", "--no-deps", "--target", str(target), str(project), cwd=tmp_path)
    env = dict(os.environ, PYTHONPATH=str(target))
    res = subprocess.run([sys.executable, "-m", "zephyr_amp", "amp-config", "-h"], env=env,
                         cwd=tmp_path, check=False, capture_output=True, text=True)
    assert res.returncode == 2
    assert "has no command files beside it" in res.stderr
    assert "pip install -e" in res.stderr and "Traceback" not in res.stderr


# -- the module and its requirements ---------------------------------------------------------

def test_requirements_are_the_package_dependencies():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    lines = [ln.strip() for ln in (REPO / "requirements.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines == meta["project"]["dependencies"]


def test_module_yml_is_honest():
    meta = yaml.safe_load((REPO / "zephyr" / "module.yml").read_text())
    # keys Zephyr 3.7's module schema knows (it refuses others: the build stops)
    assert set(meta) <= {"name", "build"}
    settings = meta["build"].get("settings", {})
    assert "board_root" not in settings, "boards/ holds no Zephyr board"
    assert set(settings) <= {"dts_root"}
    dts = REPO / settings["dts_root"] / "dts" / "bindings"
    assert any(dts.rglob("*.yaml")), "dts_root adds no binding"
    assert (REPO / "zephyr" / "CMakeLists.txt").is_file() and meta["build"]["cmake"] == "zephyr"
    text = (REPO / "zephyr" / "module.yml").read_text()
    assert text.count("#") >= 4, "module.yml says what each entry does"
    base = os.environ.get("ZEPHYR_BASE")
    if base and (Path(base) / "scripts" / "zephyr_module.py").is_file():
        import pykwalify.core
        sys.path.insert(0, str(Path(base) / "scripts"))
        import zephyr_module
        pykwalify.core.Core(source_data=meta,
                            schema_data=yaml.safe_load(zephyr_module.METADATA_SCHEMA)).validate()


# -- "Use it from your own west workspace", literally ----------------------------------------

OWN = section("Use it from your own west workspace")
# the commands of that section that need a Zephyr tree and a toolchain (their file
# arguments are checked instead); tests/test_real_zephyr.py builds for real
NEEDS_ZEPHYR = ("west build ", "west amp-validate build/zephyr/zephyr.elf")


@pytest.fixture
def own_workspace(tmp_path):
    """A user's workspace: their manifest repository app/ imports an uncloned Zephyr and
    lists zephyr-amp with the README's entry, its url a local bare clone."""
    need_tool("west")
    need_tool("git")
    env = west_env(tmp_path)
    snapshot = copy_project(tmp_path / "snapshot", names=(
        "west.yml", "pyproject.toml", "README.md", "requirements.txt", "scripts", "templates",
        "boards", "systems", "zephyr", "dts"))
    git_commit_all(snapshot, env)
    bare = tmp_path / "zephyr-amp.git"
    run(["git", "clone", "-q", "--bare", snapshot, bare], env=env)
    entry = blocks(OWN, "yaml")[0]
    assert "url: https://github.com/<you>/zephyr-amp" in entry
    entry = entry.replace("https://github.com/<you>/zephyr-amp", bare.as_uri())
    ws = tmp_path / "ws"
    app = ws / "app"
    app.mkdir(parents=True)
    (app / "west.yml").write_text(
        "manifest:\n"
        "  projects:\n"
        "    - name: zephyr\n"
        f"      url: {(tmp_path / 'no-zephyr-here.git').as_uri()}\n"
        "      revision: v4.4.0\n"
        "      import: true\n"
        + textwrap.indent(entry, "" if entry.startswith("    ") else "    "))
    git_commit_all(app, env)
    run(["west", "init", "-l", app], cwd=ws, env=env)
    return ws, env


def _sh(line, cwd, env):
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=env, check=False, capture_output=True,
                          text=True, timeout=300)


def test_own_workspace_section_as_written(own_workspace):
    ws, env = own_workspace
    # before the filter: no extension command at all (what the section warns about)
    res = _sh("west amp-config --list-systems", ws, env)
    assert res.returncode != 0 and 'unknown command "amp-config"' in res.stderr
    (filter_line,) = commands(blocks(OWN, "sh")[1])
    assert filter_line == "west config manifest.project-filter -- -zephyr"
    assert _sh(filter_line, ws, env).returncode == 0

    ran = []
    for line in commands(blocks(OWN, "sh")[0]):
        if line.startswith(NEEDS_ZEPHYR):
            _check_zephyr_line(line, ws, env)
            continue
        if line.startswith("pip install"):
            # offline: resolve against what is installed, install nothing
            line = f"{sys.executable} -m {line} --dry-run --no-index"
        if line.startswith("dtc "):
            need_tool("dtc")
        res = _sh(line, ws, env)
        assert res.returncode == 0, f"{line}\n{res.stdout}\n{res.stderr}"
        ran.append((line, res.stdout))
    assert len(ran) == 6
    project = ws / "modules" / "tools" / "zephyr-amp"
    out = dict(ran)
    assert str(project / "systems" / "kv260-rpmsg.yaml") in out["west amp-config --list-systems"]
    facts = out["west amp-config --board-facts kv260"]
    for shown in blocks(OWN, "text")[0].splitlines():
        assert shown in facts, shown
    assert (ws / "amp" / "kv260-rpmsg" / "layout.json").is_file()
    assert (ws / "amp.dtbo").stat().st_size > 0
    # where the section says things are
    assert (project / "systems").is_dir() and (project / "boards" / "kv260.yaml").is_file()
    assert (project / "requirements.txt").is_file()


def _check_zephyr_line(line, ws, env):
    """A line that needs Zephyr: every file it names exists after the lines before it."""
    top = run(["west", "topdir"], cwd=ws, env=env).stdout.strip()
    words = shlex.split(line.replace("$(west topdir)", top))
    for w in words:
        value = w.split("=", 1)[1] if w.startswith("-D") else w
        if value.endswith((".overlay", ".conf", ".cmake", ".yaml")):
            path = Path(value) if Path(value).is_absolute() else ws / value
            assert path.is_file(), f"{line}: {value} does not exist"


def test_lock_step_default_as_the_section_says(tmp_path):
    from zephyr_amp import config
    from zephyr_amp.errors import InputError

    text = SYSTEM.read_text()
    assert "mode: lockstep" in text
    two = tmp_path / "two-r5.yaml"
    two.write_text(text.replace("    mode: lockstep\n", "") +
                   "  # appended by the test\n")
    data = yaml.safe_load(two.read_text())
    data["domains"].append({"name": "rpu1", "os": "zephyr", "cores": ["r5_1"],
                            "mode": "split"})
    two.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(InputError) as e:
        config.configure(two)
    quoted = re.search(r'\("(core r5_1 is already used by domain \'rpu0\')"\)', OWN).group(1)
    assert quoted in str(e.value)


def test_second_link_names_as_the_section_says(tmp_path):
    from zephyr_amp import config

    data = yaml.safe_load(SYSTEM.read_text())
    first = data["links"][0]
    data["links"].append({"name": "rpmsg1", "type": "rpmsg", "host": first["host"],
                          "remote": first["remote"]})
    system = tmp_path / "two-links.yaml"
    system.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    config.generate(system, out)
    remote = out / first["remote"]
    overlay = (remote / "amp.overlay").read_text()
    layout_h = (remote / "amp_layout.h").read_text()
    rsc_h = (remote / "resource_table.h").read_text()
    snippet = blocks(OWN, "c")[0]
    label = re.search(r"DT_NODELABEL\((\w+)\)", snippet).group(1)
    assert re.search(rf"^\s*{label}: memory@", overlay, re.MULTILINE)
    assert f"zephyr,ipc_shm = &amp_{first['name']}_shm;" in overlay, "the first link"
    for macro in re.findall(r"\bAMP_\w+", snippet):
        assert f"#define {macro} " in layout_h, macro
    for member in ("vdev1", "vdev1_vring0", "vdev1_vring1"):
        assert re.search(rf"\b{member};", rsc_h), member
    assert "#include <amp_layout.h>" in snippet and "include_directories" in \
        (remote / "amp.cmake").read_text()


def test_library_logs_reach_the_command_by_verbosity():
    """zephyr_amp.forward_logs: warnings always, info with -v, debug with -vv."""
    import logging

    from west.commands import Verbosity

    import zephyr_amp

    class Cmd:
        def __init__(self):
            self.seen = []

        def wrn(self, text):
            self.seen.append(("wrn", text))

        def dbg(self, text, level=Verbosity.DBG):
            self.seen.append((level, text))

    cmd = Cmd()
    top = logging.getLogger("zephyr_amp")
    level = top.level
    zephyr_amp.forward_logs(cmd)
    handler = zephyr_amp.forward_logs(cmd)          # twice: still one handler
    try:
        log = logging.getLogger("zephyr_amp.build")
        log.warning("w")
        log.info("i")
        log.debug("d")
    finally:
        top.removeHandler(handler)
        top.setLevel(level)
    assert cmd.seen == [("wrn", "w"), (Verbosity.DBG, "i"), (Verbosity.DBG_MORE, "d")]

"""`west amp-build`, run for real in temporary west workspaces.

The workspace's project `zephyr` is the stand-in of tests/standin_zephyr (NOT
Zephyr; see its README): its `west build` links real firmware with the cross
compilers from the files amp-config generates, so every validation here runs
on a real ELF. west's configuration is isolated (tests/standin_workspace.py).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest
from elftools.elf.elffile import ELFFile

import standin_workspace as sw
from conftest import REPO, need, need_tool
from zephyr_amp import build, matrix, toolchain

BUNDLED = matrix.load().jobs
MACHINE = {"kv260_r5": "EM_ARM", "qemu_cortex_r5": "EM_ARM", "qemu_cortex_a53": "EM_AARCH64"}
PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] (\S+) (\S+) \((\S+):(\S+)\)(?: \[\S+\])? \.\.\. "
                      r"(ok|up to date|FAILED \(.*\)) \d+(?:\.\d)? s$")


def tools():
    need_tool("arm-none-eabi-gcc")
    need_tool("aarch64-linux-gnu-gcc")
    need_tool("git")


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    tools()
    base = tmp_path_factory.mktemp("amp-build")
    env = sw.west_env(base / "config")
    return SimpleNamespace(top=sw.make(base / "ws", env), env=env, base=base)


def amp_build(ws, *args, env=None, top=None):
    r = sw.west(top or ws.top, "amp-build", *args, env=env or ws.env)
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def full(ws):
    """The whole bundled matrix, two builds at a time."""
    out = ws.base / "full"
    r = amp_build(ws, "-j", "2", "--json", out / "result.json", "--junit", out / "junit.xml")
    return SimpleNamespace(proc=r, doc=json.loads((out / "result.json").read_text()),
                           junit=out / "junit.xml")


def results(doc):
    return {r["id"]: r for r in doc["results"]}


def write_matrix(tmp_path, entries, system_dir=REPO / "systems"):
    path = tmp_path / "m.yaml"
    path.write_text(f"version: 1\nsystem-dir: {system_dir}\nentries:\n"
                    + textwrap.indent(textwrap.dedent(entries), "  "))
    return path


# one entry of the bundled matrix
ONE = ("--only-system", "kv260-rpmsg", "--sample", "openamp_rsc_table")

RSC = """\
- sample: zephyr/samples/subsys/ipc/openamp_rsc_table
  board: kv260_r5
  system: kv260-rpmsg.yaml
  domain: rpu0
"""


def rsc(name):
    """The RSC entry with a name of its own."""
    return f"- name: {name}\n  " + RSC[2:]


# -- the bundled matrix, green ------------------------------------------------------

def test_full_bundled_matrix_passes(full):
    r = full.proc
    assert r.returncode == 0, r.stdout + r.stderr
    doc = full.doc
    assert doc["ok"] is True
    assert doc["counts"] == {"total": len(BUNDLED), "passed": len(BUNDLED),
                             "built": len(BUNDLED), "up_to_date": 0, "failed": 0,
                             "lint_errors": 0}
    got = results(doc)
    assert sorted(got) == sorted(j.id for j in BUNDLED)
    for job in BUNDLED:
        res = got[job.id]
        assert res["status"] == "ok", res
        elf = Path(res["elf"])
        with open(elf, "rb") as f:
            assert ELFFile(f)["e_machine"] == MACHINE[job.board_name]
        report = json.loads((elf.parents[2] / "validation.json").read_text())
        assert report["ok"] is True and report["domain"] == job.domain
        assert "this is not Zephyr" in Path(res["log"]).read_text()
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("[")]
    assert len(lines) == len(BUNDLED)
    for n, line in enumerate(lines, 1):
        m = PROGRESS.match(line)
        assert m, line
        assert (int(m.group(1)), int(m.group(2)), m.group(7)) == (n, len(BUNDLED), "ok")
    assert re.search(r"^board +sample +system:domain +result +time$", r.stdout, re.MULTILINE)
    assert f"{len(BUNDLED)} builds: {len(BUNDLED)} passed (0 up to date), 0 failed" in r.stdout


def test_the_real_west_build_command_line(full):
    """What each entry ran: west build -b BOARD -d DIR SAMPLE -- -D... with the generated
    overlay, conf and CMake snippet of its own system and domain."""
    root = Path(full.doc["build_root"])
    for job in BUNDLED:
        cmd = results(full.doc)[job.id]["command"]
        at = cmd.index("build")
        gen = root / "amp" / job.system_name / job.domain
        assert cmd[at:] == [
            "build", "-b", job.board, "-d", str(root / job.id / "build"), "--pristine=auto",
            str(Path(full.doc["workspace"]) / job.sample), "--",
            f"-DEXTRA_DTC_OVERLAY_FILE={gen / 'amp.overlay'}",
            f"-DEXTRA_CONF_FILE={gen / 'amp.conf'}",
            f"-DAMP_CMAKE={gen / 'amp.cmake'}"]
        assert (gen / "amp.cmake").is_file()


def test_builds_run_in_parallel_with_j2(full):
    """From the results' own timestamps: some builds overlapped, never more than two."""
    spans = sorted((r["started"], r["finished"]) for r in full.doc["results"])
    assert len(spans) >= 3
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans],
                    key=lambda ev: (ev[0], ev[1]))
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 2, spans


def test_second_run_is_up_to_date_and_builds_nothing(full, ws):
    before = {}
    for res in full.doc["results"]:
        for key in ("elf", "log"):
            before[res[key]] = os.stat(res[key]).st_mtime_ns
    out = ws.base / "again.json"
    r = amp_build(ws, "-j", "2", "--json", out)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(out.read_text())
    assert {res["status"] for res in doc["results"]} == {"up-to-date"}
    assert doc["counts"]["built"] == 0
    assert {p: os.stat(p).st_mtime_ns for p in before} == before   # nothing rebuilt or relogged
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("[")]
    assert len(lines) == len(BUNDLED)
    assert all(PROGRESS.match(ln).group(7) == "up to date" for ln in lines)
    assert (f"{len(BUNDLED)} builds: {len(BUNDLED)} passed ({len(BUNDLED)} up to date), "
            "0 failed") in r.stdout


def test_junit_xml_as_ci_reporters_read_it(full):
    root = ET.parse(full.junit).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == \
        (str(len(BUNDLED)), "0", "0")
    suites = root.findall("testsuite")
    assert {s.get("name") for s in suites} == {f"amp-build.{j.board}" for j in BUNDLED}
    cases = []
    for s in suites:
        mine = s.findall("testcase")
        assert s.get("tests") == str(len(mine))
        assert (s.get("failures"), s.get("errors"), s.get("skipped")) == ("0", "0", "0")
        float(s.get("time"))
        assert s.get("timestamp")
        for c in mine:
            assert c.get("classname") == s.get("name")
            assert float(c.get("time")) > 0
            assert c.find("failure") is None and c.find("error") is None
            assert "status: ok" in c.find("system-out").text
            cases.append(c.get("name"))
    assert sorted(cases) == sorted(j.id for j in BUNDLED)


def test_json_result_document(full):
    doc = full.doc
    assert (doc["format"], doc["version"], doc["jobs"], doc["shard"]) == \
        ("zephyr-amp-build", 1, 2, None)
    assert doc["matrix"] == str(matrix.DEFAULT_MATRIX)
    assert doc["finished"] >= doc["started"]
    for res in doc["results"]:
        assert res["finished"] >= res["started"]
        assert res["findings"] == [] or all(f["severity"] != "error" for f in res["findings"])
        assert res["expect"].get("run") in ("qemu", "remoteproc", None)


def test_each_build_says_when_it_starts_and_where_its_log_is(full):
    root = Path(full.doc["build_root"])
    starts = [ln for ln in full.proc.stdout.splitlines() if ln.startswith("building ")]
    assert sorted(starts) == sorted(f"building {j.label}; log: {root / j.id / 'build.log'}"
                                    for j in BUNDLED)
    out = full.proc.stdout
    for job in BUNDLED:          # a build starts before it ends
        start = out.index(f"building {job.label}; log:")
        assert start < out.index(f"] {job.label} ... ok")


# -- output: -v, -q, --json to stdout, --only-system ---------------------------

def test_verbose_shows_the_west_build_command_line(ws, tmp_path):
    r = sw.west(ws.top, "-v", "amp-build", "--only-system", "kv260-rpmsg", "--build-root",
                tmp_path / "out", env=ws.env)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("building "))
    assert lines[at + 1].startswith("  ") and " build -b kv260_r5 -d " in lines[at + 1], \
        lines[at + 1]
    assert str(tmp_path / "out" / "kv260_r5-openamp_rsc_table-kv260-rpmsg-rpu0" / "build") \
        in lines[at + 1]
    quiet = amp_build(ws, "--only-system", "kv260-rpmsg", "--build-root", tmp_path / "out")
    assert not any(ln.startswith("  ") and " build -b " in ln for ln in quiet.stdout.splitlines())


def test_machine_output_survives_west_q(ws, tmp_path):
    e = sw.west(ws.top, "-q", "amp-build", "--emit-matrix", "github", env=ws.env)
    assert e.returncode == 0, e.stderr
    assert json.loads(e.stdout)["include"]
    args = (*ONE, "--build-root", tmp_path / "out")
    r = sw.west(ws.top, "-q", "amp-build", *args, "--json", env=ws.env)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)                                   # stdout is the JSON alone
    assert doc["format"] == "zephyr-amp-build" and doc["counts"]["passed"] == 1
    assert r.stderr == ""                                        # and -q silenced the rest


def test_json_to_stdout_moves_the_progress_to_stderr(ws, tmp_path):
    args = (*ONE, "--build-root", tmp_path / "out")
    for json_args in (["--json"], ["--json", "-"]):
        r = amp_build(ws, *args, *json_args)
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout)["ok"] is True
        assert re.search(r"^\[1/1\] kv260_r5 .* \.\.\. (ok|up to date)", r.stderr, re.MULTILINE)
        assert "1 builds: 1 passed" in r.stderr


def test_old_system_spelling_still_filters(ws):
    new = amp_build(ws, "--emit-matrix", "github", "--shards", "1", "--only-system",
                    "qemu-a53-ivshmem")
    old = amp_build(ws, "--emit-matrix", "github", "--shards", "1", "--system",
                    "qemu-a53-ivshmem")
    assert new.returncode == old.returncode == 0, new.stderr + old.stderr
    assert new.stdout == old.stdout and json.loads(new.stdout)["include"][0]["count"] == 2


def test_standin_work_is_cpu_work_the_benchmark_can_ask_for(ws, tmp_path):
    """STANDIN_WORK_MIB (benchmarks/bench_build.py) reaches the stand-in build through
    amp-build's environment: it hashes that much, and says so in the entry's log."""
    env = dict(ws.env, STANDIN_WORK_MIB="3")
    args = (*ONE, "--build-root", tmp_path / "out", "--json", tmp_path / "r.json")
    r = amp_build(ws, *args, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    (res,) = json.loads((tmp_path / "r.json").read_text())["results"]
    assert "-- stand-in work: 3 MiB hashed (sha256 " in Path(res["log"]).read_text()
    r = amp_build(ws, *args, "--pristine", env=dict(ws.env, STANDIN_WORK_MIB="lots"))
    assert r.returncode == 1
    assert "FATAL ERROR: STANDIN_WORK_MIB must be a whole number of MiB" in r.stdout


def test_a_missing_package_of_a_lazy_stage_is_one_line(ws, tmp_path):
    """jinja2 is imported only when a system must be configured: when it is not
    installed, that moment gives the one-line fix (exit 2), not a traceback."""
    decoy = tmp_path / "decoy"
    (decoy / "jinja2").mkdir(parents=True)
    (decoy / "jinja2" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'jinja2'\", name='jinja2')\n")
    env = dict(ws.env, PYTHONPATH=str(decoy))
    r = amp_build(ws, "--only-system", "kv260-rpmsg", "--build-root", tmp_path / "out", env=env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip() == ("FATAL ERROR: missing Python package jinja2: pip install -r "
                                f"{REPO / 'requirements.txt'}")


# -- a user's boards: --board-root ----------------------------------------------

def test_board_root_reaches_every_system(ws, tmp_path):
    """A system on a board that exists only in a user's board folder: without
    --board-root the entry cannot configure, with it it builds and validates."""
    boards = tmp_path / "boards"
    boards.mkdir()
    text = (REPO / "boards" / "kv260.yaml").read_text()
    (boards / "my_kv260.yaml").write_text(text.replace("name: kv260", "name: my_kv260", 1))
    systems = tmp_path / "systems"
    systems.mkdir()
    sys_text = (REPO / "systems" / "kv260-rpmsg.yaml").read_text()
    assert "board: kv260\n" in sys_text
    (systems / "mine.yaml").write_text(sys_text.replace("board: kv260\n", "board: my_kv260\n"))
    m = write_matrix(tmp_path, RSC.replace("kv260-rpmsg.yaml", "mine.yaml"), systems)
    out = ("--build-root", tmp_path / "out")
    r = amp_build(ws, "--matrix", m, *out, "--dry-run")
    assert r.returncode == 1 and "unknown board 'my_kv260'" in r.stdout, r.stdout + r.stderr
    r = amp_build(ws, "--matrix", m, *out, "--board-root", boards, "--json", tmp_path / "r.json")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert [x["status"] for x in doc["results"]] == ["ok"]
    assert doc["board_roots"] == [str(boards.resolve())]


# -- configure once, and not at all when nothing changed -----------------------------

def configured(r):
    """{system file name: 'configured' | 'recalled'} from the -vv log lines."""
    got = {}
    for m in re.finditer(r"^(\S+\.yaml): (configuring|generated files recalled)", r.stdout,
                         re.MULTILINE):
        assert m.group(1) not in got, f"{m.group(1)} configured twice"
        got[m.group(1)] = "configured" if m.group(2) == "configuring" else "recalled"
    return got


def test_systems_are_configured_once_and_recalled_when_unchanged(ws, tmp_path):
    systems = tmp_path / "systems"
    systems.mkdir()
    shutil.copy(REPO / "systems" / "kv260-split-rpmsg.yaml", systems)
    entries = RSC.replace("kv260-rpmsg.yaml", "kv260-split-rpmsg.yaml")
    m = write_matrix(tmp_path, entries + entries.replace("rpu0", "rpu1"), systems)
    args = ("-vv", "amp-build", "--matrix", m, "--build-root", tmp_path / "out")

    def run():
        r = sw.west(ws.top, *args, env=ws.env)
        assert r.returncode == 0, r.stdout + r.stderr
        return configured(r)

    assert run() == {"kv260-split-rpmsg.yaml": "configured"}     # two entries, once
    assert run() == {"kv260-split-rpmsg.yaml": "recalled"}
    gen = tmp_path / "out" / "amp" / "kv260-split-rpmsg" / "rpu0" / "amp.conf"
    good = gen.read_text()
    gen.write_text(good + "CONFIG_EDITED=y\n")                   # a generated file edited
    assert run() == {"kv260-split-rpmsg.yaml": "configured"}
    assert gen.read_text() == good
    assert run() == {"kv260-split-rpmsg.yaml": "recalled"}
    (systems / "kv260-split-rpmsg.yaml").write_text(
        (systems / "kv260-split-rpmsg.yaml").read_text() + "\n# a comment\n")
    assert run() == {"kv260-split-rpmsg.yaml": "configured"}     # the system's bytes changed


def test_up_to_date_run_needs_neither_the_pipeline_nor_the_elf_reader(full, ws):
    """What an up-to-date run imports (the library's part of amp-build's start-up):
    no jinja2 (templates), pykwalify (schemas) or elftools (ELF), and no board or
    system is parsed (boards.py, model.py are not even loaded)."""
    code = textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(REPO / "scripts" / "west_commands")!r})
        from pathlib import Path
        from zephyr_amp import build, matrix
        # the version amp-build reads through west's manifest (the stand-in has no VERSION)
        plan = build.plan(matrix.load().jobs, {full.doc["build_root"]!r}, {str(ws.top)!r},
                          zephyr_version="4.4")
        plan.zephyr = Path({str(ws.top / "zephyr")!r})
        build.lint(plan.topdir, [s.job.sample for s in plan.steps])
        results = build.execute(plan, 2)
        assert {{r.status for r in results}} == {{"up-to-date"}}, [r.message for r in results]
        heavy = {{"jinja2", "pykwalify", "elftools", "zephyr_amp.boards", "zephyr_amp.model",
                 "zephyr_amp.render", "zephyr_amp.config", "zephyr_amp.elfcheck"}}
        print(" ".join(sorted(heavy & (set(sys.modules) | {{m.split(".")[0]
                                                           for m in sys.modules}}))))
        """)
    r = subprocess.run([sys.executable, "-c", code], cwd=ws.top, env=ws.env,
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == ""


# -- failures -----------------------------------------------------------------------

def test_entry_that_breaks_a_layout_rule_fails_with_that_finding(ws, tmp_path):
    """An extra conf in the entry makes the stand-in link 256 bytes outside every memory
    of the R5: the build passes, the validation fails with SEG-04, the good entry passes."""
    (tmp_path / "stray.conf").write_text("CONFIG_STANDIN_STRAY_ADDR=0x10000000\n")
    m = write_matrix(tmp_path, RSC + rsc("stray") + "  extra-conf: [stray.conf]\n")
    r = amp_build(ws, "--matrix", m, "--build-root", tmp_path / "out", "--json",
                  tmp_path / "r.json", "--junit", tmp_path / "j.xml")
    assert r.returncode == 1, r.stdout + r.stderr
    got = results(json.loads((tmp_path / "r.json").read_text()))
    assert got["kv260_r5-openamp_rsc_table-kv260-rpmsg-rpu0"]["status"] == "ok"
    bad = got["stray"]
    assert (bad["status"], bad["stage"]) == ("failed", "validate")
    errors = [f for f in bad["findings"] if f["severity"] == "error"]
    assert [(f["rule"], f["object"]) for f in errors] == [("SEG-04",
                                                          "segment 2 (.standin_stray)")]
    assert errors[0]["ranges"] == [{"start": 0x10000000, "end": 0x10000100}]
    assert re.search(r"^\[\d/2\] kv260_r5 .* \[stray\] \.\.\. FAILED \(validate: SEG-04\)",
                     r.stdout, re.MULTILINE)
    assert "SEG-04 segment 2 (.standin_stray): segment [0x10000000,+0x100) is outside" in r.stdout
    assert f"findings: {tmp_path / 'out' / 'stray' / 'validation.json'}" in r.stdout
    case = next(c for c in ET.parse(tmp_path / "j.xml").getroot().iter("testcase")
                if c.get("name") == "stray")
    assert case.find("failure").get("type") == "validate"
    assert "SEG-04" in case.find("failure").text
    assert not (tmp_path / "out" / "stray" / build.STAMP).exists()


def test_failed_build_shows_the_tail_of_its_log_and_where_it_is(ws, tmp_path):
    (tmp_path / "broken.conf").write_text("CONFIG_STANDIN_STRAY_ADDR=no_such_address\n")
    m = write_matrix(tmp_path, rsc("broken") + "  extra-conf: [broken.conf]\n")
    r = amp_build(ws, "--matrix", m, "--build-root", tmp_path / "out")
    assert r.returncode == 1, r.stdout + r.stderr
    log = tmp_path / "out" / "broken" / "build.log"
    assert "--- broken: FAILED (build): west build exited with status 1" in r.stdout
    assert f"lines of {log}:" in r.stdout
    assert re.search(r"^  \| .*ld.*linker\.cmd:\d+: non constant or forward reference", r.stdout,
                     re.MULTILINE), r.stdout
    assert f"full log: {log}" in r.stdout
    assert "non constant or forward reference" in log.read_text()
    assert "0 passed (0 up to date), 1 failed" in r.stdout


def test_entries_that_cannot_be_configured_fail_alone(ws, tmp_path):
    """A domain that is not a Zephyr domain of its system, or a board that is not the
    domain's target: those entries fail (stage config) with the reason, the rest builds."""
    m = write_matrix(tmp_path, RSC + rsc("linux").replace("domain: rpu0", "domain: linux")
                     + rsc("board").replace("board: kv260_r5", "board: qemu_cortex_r5"))
    out = tmp_path / "r.json"
    r = amp_build(ws, "--matrix", m, "--build-root", tmp_path / "out", "--json", out,
                  "--junit", tmp_path / "j.xml")
    assert r.returncode == 1, r.stdout + r.stderr
    got = results(json.loads(out.read_text()))
    assert got["kv260_r5-openamp_rsc_table-kv260-rpmsg-rpu0"]["status"] == "ok"
    assert (got["linux"]["status"], got["linux"]["stage"]) == ("failed", "config")
    assert got["linux"]["message"] == (f"{m}:8: domain 'linux' of kv260-rpmsg.yaml runs linux, "
                                       "not Zephyr; its Zephyr domains: rpu0")
    assert got["board"]["message"] == (
        f"{m}:13: board qemu_cortex_r5 is not the target of kv260-rpmsg:rpu0 (kv260_r5); the "
        "generated overlay is written for that board: build with board: kv260_r5, or set "
        "target: in the system")
    assert not (tmp_path / "out" / "linux").exists()       # nothing was built for them
    assert "--- board: FAILED (config): " in r.stdout
    errors = [c.find("error") for c in ET.parse(tmp_path / "j.xml").getroot().iter("testcase")]
    assert sorted(e.get("type") for e in errors if e is not None) == ["config", "config"]
    d = amp_build(ws, "--matrix", m, "--dry-run")
    assert d.returncode == 1
    assert f"  cannot configure: {got['linux']['message']}" in d.stdout


# -- incremental --------------------------------------------------------------------

def test_changed_inputs_rebuild_only_their_entries(ws, tmp_path):
    systems = tmp_path / "systems"
    systems.mkdir()
    for name in ("kv260-rpmsg.yaml", "kv260-split-rpmsg.yaml"):
        shutil.copy(REPO / "systems" / name, systems / name)
    (tmp_path / "extra.conf").write_text("CONFIG_STANDIN_NOTE=1\n")
    m = write_matrix(tmp_path, RSC + "  extra-conf: [extra.conf]\n" + textwrap.dedent("""\
        - samples: [zephyr/samples/subsys/ipc/openamp_rsc_table]
          board: kv260_r5
          system: kv260-split-rpmsg.yaml
          domain: rpu1
        """), systems)
    one, split = "kv260_r5-openamp_rsc_table-kv260-rpmsg-rpu0", \
        "kv260_r5-openamp_rsc_table-kv260-split-rpmsg-rpu1"

    def statuses():
        out = tmp_path / "r.json"
        r = amp_build(ws, "--matrix", m, "--build-root", tmp_path / "out", "--json", out)
        assert r.returncode == 0, r.stdout + r.stderr
        return {k: v["status"] for k, v in results(json.loads(out.read_text())).items()}

    assert statuses() == {one: "ok", split: "ok"}
    assert statuses() == {one: "up-to-date", split: "up-to-date"}
    text = (systems / "kv260-split-rpmsg.yaml").read_text()
    (systems / "kv260-split-rpmsg.yaml").write_text(text.replace("vring: {num: 16}",
                                                                 "vring: {num: 32}"))
    assert statuses() == {one: "up-to-date", split: "ok"}        # the system changed
    (tmp_path / "extra.conf").write_text("CONFIG_STANDIN_NOTE=2\n")
    assert statuses() == {one: "ok", split: "up-to-date"}        # the entry's conf changed
    elf = tmp_path / "out" / split / "build" / "zephyr" / "zephyr.elf"
    elf.write_bytes(elf.read_bytes() + b"\0")
    assert statuses() == {one: "up-to-date", split: "ok"}        # not the ELF of the stamp


def test_changed_sample_tree_and_pristine_rebuild(tmp_path):
    tools()
    env = sw.west_env(tmp_path / "config")
    top = sw.make(tmp_path / "ws", env)
    ws_ = SimpleNamespace(top=top, env=env)
    args = ("--sample", "openamp_rsc_table", "--only-system", "kv260-rpmsg", "--json",
            tmp_path / "r.json")

    def status(*extra):
        r = amp_build(ws_, *args, *extra)
        assert r.returncode == 0, r.stdout + r.stderr
        return [v["status"] for v in json.loads((tmp_path / "r.json").read_text())["results"]]

    assert status() == ["ok"]
    assert status() == ["up-to-date"]
    main_c = top / "zephyr" / "samples" / "subsys" / "ipc" / "openamp_rsc_table" / "src" / "main.c"
    main_c.write_text(main_c.read_text().replace("return len;", "return len + 1;"))
    assert status() == ["ok"]                    # the tree is dirty now: a new revision
    assert status() == ["up-to-date"]            # and the same dirty state again
    assert status("--pristine") == ["ok"]
    # a build root inside the sample's repository is not an input of its own builds
    inside = ("--build-root", top / "zephyr" / "build" / "amp-build")
    assert status(*inside) == ["ok"]
    assert status(*inside) == ["up-to-date"]


# -- planning without Zephyr, shards, the CI matrix ---------------------------------

def test_dry_run_plans_without_zephyr(tmp_path):
    env = sw.west_env(tmp_path / "config")
    top = sw.make(tmp_path / "ws", env, zephyr="uncloned")
    r = sw.west(top, "amp-build", "--dry-run", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    root = top / "build" / "amp-build"
    assert not root.exists()                                      # it only plans
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"amp-build --dry-run: {len(BUNDLED)} of {len(BUNDLED)} entries "
                               f"of {matrix.DEFAULT_MATRIX};")
    for i, job in enumerate(BUNDLED):
        at = lines.index(f"[{i + 1}/{len(BUNDLED)}] {job.label}")
        gen = root / "amp" / job.system_name / job.domain
        assert lines[at + 1].endswith(
            f" build -b {job.board} -d {root / job.id / 'build'} --pristine=auto "
            f"{top / job.sample} -- -DEXTRA_DTC_OVERLAY_FILE={gen / 'amp.overlay'} "
            f"-DEXTRA_CONF_FILE={gen / 'amp.conf'} -DAMP_CMAKE={gen / 'amp.cmake'}")
        assert lines[at + 2] == f"  then check {root / job.id / 'build/zephyr/zephyr.elf'} " \
                                f"against {job.system_name}:{job.domain}"
    e = sw.west(top, "amp-build", "--emit-matrix", "github", env=env)
    assert e.returncode == 0, e.stderr
    assert json.loads(e.stdout)["include"]


def test_elf_is_named_by_the_builds_kernel_bin_name(full):
    """rpmsg_multi_services sets CONFIG_KERNEL_BIN_NAME (its stand-in too): Zephyr then
    writes build/zephyr/rpmsg_multi_services.elf, and amp-build validates that one."""
    (res,) = [r for r in full.doc["results"] if r["sample"].endswith("/rpmsg_multi_services")]
    elf = Path(res["elf"])
    assert elf.name == "rpmsg_multi_services.elf" and elf.is_file(), res
    assert not (elf.parent / "zephyr.elf").exists()
    assert json.loads((elf.parents[2] / "validation.json").read_text())["ok"] is True
    others = [r for r in full.doc["results"] if r is not res]
    assert others and all(Path(r["elf"]).name == "zephyr.elf" for r in others)


def test_kernel_bin_name_of_a_dot_config(tmp_path):
    conf = tmp_path / ".config"
    assert build.kernel_bin_name(conf) == "zephyr"                 # no build yet
    conf.write_text('CONFIG_FOO=y\nCONFIG_KERNEL_BIN_NAME="rpmsg_multi_services"\n')
    assert build.kernel_bin_name(conf) == "rpmsg_multi_services"
    conf.write_text("CONFIG_FOO=y\n")
    assert build.kernel_bin_name(conf) == "zephyr"


STAGING_MATRIX = REPO / "matrix" / "amp-matrix-staging.yaml"


@pytest.mark.parametrize("how", ["file", "project"])
def test_staging_workspace_defaults_to_the_staging_matrix(tmp_path, how):
    """In a workspace of west-staging.yml (its manifest file's name, or a zephyr project
    from openamp-zephyr-staging) amp-build reads amp-matrix-staging.yaml without --matrix;
    elsewhere amp-matrix.yaml (test_dry_run_plans_without_zephyr)."""
    env = sw.west_env(tmp_path / "config")
    repo = "openamp-zephyr-staging" if how == "project" else "standin-zephyr"
    text = sw.MANIFEST.format(zephyr=sw.ZEPHYR_PROJECT.replace("standin-zephyr", repo))
    top = sw.make(tmp_path / "ws", env, zephyr="uncloned", manifest=text)
    if how == "file":
        (top / "manifest" / "west.yml").rename(top / "manifest" / "west-staging.yml")
        sw.west(top, "config", "manifest.file", "west-staging.yml", env=env, check=True)
    staging = matrix.load(STAGING_MATRIX).jobs
    r = sw.west(top, "amp-build", "--dry-run", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[0].startswith(
        f"amp-build --dry-run: {len(staging)} of {len(staging)} entries of {STAGING_MATRIX};")
    e = sw.west(top, "amp-build", "--emit-matrix", "github", "--shards", "1", env=env)
    assert sorted(json.loads(e.stdout)["include"][0]["entries"].split()) == \
        sorted(j.id for j in staging)
    m = sw.west(top, "amp-build", "--dry-run", "--matrix", matrix.DEFAULT_MATRIX, env=env)
    assert f"entries of {matrix.DEFAULT_MATRIX};" in m.stdout.splitlines()[0]   # --matrix wins


V37 = "VERSION_MAJOR = 3\nVERSION_MINOR = 7\nPATCHLEVEL = 0\nVERSION_TWEAK = 0\nEXTRAVERSION =\n"


def test_generates_for_the_workspaces_zephyr_version(tmp_path):
    """amp-build generates for the Zephyr of its workspace (zephyr/VERSION), as amp-config
    does: lib/open-amp's rsc_table_get() of 3.7 takes struct fw_resource_table **, of
    4.4 void **. Changing the tree's version configures the system again."""
    tools()
    env = sw.west_env(tmp_path / "config")
    top = sw.make(tmp_path / "ws", env)
    header = tmp_path / "out" / "amp" / "kv260-rpmsg" / "rpu0" / "resource_table.h"
    for version, text, decl in (
            ("3.7", V37, "void rsc_table_get(struct fw_resource_table **table_ptr, int *length);"),
            ("4.4", V37.replace("= 3", "= 4").replace("= 7", "= 4"),
             "void rsc_table_get(void **table_ptr, int *length);")):
        (top / "zephyr" / "VERSION").write_text(text)
        r = sw.west(top, "amp-build", *ONE, "--build-root", tmp_path / "out", env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert decl in header.read_text().splitlines(), version


def test_default_matrix_by_manifest():
    assert matrix.default_for() == matrix.DEFAULT_MATRIX
    assert matrix.default_for("/ws/zephyr-amp/west.yml",
                              "https://github.com/zephyrproject-rtos/zephyr") == \
        matrix.DEFAULT_MATRIX
    assert matrix.default_for("/ws/zephyr-amp/west-staging.yml") == STAGING_MATRIX
    for url in ("https://github.com/OpenAMP/openamp-zephyr-staging",
                "https://github.com/OpenAMP/openamp-zephyr-staging.git/"):
        assert matrix.default_for("/ws/m/west.yml", url) == STAGING_MATRIX
    assert "zephyr/samples/virtio/entropy" in {j.sample for j in matrix.load(STAGING_MATRIX).jobs}
    assert not any(j.sample.startswith("zephyr/samples/virtio/") for j in BUNDLED)


def dry_labels(ws, *args):
    r = amp_build(ws, "--dry-run", *args)
    assert r.returncode == 0, r.stdout + r.stderr
    return [ln.split("] ", 1)[1] for ln in r.stdout.splitlines() if re.match(r"^\[\d+/\d+\]", ln)]


def test_shards_cover_the_matrix_once(ws):
    everything = dry_labels(ws)
    assert len(everything) == len(BUNDLED)
    shares = [dry_labels(ws, "--shard", f"{i}/3") for i in (1, 2, 3)]
    assert sorted(x for s in shares for x in s) == sorted(everything)
    assert max(map(len, shares)) - min(map(len, shares)) <= 1
    empty = amp_build(ws, *ONE, "--shard", "2/2")    # one entry, 2 shares
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.strip() == ("amp-build: share 2/2 of the selected entries is empty; "
                                    "nothing to build")


def test_emit_matrix_github(ws):
    r = amp_build(ws, "--emit-matrix", "github", "--shards", "3")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert list(doc) == ["include"]
    assert [e["shard"] for e in doc["include"]] == ["1/3", "2/3", "3/3"]
    ids = [i for e in doc["include"] for i in e["entries"].split()]
    assert sorted(ids) == sorted(j.id for j in BUNDLED)
    one = json.loads(amp_build(ws, "--emit-matrix", "github", *ONE).stdout)
    assert one == {"include": [{"shard": "1/1", "index": 1, "total": 1, "count": 1,
                                "entries": "kv260_r5-openamp_rsc_table-kv260-rpmsg-rpu0"}]}


# -- the duplicate-key lint ---------------------------------------------------------

def test_duplicate_key_in_sample_yaml_is_an_error(tmp_path):
    tools()
    env = sw.west_env(tmp_path / "config")
    top = sw.make(tmp_path / "ws", env)
    ws_ = SimpleNamespace(top=top, env=env)
    sample_yaml = top / "zephyr/samples/subsys/ipc/openamp_rsc_table/sample.yaml"
    sample_yaml.write_text(sample_yaml.read_text() + "    tags: ipc\n")
    lines = sample_yaml.read_text().splitlines()
    first = next(n for n, ln in enumerate(lines, 1) if ln.strip() == "tags:")
    message = (f"zephyr/samples/subsys/ipc/openamp_rsc_table/sample.yaml:{len(lines)}:5: "
               f"tests.sample.ipc.openamp_rsc_table.tags: duplicate key (first given on line "
               f"{first}); give each key once (a YAML loader keeps only the last one: twister "
               "silently drops the first)")
    args = ("--only-system", "kv260-rpmsg", "--sample", "openamp_rsc_table")
    r = amp_build(ws_, *args, "--json", tmp_path / "r.json", "--junit", tmp_path / "j.xml")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"lint: {message}" in r.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert [x["status"] for x in doc["results"]] == ["ok"]       # the build itself is fine
    assert doc["lint"] == [{"file": "zephyr/samples/subsys/ipc/openamp_rsc_table/sample.yaml",
                            "line": len(lines), "column": 5, "message": message}]
    suite = next(s for s in ET.parse(tmp_path / "j.xml").getroot()
                 if s.get("name") == "amp-build.lint")
    assert suite.get("failures") == "1"
    assert suite.find("testcase/failure").get("message") == message
    d = amp_build(ws_, *args, "--dry-run")
    assert d.returncode == 1 and f"lint: {message}" in d.stderr


# -- could not run: exit 2, one message ------------------------------------------

def could_not_run(r, message):
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err) == 1, r.stderr
    assert err[0].startswith("FATAL ERROR: ")
    assert message in err[0], err[0]
    return err[0]


@pytest.mark.parametrize("setup, extra_env, message", [
    ("absent", {}, ("no Zephyr in this workspace: {top}/manifest/west.yml has no project "
                   "'zephyr' and ZEPHYR_BASE is not set; use this repository's manifest")),
    ("absent", {"ZEPHYR_BASE": "/opt/zephyrproject/zephyr"},
     ("no project of this workspace provides `west build`: ZEPHYR_BASE=/opt/zephyrproject/zephyr "
     "is set, but west takes commands only from the manifest's projects")),
    ("uncloned", {}, ("Zephyr is not in this workspace: project 'zephyr' is not cloned at "
                     "{top}/zephyr; get it with `west update zephyr`; --dry-run and "
                     "--emit-matrix work without it")),
    ("inactive", {}, ("Zephyr is not in this workspace: project 'zephyr' of "
                     "{top}/manifest/west.yml is inactive (manifest.project-filter or groups "
                     "exclude it); get it with `west config manifest.project-filter -- +zephyr "
                     "&& west update zephyr`")),
])
def test_no_zephyr_in_the_workspace(tmp_path, setup, extra_env, message):
    env = sw.west_env(tmp_path / "config", **extra_env)
    top = sw.make(tmp_path / "ws", env, zephyr="absent" if setup == "absent" else "uncloned")
    if setup == "inactive":
        sw.west(top, "config", "manifest.project-filter", "--", "-zephyr", env=env, check=True)
    r = sw.west(top, "amp-build", env=env)
    could_not_run(r, message.replace("{top}", str(top)))
    assert not (top / "build").exists()


def test_missing_sample(ws, tmp_path):
    m = write_matrix(tmp_path, RSC.replace("subsys/ipc/openamp_rsc_table", "virtio/nope"))
    r = amp_build(ws, "--matrix", m, "--build-root", tmp_path / "out")
    could_not_run(r, f"sample zephyr/samples/virtio/nope ({m}:4) is not in the workspace "
                     f"{ws.top}; check the path, or fetch the project that holds it")
    assert not (tmp_path / "out").exists()


def test_missing_toolchain(ws, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = dict(ws.env, PATH=str(tmp_path / "bin"), HOME=str(home))
    need(not any((d / "arm-zephyr-eabi").is_dir() for d in toolchain.sdk_dirs(env)),
         "a Zephyr SDK is installed in a system folder: the toolchain cannot be taken away")
    r = amp_build(ws, "--only-system", "kv260-rpmsg", "--build-root", tmp_path / "out",
                  env=env)
    could_not_run(r, "kv260_r5 (kv260-rpmsg:rpu0): no arm compiler: found neither "
                     "arm-zephyr-eabi-gcc in the Zephyr SDK (none installed: looked at "
                     "$ZEPHYR_SDK_INSTALL_DIR, ~/zephyr-sdk-*, /opt/zephyr-sdk-*) nor "
                     "arm-none-eabi-gcc on PATH; install the Zephyr SDK with its arm-zephyr-eabi "
                     "toolchain (Zephyr 4.x: west sdk install -t arm-zephyr-eabi), or a GNU cross "
                     "compiler (Debian/Ubuntu: apt install gcc-arm-none-eabi)")
    env = dict(ws.env, ZEPHYR_TOOLCHAIN_VARIANT="gnuarmemb",
               GNUARMEMB_TOOLCHAIN_PATH=str(tmp_path / "gnuarmemb"))
    r = amp_build(ws, "--only-system", "kv260-rpmsg", "--build-root", tmp_path / "out",
                  env=env)
    could_not_run(r, f"ZEPHYR_TOOLCHAIN_VARIANT=gnuarmemb but {tmp_path}/gnuarmemb/bin/"
                     "arm-none-eabi-gcc does not exist; set GNUARMEMB_TOOLCHAIN_PATH")
    assert not (tmp_path / "out").exists()


def user_error(r, message):
    """A user's error (a bad option or matrix file): exit 1, one message, no traceback."""
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err) == 1, r.stderr
    assert err[0].startswith("FATAL ERROR: ")
    assert message in err[0], err[0]


@pytest.mark.parametrize("args, message", [
    (["--shard", "5/4"], "--shard 5/4: expected I/N with 1 <= I <= N, e.g. --shard 1/4"),
    (["--board", "kv260"], ("--board kv260 matches no entry of the matrix; did you mean "
                           "'kv260_r5'?")),
    (["-j", "0"], "-j 0: expected at least 1"),
    (["--matrix", "{tmp}/none.yaml"], "{tmp}/none.yaml: no such file"),
    (["--matrix", "{tmp}/bad.yaml"], ("{tmp}/bad.yaml:4:5: entries[0].domain: required key "
                                     "'domain' is missing; add it")),
])
def test_bad_arguments(ws, tmp_path, args, message):
    write_matrix(tmp_path, RSC.replace("  domain: rpu0\n", "")).rename(tmp_path / "bad.yaml")
    r = amp_build(ws, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    user_error(r, message.replace("{tmp}", str(tmp_path)))


@pytest.mark.parametrize("args, message", [
    (["-j", "two"], "argument -j/--jobs: invalid int value: 'two'"),
    (["--emit-matrix", "gitlab"], "argument --emit-matrix: invalid choice: 'gitlab'"),
])
def test_bad_option_syntax_is_a_user_error(ws, args, message):
    r = amp_build(ws, *args)
    assert r.returncode == 1, r.stdout + r.stderr
    assert message in r.stderr and r.stderr.startswith("usage: west amp-build")


def test_help_ends_with_the_exit_status(ws):
    r = amp_build(ws, "-h")
    assert r.returncode == 0, r.stderr
    last = r.stdout.rstrip().split("\n\n")[-1]
    assert last.startswith("Exit status:"), last
    assert re.search(r"^  0  ", last, re.MULTILINE) and re.search(r"^  1  ", last, re.MULTILINE) \
        and re.search(r"^  2  could not run", last, re.MULTILINE)
    assert "--only-system NAME" in r.stdout and "--board-root DIR" in r.stdout
    assert "--system" not in r.stdout.replace("--only-system", "")   # the hidden alias
    paths = re.findall(r"(?<![\w.])(/\S+\.(?:md|yaml))", r.stdout)
    assert paths and all(Path(p).is_file() for p in paths), paths    # paths that exist



def test_help_says_which_matrix_is_the_default(ws):
    r = amp_build(ws, "-h")
    assert r.returncode == 0, r.stderr
    squeeze = "".join     # argparse wraps lines at spaces and after hyphens
    assert squeeze(("default: the bundled matrix/amp-matrix-staging.yaml in a workspace of "
                    "west-staging.yml, matrix/amp-matrix.yaml otherwise").split()) in \
        squeeze(r.stdout.split())
    assert str(matrix.STAGING_MATRIX) in r.stdout and str(matrix.DEFAULT_MATRIX) in r.stdout

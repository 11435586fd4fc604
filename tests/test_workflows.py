"""The GitHub workflows, linted as GitHub would read them, and their facts checked.

- Every workflow parses; every job has runs-on and steps; every step runs or
  uses exactly one thing; every action is pinned to a release (vX.Y.Z) or a
  commit; every `run:` is valid bash (bash -n, expressions replaced).
- tests.yml runs the README's test command on push and pull_request, and
  checks out the Zephyr revision west.yml pins.
- amp-staging.yml: its matrix takes the include list amp-build emits, and uses
  only keys each include entry has; its Zephyr SDK is the one the pinned
  Zephyr declares (.github/zephyr-sdk.yml, with its source); it writes and
  publishes JUnit even when a shard cannot start.
- .github/scripts/junit_report.py: the summary names every failing case; the
  file it writes for a run that did not start is JUnit with one failure.
"""

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
REPORT = REPO / ".github" / "scripts" / "junit_report.py"
SDK_FACT = REPO / ".github" / "zephyr-sdk.yml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")


def load(path):
    data = yaml.safe_load(Path(path).read_text())
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on"
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow):
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def west_zephyr_revision():
    manifest = yaml.safe_load((REPO / "west.yml").read_text())["manifest"]
    return next(p["revision"] for p in manifest["projects"] if p["name"] == "zephyr")


def readme_test_command():
    text = (REPO / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.DOTALL).group(1)
    lines = [ln.split("#")[0].strip() for ln in block.splitlines() if ln.strip()]
    return lines[1]


def test_there_are_workflows():
    names = {p.name for p in WORKFLOWS}
    assert {"tests.yml", "amp-staging.yml"} <= names


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_structure(path):
    wf = load(path)
    assert wf.get("name") and wf.get("on") and wf.get("jobs"), path
    assert wf.get("permissions") == {"contents": "read"}, "least privilege for the token"
    for name, job in wf["jobs"].items():
        assert "runs-on" in job, f"{path.name}: job {name} has no runs-on"
        assert job.get("steps"), f"{path.name}: job {name} has no steps"
        for need in job.get("needs", []) if isinstance(job.get("needs"), list) else \
                [job["needs"]] if "needs" in job else []:
            assert need in wf["jobs"], f"{path.name}: {name} needs unknown job {need}"
    for job, step in steps(wf):
        assert ("uses" in step) != ("run" in step), f"{path.name}: {job}: {step}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned(path):
    for job, step in steps(load(path)):
        if "uses" in step:
            assert PINNED.match(step["uses"]), (
                f"{path.name}: {job}: {step['uses']} is not pinned to a release vX.Y.Z "
                "or a commit")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_run_scripts_are_bash(path, tmp_path):
    bash = shutil.which("bash")
    for i, (job, step) in enumerate(steps(load(path))):
        if "run" not in step:
            continue
        script = re.sub(r"\$\{\{.*?\}\}", "EXPR", step["run"])
        f = tmp_path / f"step{i}.sh"
        f.write_text(script)
        res = subprocess.run([bash, "-n", str(f)], check=False, capture_output=True, text=True)
        assert res.returncode == 0, f"{path.name}: {job}: {step.get('name')}: {res.stderr}"


def test_tests_workflow_runs_the_readme_test_command_on_push_and_pull_request():
    wf = load(REPO / ".github" / "workflows" / "tests.yml")
    assert "push" in wf["on"] and "pull_request" in wf["on"]
    command = readme_test_command()
    assert command == "python3 -m pytest -q"
    runs = [s for _, s in steps(wf) if s.get("run", "").strip() == command]
    assert len(runs) == 1, f"no step runs exactly {command!r}"
    assert runs[0]["env"]["CI"] == "true"
    assert any("scripts/install-deps.sh" in s.get("run", "") for _, s in steps(wf))
    assert wf["env"]["ZEPHYR_REVISION"] == west_zephyr_revision()


def test_ci_run_runs_the_readme_test_command():
    text = (REPO / ".ci" / "run").read_text()
    assert "bash scripts/install-deps.sh" in text
    assert readme_test_command() in text
    assert '"$status" = 5' in text, "pytest's exit 5 (no tests) must fail the run"


def test_staging_matrix_takes_the_include_list_amp_build_emits():
    from zephyr_amp import matrix

    wf = load(REPO / ".github" / "workflows" / "amp-staging.yml")
    build = wf["jobs"]["build"]
    assert build["needs"] == "plan"
    assert wf["jobs"]["plan"]["outputs"]["matrix"] == "${{ steps.emit.outputs.matrix }}"
    shard = build["strategy"]["matrix"]["shard"]
    assert shard == "${{ fromJSON(needs.plan.outputs.matrix).include }}"
    emit = next(s for s in wf["jobs"]["plan"]["steps"] if s.get("id") == "emit")
    assert "--emit-matrix github" in emit["run"]

    emitted = matrix.github_matrix(matrix.load(matrix.STAGING_MATRIX).jobs, 4)
    assert set(emitted) == {"include"} and emitted["include"]
    used = set(re.findall(r"matrix\.shard\.(\w+)",
                          (REPO / ".github" / "workflows" / "amp-staging.yml").read_text()))
    assert used, "the workflow reads no key of the include entries"
    for entry in emitted["include"]:
        assert isinstance(entry, dict)
        assert used <= set(entry), f"the workflow reads {used - set(entry)}, not in {entry}"


def test_staging_sdk_is_the_one_the_pinned_zephyr_declares():
    fact = yaml.safe_load(SDK_FACT.read_text())
    assert fact["zephyr"] == west_zephyr_revision(), (
        f"{SDK_FACT.name} records the SDK of Zephyr {fact['zephyr']}, west.yml pins "
        f"{west_zephyr_revision()}: look up the new Zephyr's SDK_VERSION")
    assert "SDK_VERSION" in fact["source"]
    wf = load(REPO / ".github" / "workflows" / "amp-staging.yml")
    assert str(wf["env"]["ZEPHYR_SDK_VERSION"]) == str(fact["sdk-version"])
    base = os.environ.get("ZEPHYR_BASE")
    if base and (Path(base) / "SDK_VERSION").is_file() and (Path(base) / "VERSION").is_file():
        text = (Path(base) / "VERSION").read_text()
        v = dict(re.findall(r"^(\w+)\s*=\s*(\S*)", text, re.MULTILINE))
        if f"v{v.get('VERSION_MAJOR')}.{v.get('VERSION_MINOR')}.{v.get('PATCHLEVEL')}" == \
                fact["zephyr"]:
            declared = (Path(base) / "SDK_VERSION").read_text().split()[0]
            assert declared == str(fact["sdk-version"])


def test_staging_writes_and_publishes_junit_even_when_a_shard_cannot_start():
    wf = load(REPO / ".github" / "workflows" / "amp-staging.yml")
    names = [s.get("name", "") for s in wf["jobs"]["build"]["steps"]]
    build_at = names.index("build and check the shard")
    ensure = [i for i, (_, s) in enumerate(zip(names, wf["jobs"]["build"]["steps"]))
              if "junit_report.py ensure" in s.get("run", "")]
    assert ensure and ensure[0] > build_at
    for i in ensure:
        assert wf["jobs"]["build"]["steps"][i]["if"] == "always()"
    assert any("junit_report.py summary" in s.get("run", "") for s in
               wf["jobs"]["build"]["steps"])
    report = wf["jobs"]["report"]
    assert report["if"] == "always()" and set(report["needs"]) == {"plan", "build"}
    assert any("junit_report.py ensure" in s.get("run", "") for s in report["steps"])


JUNIT = """<?xml version="1.0"?>
<testsuites><testsuite name="amp-build" tests="3">
<testcase classname="kv260_r5" name="openamp_rsc_table"/>
<testcase classname="kv260_r5" name="hello"><failure message="SEG-11: crosses a bank">x\
</failure></testcase>
<testcase classname="qemu" name="entropy"><skipped/></testcase>
</testsuite></testsuites>
"""


def _report(*args, env=None):
    return subprocess.run([sys.executable, str(REPORT), *map(str, args)], capture_output=True,
                          text=True, env=env, check=True)


def test_junit_summary_names_every_failing_case(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    summary = tmp_path / "summary.md"
    env = dict(os.environ, GITHUB_STEP_SUMMARY=str(summary))
    res = _report("summary", junit, tmp_path / "missing.xml", "--title", "t", env=env)
    text = summary.read_text()
    assert "| amp-build | 3 | 1 | 0 | 1 |" in text
    assert "`kv260_r5::hello` (failure): SEG-11: crosses a bank" in text
    assert "missing.xml: no such file" in text
    assert "::error title=kv260_r5::hello::SEG-11: crosses a bank" in res.stdout


def test_junit_ensure_writes_a_failing_case_only_when_nothing_ran(tmp_path):
    junit = tmp_path / "results" / "junit.xml"
    _report("ensure", junit, "--suite", "amp-build known-good shard 1/4",
            "--reason", "west update failed <&>")
    root = ET.parse(junit).getroot()
    case = root.find("testsuite/testcase")
    assert case.get("name") == "could not start"
    assert case.find("failure").get("message") == "west update failed <&>"
    real = tmp_path / "real.xml"
    real.write_text(JUNIT)
    _report("ensure", real, "--suite", "s", "--reason", "r")
    assert real.read_text() == JUNIT, "a JUnit file with test cases is left alone"

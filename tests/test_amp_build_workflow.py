"""The CI side of amp-build: .github/workflows/amp-staging.yml and west-staging.yml.

The workflow is read as YAML and checked for the structure CI depends on; its
plan job's commands are run for real in a workspace made from west-staging.yml.
"""

import json
import re
import shutil

import pytest
import yaml
from west.manifest import ImportFlag, Manifest

import standin_workspace as sw
from conftest import REPO
from zephyr_amp import config, matrix, toolchain

WORKFLOW = REPO / ".github" / "workflows" / "amp-staging.yml"
STAGING = REPO / "west-staging.yml"
# what the workflow builds: its workspace is west-staging.yml's, so amp-build reads
# the staging matrix there without --matrix (matrix.default_for)
STAGING_JOBS = matrix.load(matrix.STAGING_MATRIX).jobs


@pytest.fixture(scope="module")
def wf():
    return yaml.safe_load(WORKFLOW.read_text())


def steps_running(job, pattern):
    return [s for s in job["steps"] if re.search(pattern, s.get("run", ""))]


def test_runs_nightly_and_on_demand(wf):
    on = wf.get("on", wf.get(True))           # PyYAML reads the key `on` as true
    assert re.fullmatch(r"\d+ \d+ \* \* \*", on["schedule"][0]["cron"])
    assert set(on["workflow_dispatch"]["inputs"]) >= {"known-good", "shards", "select"}
    assert wf["permissions"] == {"contents": "read"}


def test_plan_job_emits_the_matrix_without_zephyr(wf):
    plan = wf["jobs"]["plan"]
    assert plan["outputs"]["matrix"] == "${{ steps.emit.outputs.matrix }}"
    (init,) = steps_running(plan, r"west init -l --mf west-staging\.yml")
    assert "west config manifest.project-filter -- -zephyr" in init["run"]
    assert not steps_running(plan, r"west update")
    (emit,) = [s for s in plan["steps"] if s.get("id") == "emit"]
    assert "west amp-build --emit-matrix github" in emit["run"]
    assert "--matrix" not in emit["run"]        # the workspace's default: the staging matrix
    assert '>> "$GITHUB_OUTPUT"' in emit["run"]


def test_build_jobs_cross_zephyr_revisions_with_the_shards(wf):
    build = wf["jobs"]["build"]
    assert build["needs"] == "plan"
    strategy = build["strategy"]
    assert strategy["fail-fast"] is False
    assert strategy["matrix"]["zephyr"] == ["known-good", "newest"]
    assert strategy["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.matrix).include }}"
    # the keys the jobs read from a shard are the ones --emit-matrix writes
    used = set(re.findall(r"matrix\.shard\.(\w+)", yaml.safe_dump(build)))
    emitted = matrix.github_matrix(STAGING_JOBS, 4)["include"][0]
    assert used and used <= set(emitted), used


def test_build_job_steps(wf):
    build = wf["jobs"]["build"]
    (ws,) = steps_running(build, r"west init -l --mf west-staging\.yml zephyr-amp")
    assert "west update" in ws["run"]
    (pin,) = [s for s in build["steps"] if s.get("if") == "matrix.zephyr == 'known-good'"]
    assert "AMP_STAGING_KNOWN_GOOD" in pin["env"]["REV"]
    assert "git -C zephyr checkout --detach FETCH_HEAD" in pin["run"]
    (sdk,) = steps_running(build, r"setup\.sh")
    # the SDK gets a compiler for every architecture the staging matrix builds
    arches = set()
    for system in {j.system for j in STAGING_JOBS}:
        layout = json.loads(config.configure(system).files["layout.json"])
        arches |= {d["arch"] for d in layout["domains"].values() if d["os"] == "zephyr"}
    for arch in arches:
        assert f"-t {toolchain.SDK_TRIPLES[arch]}" in sdk["run"], arch
    (run,) = steps_running(build, r"west amp-build --shard")
    assert '"$SHARD"' in run["run"] and build["env"]["SHARD"] == "${{ matrix.shard.shard }}"
    assert "--matrix" not in run["run"]         # the same matrix as the plan job's
    assert "--junit results/" in run["run"].replace('"', "")
    (upload,) = [s for s in build["steps"] if str(s.get("uses", "")).startswith(
        "actions/upload-artifact@")]
    assert upload["if"] == "always()"
    paths = upload["with"]["path"].split()
    assert {"results/", "build/amp-build/*/build.log"} <= set(paths)
    assert "matrix.shard.index" in upload["with"]["name"]     # unique, and no '/' in it
    # steps run in order: workspace, SDK, then the build, then the upload
    order = [build["steps"].index(s) for s in (ws, sdk, run, upload)]
    assert order == sorted(order)


def test_staging_manifest():
    manifest = Manifest.from_data(yaml.safe_load(STAGING.read_text()),
                                  import_flags=ImportFlag.IGNORE)
    projects = {p.name: p for p in manifest.projects[1:]}
    assert manifest.projects[0].west_commands == ["scripts/west-commands.yml"]
    assert projects["zephyr"].url == "https://github.com/OpenAMP/openamp-zephyr-staging"
    assert projects["zephyr"].revision == "virtio-exp"
    assert projects["open-amp"].url == "https://github.com/OpenAMP/open-amp"
    assert projects["open-amp"].revision == "virtio-exp"
    assert projects["libmetal"].url == "https://github.com/OpenAMP/libmetal"
    assert "openamp-zephyr-modules" in projects
    # the same projects as west.yml: what it imports from Zephyr is here too
    main = yaml.safe_load((REPO / "west.yml").read_text())["manifest"]
    (zephyr,) = [p for p in main["projects"] if p["name"] == "zephyr"]
    # west.yml's other project, openamp-system-reference, is for the default matrix only:
    # the staging matrix builds none of its samples
    assert {p["name"] for p in main["projects"]} == {"zephyr", "openamp-system-reference"}
    assert not [j for j in STAGING_JOBS if not j.sample.startswith("zephyr/")]
    wanted = set(zephyr["import"]["name-allowlist"])
    staging = yaml.safe_load(STAGING.read_text())["manifest"]
    (szephyr,) = [p for p in staging["projects"] if p["name"] == "zephyr"]
    have = set(projects) | set(szephyr["import"]["name-allowlist"])
    assert wanted <= have, wanted - have


def test_plan_job_commands_in_a_real_workspace(tmp_path):
    """What the plan job runs: west init -l --mf west-staging.yml, the project filter, then
    --emit-matrix; no Zephyr, no network. The manifest repository is a copy (west init -l
    resolves symlinks: a link to this checkout would re-initialize the workspace around it)."""
    env = sw.west_env(tmp_path / "config")
    top = tmp_path / "ws"
    copy = top / "zephyr-amp"
    for name in ("west-staging.yml", "west.yml", "scripts", "matrix", "systems", "boards",
                 "templates", "zephyr"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            copy.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, copy / name)
    sw.west(top, "init", "-l", "--mf", "west-staging.yml", "zephyr-amp", env=env, check=True)
    assert (top / ".west" / "config").read_text().count("file = west-staging.yml") == 1
    sw.west(top, "config", "manifest.project-filter", "--", "-zephyr", env=env, check=True)
    r = sw.west(top, "amp-build", "--emit-matrix", "github", "--shards", "4", env=env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    jobs = STAGING_JOBS             # a west-staging.yml workspace: the staging matrix
    assert len(doc["include"]) == min(4, len(jobs))
    assert sorted(i for e in doc["include"] for i in e["entries"].split()) == \
        sorted(j.id for j in jobs)

"""The amp-build orchestration: generate, `west build`, validate; in parallel, incrementally.

For a list of matrix.BuildJobs:

    plan()       configure every system once (in memory, the amp-config library),
                 work out each job's directories and its exact `west build` command;
    preflight()  could it run at all? Zephyr in the workspace, the samples, a
                 compiler per architecture (UsageError, exit 2, otherwise);
    lint()       the sample.yaml / testcase.yaml of every sample, duplicate keys first;
    execute()    write the generated files (only where they changed), then per job:
                 up to date? else `west build` -> zephyr/zephyr.elf -> elfcheck against
                 the system's layout.json and domain; -j jobs at a time.

Layout of the build root (default build/amp-build):

    amp/<system>/...            what `west amp-config` writes for the system
    <job id>/build/             the west build directory (zephyr/zephyr.elf)
    <job id>/build.log          everything `west build` printed
    <job id>/validation.json    the ELF findings (Report.to_json())
    <job id>/amp-build.json     the stamp: digest of the inputs of the last good build

A job passes when its build and its validation pass. It is up to date, and
not rebuilt, when the digest of its inputs (system YAML bytes, matrix entry,
the generated files of its domain, the extra conf/overlay files, the
revisions of the sample's and Zephyr's trees, this module's zephyr/ folder)
equals the stamp's and its ELF is the one the stamp recorded and still
validates. Nothing here prints: results come back as values, progress through
a callback; the west command does the talking.
"""

import concurrent.futures
import hashlib
import json
import logging
import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from . import config, elfcheck, render, toolchain
from .boards import REPO_ROOT
from .errors import AmpError, InputError, UsageError
from .source import Source

log = logging.getLogger(__name__)

FORMAT = "zephyr-amp-build"
STAMP = "amp-build.json"
TAIL_LINES = 25
SAMPLE_FILES = ("sample.yaml", "testcase.yaml")


# -- plan -----------------------------------------------------------------------

@dataclass
class Configured:
    """One system, configured once per run: the amp-config Result or why not."""

    path: Path
    out_dir: Path
    result: object = None        # config.Result
    error: str = None

    @property
    def layout(self):
        """layout.json as amp-validate reads it (parsed from the generated text)."""
        return json.loads(self.result.files["layout.json"])


@dataclass
class Step:
    """A job with everything needed to run it."""

    job: object                  # matrix.BuildJob
    dir: Path
    command: list
    system: Configured
    problem: str = None          # why it cannot be built (config stage), or None

    @property
    def build_dir(self):
        return self.dir / "build"

    @property
    def elf(self):
        return self.build_dir / "zephyr" / "zephyr.elf"

    @property
    def log(self):
        return self.dir / "build.log"

    @property
    def stamp(self):
        return self.dir / STAMP

    @property
    def validation(self):
        return self.dir / "validation.json"

    def generated(self):
        """{relative path: text} of this job's generated inputs: its domain's files
        and layout.json."""
        files = self.system.result.files
        prefix = self.job.domain + "/"
        return {k: v for k, v in files.items() if k.startswith(prefix) or k == "layout.json"}


@dataclass
class Plan:
    steps: list
    root: Path
    topdir: Path
    systems: dict                # system path -> Configured
    pristine: bool = False
    zephyr: Path = None          # the tree `west build` comes from, once preflight found it


def west_command():
    """How to run west: the `west` on PATH, else this Python's west module."""
    return ["west"] if shutil.which("west") else [sys.executable, "-m", "west"]


def plan(jobs, root, topdir, west=None, pristine=False, extra_module=False):
    """Configure every system (in memory) and build each job's command."""
    root = Path(root).resolve()
    topdir = Path(topdir).resolve()
    west = west or west_command()
    systems = {}
    for job in jobs:
        if job.system not in systems:
            systems[job.system] = _configure(job.system, root)
    stems = {}
    for path in systems:
        if stems.setdefault(path.stem, path) != path:
            raise UsageError(f"two systems named {path.stem}: {stems[path.stem]} and {path}; "
                             "their generated files would share amp/" + path.stem)
    steps = []
    for job in jobs:
        sysc = systems[job.system]
        gen = sysc.out_dir / job.domain
        overlays = [gen / "amp.overlay", *job.extra_overlay]
        confs = [gen / "amp.conf", *job.extra_conf]
        cmd = [*west, "build", "-b", job.board, "-d", str(root / job.id / "build"),
               f"--pristine={'always' if pristine else 'auto'}", str(topdir / job.sample), "--",
               "-DEXTRA_DTC_OVERLAY_FILE=" + ";".join(map(str, overlays)),
               "-DEXTRA_CONF_FILE=" + ";".join(map(str, confs)),
               f"-DAMP_CMAKE={gen / 'amp.cmake'}"]
        if extra_module:
            cmd.append(f"-DEXTRA_ZEPHYR_MODULES={REPO_ROOT}")
        cmd.extend(job.cmake_args)
        steps.append(Step(job, root / job.id, cmd, sysc, _problem(job, sysc)))
    return Plan(steps, root, topdir, systems, pristine)


def _configure(path, root):
    out = root / "amp" / path.stem
    try:
        return Configured(path, out, result=config.configure(path))
    except AmpError as e:
        return Configured(path, out, error=str(e))
    except Exception as e:      # a bug in amp-config: fail this system's entries, not the run
        log.debug("amp-config failed on %s", path, exc_info=True)
        return Configured(path, out, error=f"{path.name}: amp-config failed unexpectedly: "
                          f"{type(e).__name__}: {e} (please report it)")


def _problem(job, sysc):
    """Why this job cannot be built with its system, or None."""
    if sysc.error:
        return sysc.error
    domains = sysc.layout["domains"]
    zephyr = sorted(n for n, d in domains.items() if d.get("os") == "zephyr")
    dom = domains.get(job.domain)
    if dom is None or dom.get("os") != "zephyr":
        what = (f"{job.system.name} has no domain '{job.domain}'" if dom is None else
                f"domain '{job.domain}' of {job.system.name} runs {dom.get('os')}, not Zephyr")
        return f"{job.where}: {what}; its Zephyr domains: {', '.join(zephyr) or 'none'}"
    target = (dom.get("target") or "").split("/")[0]
    if target and target != job.board_name:
        return (f"{job.where}: board {job.board} is not the target of {job.system_name}:"
                f"{job.domain} ({dom['target']}); the generated overlay is written for that "
                f"board: build with board: {dom['target']}, or set target: in the system")
    return None


# -- preflight ------------------------------------------------------------------

def find_zephyr(manifest, west_config, environ=None):
    """The folder of the project that provides `west build` (the Zephyr tree).

    UsageError naming what is missing and how to get it: no such project,
    a project filtered out of the workspace, or one not cloned yet.
    """
    from west.commands import extension_commands
    environ = os.environ if environ is None else environ
    for specs in extension_commands(west_config, manifest).values():
        for spec in specs:
            if spec.name == "build":
                return Path(spec.project.abspath)
    fix_dry = "; --dry-run and --emit-matrix work without it"
    zephyr = [p for p in manifest.projects if p.name == "zephyr"]
    where = manifest.path or "the manifest"
    if zephyr:
        p = zephyr[0]
        if not manifest.is_active(p):
            raise UsageError(
                f"Zephyr is not in this workspace: project 'zephyr' of {where} is inactive "
                "(manifest.project-filter or groups exclude it); get it with "
                "`west config manifest.project-filter -- +zephyr && west update zephyr`"
                + fix_dry)
        raise UsageError(f"Zephyr is not in this workspace: project 'zephyr' is not cloned at "
                         f"{p.abspath}; get it with `west update zephyr`" + fix_dry)
    base = environ.get("ZEPHYR_BASE")
    if base:
        raise UsageError(f"no project of this workspace provides `west build`: ZEPHYR_BASE={base} "
                         "is set, but west takes commands only from the manifest's projects; add "
                         "zephyr to the manifest (as west.yml here does) and run `west update`"
                         + fix_dry)
    raise UsageError(f"no Zephyr in this workspace: {where} has no project 'zephyr' and "
                     "ZEPHYR_BASE is not set; use this repository's manifest "
                     "(`west init -l --mf west.yml` or `--mf west-staging.yml`, then "
                     "`west update`) or add zephyr to yours" + fix_dry)


def preflight(plan_, environ=None):
    """Every sample is there and every architecture has a compiler; UsageError otherwise."""
    missing = [s for s in plan_.steps if not (plan_.topdir / s.job.sample).is_dir()]
    if missing:
        first = missing[0].job
        more = f" (and {len(missing) - 1} more entries)" if len(missing) > 1 else ""
        raise UsageError(
            f"sample {first.sample} ({first.where}) is not in the workspace {plan_.topdir}{more}; "
            "check the path, or fetch the project that holds it (`west update`; the virtio "
            "samples exist only on OpenAMP's staging branches: "
            "`west init -l --mf west-staging.yml`)")
    arches = {}
    for s in plan_.steps:
        if s.problem is None:
            arch = s.system.layout["domains"][s.job.domain].get("arch")
            arches.setdefault(arch, s.job)
    found = {}
    for arch, job in sorted(arches.items(), key=lambda kv: str(kv[0])):
        if arch is None:
            continue
        try:
            found[arch] = toolchain.compiler(arch, environ)
        except UsageError as e:
            raise UsageError(f"{job.board} ({job.system_name}:{job.domain}): {e}") from None
    return found


@dataclass
class LintProblem:
    file: str
    line: int
    column: int
    message: str

    def __str__(self):
        return self.message


def lint(topdir, samples):
    """Duplicate keys and other YAML traps in each sample's sample.yaml/testcase.yaml.

    A YAML loader keeps only the last of two equal keys, so twister silently
    loses the first platform_allow or tags: that is an error here, with both lines.
    """
    problems = []
    for sample in sorted(set(samples)):
        for name in SAMPLE_FILES:
            path = Path(topdir) / sample / name
            if not path.is_file():
                continue
            try:
                Source(path, display=f"{sample}/{name}")
            except InputError as e:
                text = str(e)
                if "duplicate key" in e.what:
                    text += " (a YAML loader keeps only the last one: twister silently drops " \
                            "the first)"
                problems.append(LintProblem(e.file, e.line, e.column, text))
    return problems


# -- execute --------------------------------------------------------------------

@dataclass
class JobResult:
    """What happened to one job. status: 'ok', 'up-to-date' or 'failed'
    (stage: 'config', 'build' or 'validate')."""

    step: Step
    status: str
    stage: str = None
    message: str = ""
    started: float = 0.0
    finished: float = 0.0
    findings: list = field(default_factory=list)   # Finding.to_json() dicts
    tail: list = field(default_factory=list)       # last lines of the build log

    @property
    def job(self):
        return self.step.job

    @property
    def passed(self):
        return self.status in ("ok", "up-to-date")

    @property
    def duration(self):
        return max(0.0, self.finished - self.started)

    @property
    def word(self):
        if self.passed:
            return "ok" if self.status == "ok" else "up to date"
        rules = sorted({f["rule"] for f in self.findings if f["severity"] == "error"})
        detail = f": {', '.join(rules)}" if rules else ""
        return f"FAILED ({self.stage}{detail})"


@dataclass
class RunResult:
    plan: Plan
    results: list                # JobResult, in plan order
    lint: list                   # LintProblem
    started: float
    finished: float
    matrix: str = ""
    shard: str = None
    jobs: int = 1

    @property
    def ok(self):
        return not self.lint and all(r.passed for r in self.results)

    def count(self, *statuses):
        return sum(1 for r in self.results if r.status in statuses)


def write_generated(plan_):
    """Write each configured system's files, only where they changed (so that
    CMake sees unchanged inputs as unchanged)."""
    for sysc in plan_.systems.values():
        if sysc.error:
            continue
        if _same_files(sysc.out_dir, sysc.result.files):
            log.debug("%s: generated files unchanged", sysc.out_dir)
            continue
        log.debug("%s: writing %d generated files", sysc.out_dir, len(sysc.result.files))
        render.write_outputs(sysc.result.files, sysc.out_dir)


def _same_files(out_dir, files):
    if not (out_dir / render.MARKER).is_file():
        return False
    on_disk = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()}
    if on_disk != set(files):
        return False
    return all((out_dir / rel).read_text(encoding="utf-8") == text
               for rel, text in files.items())


def execute(plan_, jobs=1, on_done=None, environ=None):
    """Run every step, `jobs` at a time; on_done(done, total, JobResult) as each ends.
    Returns the JobResults in plan order."""
    write_generated(plan_)
    revisions = _Revisions(plan_.zephyr or plan_.topdir / "zephyr", exclude=plan_.root)
    module = _module_digest()
    total = len(plan_.steps)
    results = [None] * total
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(_run_step, s, plan_, revisions, module, environ): i
                   for i, s in enumerate(plan_.steps)}
        for done, fut in enumerate(concurrent.futures.as_completed(futures), 1):
            i = futures[fut]
            results[i] = fut.result()
            if on_done:
                on_done(done, total, results[i])
    return results


def run(plan_, jobs=1, on_done=None, environ=None, matrix="", shard=None, lint_problems=()):
    """execute() wrapped in a RunResult with its timing."""
    started = time.time()
    results = execute(plan_, jobs, on_done, environ)
    return RunResult(plan_, results, list(lint_problems), started, time.time(), str(matrix),
                     shard, jobs)


def _run_step(step, plan_, revisions, module, environ):
    started = time.time()
    if step.problem:
        return JobResult(step, "failed", "config", step.problem, started, time.time())
    digest = _digest(step, plan_, revisions, module)
    if not plan_.pristine:
        fresh = _up_to_date(step, digest)
        if fresh is not None:
            return JobResult(step, "up-to-date", None, "inputs unchanged, ELF still validates",
                             started, time.time(), fresh)
    step.dir.mkdir(parents=True, exist_ok=True)
    step.stamp.unlink(missing_ok=True)
    step.validation.unlink(missing_ok=True)
    rc = _west_build(step, plan_.topdir, environ)
    if rc != 0:
        return JobResult(step, "failed", "build", f"west build exited with status {rc}",
                         started, time.time(), tail=_tail(step.log))
    if not step.elf.is_file():
        return JobResult(step, "failed", "build", f"west build wrote no {step.elf}",
                         started, time.time(), tail=_tail(step.log))
    try:
        report = _validate(step)
    except AmpError as e:
        return JobResult(step, "failed", "validate", str(e), started, time.time())
    findings = [f.to_json() for f in report.findings]
    if not report.ok():
        n = len(report.errors)
        return JobResult(step, "failed", "validate",
                         f"{n} error(s) in {step.elf.name} against {step.job.system_name}:"
                         f"{step.job.domain}", started, time.time(), findings)
    stamp = {"format": FORMAT + "-stamp", "inputs": digest, "elf": str(step.elf),
             "elf_sha256": _sha256_file(step.elf), "command": step.command}
    step.stamp.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    return JobResult(step, "ok", None, report.verdict(), started, time.time(), findings)


def _west_build(step, topdir, environ):
    env = dict(os.environ if environ is None else environ)
    with open(step.log, "w", encoding="utf-8") as logf:
        logf.write(f"# west amp-build: {shell_join(step.command)}\n# in {topdir}\n")
        logf.flush()
        try:
            proc = subprocess.run(step.command, cwd=topdir, env=env, stdin=subprocess.DEVNULL,
                                  stdout=logf, stderr=subprocess.STDOUT, check=False)
        except OSError as e:
            logf.write(f"cannot run {step.command[0]}: {e.strerror}\n")
            return 127
    return proc.returncode


def _validate(step):
    report = elfcheck.check_elf(step.elf, step.system.layout, step.job.domain)
    step.validation.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return report


def _up_to_date(step, digest):
    """The findings of the still-valid ELF when nothing changed, else None."""
    try:
        stamp = json.loads(step.stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if stamp.get("inputs") != digest or not step.elf.is_file():
        return None
    if stamp.get("elf_sha256") != _sha256_file(step.elf):
        return None
    try:
        report = _validate(step)
    except AmpError:
        return None
    if not report.ok():
        return None
    return [f.to_json() for f in report.findings]


def _tail(path, n=TAIL_LINES):
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return lines[-n:]


def shell_join(argv):
    """argv as one line a shell runs unchanged."""
    return shlex.join(str(a) for a in argv)


# -- incremental ------------------------------------------------------------------

def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _digest(step, plan_, revisions, module):
    """sha256 over everything that decides what the build produces."""
    job = step.job
    west_len = step.command.index("build")
    command = [a for a in step.command[west_len:] if not a.startswith("--pristine")]
    doc = {
        "command": command,
        "entry": {"sample": job.sample, "board": job.board, "system": str(job.system),
                  "domain": job.domain, "cmake_args": list(job.cmake_args)},
        "system_yaml": _sha256_file(job.system),
        "generated": {k: hashlib.sha256(v.encode()).hexdigest()
                      for k, v in sorted(step.generated().items())},
        "extra_files": {str(p): _sha256_file(p) for p in (*job.extra_conf, *job.extra_overlay)},
        "sample_tree": revisions.of(plan_.topdir / job.sample),
        "zephyr_tree": revisions.of_zephyr(),
        "module": module,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _module_digest():
    """This module's own build inputs (zephyr/module.yml, zephyr/CMakeLists.txt, ...)."""
    h = hashlib.sha256()
    for folder in ("zephyr", "dts"):
        base = REPO_ROOT / folder
        if base.is_dir():
            for p in sorted(base.rglob("*")):
                if p.is_file():
                    h.update(p.relative_to(REPO_ROOT).as_posix().encode() + b"\0")
                    h.update(p.read_bytes())
    return h.hexdigest()


class _Revisions:
    """Revision of the tree that holds a path, once per git repository per run:
    'git:<HEAD>' when clean, plus '+dirty:<hash of the diff and untracked files>'
    when not; a content hash of the folder when it is not in a git repository."""

    def __init__(self, zephyr, exclude=None):
        self._cache = {}
        self.exclude = Path(exclude) if exclude else None   # the build root, if in a repo
        self._lock = threading.Lock()       # jobs ask from several threads: compute once
        self.zephyr = Path(zephyr)

    def of(self, path):
        path = Path(path)
        with self._lock:
            if path not in self._cache:
                top = _git(path, "rev-parse", "--show-toplevel")
                if top is None:
                    self._cache[path] = "content:" + _tree_hash(path)
                else:
                    top = Path(top.strip())
                    if top not in self._cache:
                        self._cache[top] = _git_revision(top, self.exclude)
                    self._cache[path] = self._cache[top]
            return self._cache[path]

    def of_zephyr(self):
        """The revision of the tree `west build` comes from."""
        return self.of(self.zephyr) if self.zephyr.is_dir() else "absent"


def _git(cwd, *args, binary=False):
    try:
        r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False,
                           text=not binary)
    except OSError:
        return None
    return r.stdout if r.returncode == 0 else None


def _git_revision(top, exclude=None):
    """HEAD, and a hash of the changes when the tree is dirty. Our own build root is
    left out when it lies inside the repository (its outputs are not inputs)."""
    spec = []
    if exclude is not None and exclude.is_relative_to(top):
        spec = ["--", ".", f":(exclude){exclude.relative_to(top).as_posix()}"]
    head = (_git(top, "rev-parse", "HEAD") or "no-commit").strip()
    status = _git(top, "status", "--porcelain=v1", "-z", "--untracked-files=all", *spec,
                  binary=True)
    if not status:
        return f"git:{head}"
    h = hashlib.sha256(status)
    h.update(_git(top, "diff", "HEAD", "--binary", *spec, binary=True) or b"")
    for entry in status.split(b"\0"):
        if entry.startswith(b"?? "):
            p = top / os.fsdecode(entry[3:])
            if p.is_file():
                h.update(entry + b"\0" + p.read_bytes())
    return f"git:{head}+dirty:{h.hexdigest()[:16]}"


def _tree_hash(folder):
    h = hashlib.sha256()
    for p in sorted(Path(folder).rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + b"\0")
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


# -- reports --------------------------------------------------------------------

def progress_line(done, total, result):
    """'[3/12] kv260_r5 zephyr/samples/... (kv260-rpmsg:rpu0) ... ok 41 s'."""
    return f"[{done}/{total}] {result.job.label} ... {result.word} {seconds(result.duration)}"


def seconds(t):
    return f"{t:.0f} s" if t >= 10 else f"{t:.1f} s"


def summary_table(run_):
    """The end-of-run table: one row per job, then the counts."""
    rows = [("board", "sample", "system:domain", "result", "time")]
    for r in run_.results:
        j = r.job
        rows.append((j.board, j.sample, f"{j.system_name}:{j.domain}", r.word,
                     seconds(r.duration)))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def verdict(run_):
    passed = run_.count("ok", "up-to-date")
    fresh = run_.count("up-to-date")
    failed = run_.count("failed")
    text = (f"{len(run_.results)} builds: {passed} passed ({fresh} up to date), "
            f"{failed} failed")
    if run_.lint:
        text += f"; {len(run_.lint)} lint error(s)"
    return text + f" in {seconds(run_.finished - run_.started)}"


def failure_details(result):
    """What to show for a failed job: the message, findings or log tail, the log path."""
    lines = [f"--- {result.job.id}: {result.word}: {result.message}"]
    if result.stage == "validate":
        for f in result.findings:
            if f["severity"] == "error":
                lines.append(f"  {f['rule']} {f['object'] or ''}: {f['message']}".replace(
                    "  :", ":"))
        lines.append(f"  findings: {result.step.validation}")
    elif result.stage == "build":
        lines.append(f"  last {len(result.tail)} lines of {result.step.log}:")
        lines.extend("  | " + line for line in result.tail)
    if result.stage != "config":
        lines.append(f"  full log: {result.step.log}")
    return "\n".join(lines)


def to_json(run_):
    """The full result as a JSON-able dict (docs/amp-build.md)."""
    return {
        "format": FORMAT, "version": 1,
        "matrix": run_.matrix, "workspace": str(run_.plan.topdir),
        "build_root": str(run_.plan.root), "shard": run_.shard, "jobs": run_.jobs,
        "pristine": run_.plan.pristine,
        "started": run_.started, "finished": run_.finished,
        "ok": run_.ok,
        "counts": {"total": len(run_.results), "passed": run_.count("ok", "up-to-date"),
                   "built": run_.count("ok"), "up_to_date": run_.count("up-to-date"),
                   "failed": run_.count("failed"), "lint_errors": len(run_.lint)},
        "lint": [{"file": p.file, "line": p.line, "column": p.column, "message": p.message}
                 for p in run_.lint],
        "results": [_result_json(r) for r in run_.results],
    }


def _result_json(r):
    j, s = r.job, r.step
    return {
        "id": j.id, "board": j.board, "sample": j.sample, "system": str(j.system),
        "system_name": j.system_name, "domain": j.domain, "entry": j.where,
        "status": r.status, "stage": r.stage, "message": r.message,
        "started": r.started, "finished": r.finished, "duration": round(r.duration, 3),
        "command": [str(a) for a in s.command], "build_dir": str(s.build_dir),
        "elf": str(s.elf), "log": str(s.log), "findings": r.findings, "tail": r.tail,
        "expect": {k: list(v) if isinstance(v, tuple) else v for k, v in j.expect},
    }


def to_junit(run_):
    """JUnit XML (testsuites/testsuite/testcase/failure) as CI test reporters read it:
    one testsuite per board, one testcase per build, one more suite for the lint."""
    suites = ET.Element("testsuites", name="west amp-build")
    by_board = {}
    for r in run_.results:
        by_board.setdefault(r.job.board, []).append(r)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(run_.started))
    host = socket.gethostname()
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    for board, results in by_board.items():
        suite = ET.SubElement(suites, "testsuite", name=f"amp-build.{board}",
                              timestamp=stamp, hostname=host)
        counts = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
        for r in results:
            case = ET.SubElement(suite, "testcase", classname=f"amp-build.{board}", name=r.job.id,
                                 file=r.job.sample, time=f"{r.duration:.3f}")
            counts["tests"] += 1
            counts["time"] += r.duration
            if not r.passed:
                tag = "error" if r.stage == "config" else "failure"
                counts["errors" if tag == "error" else "failures"] += 1
                body = failure_details(r)
                ET.SubElement(case, tag, type=r.stage, message=r.message).text = body
            out = [f"status: {r.status}", f"command: {shell_join(r.step.command)}",
                   f"log: {r.step.log}"]
            ET.SubElement(case, "system-out").text = "\n".join(out)
        _count_attrs(suite, counts, totals)
    if run_.lint:
        suite = ET.SubElement(suites, "testsuite", name="amp-build.lint", timestamp=stamp,
                              hostname=host)
        counts = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
        for p in run_.lint:
            case = ET.SubElement(suite, "testcase", classname="amp-build.lint", name=p.file,
                                 file=p.file, time="0")
            ET.SubElement(case, "failure", type="lint", message=p.message).text = p.message
            counts["tests"] += 1
            counts["failures"] += 1
        _count_attrs(suite, counts, totals)
    _count_attrs(suites, totals, None)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _count_attrs(elem, counts, totals):
    elem.set("tests", str(counts["tests"]))
    elem.set("failures", str(counts["failures"]))
    elem.set("errors", str(counts["errors"]))
    elem.set("skipped", "0")
    elem.set("time", f"{counts['time']:.3f}")
    if totals is not None:
        for k in totals:
            totals[k] += counts[k]


def write_text(path, text):
    """Write a report file whole: into a temporary sibling, then renamed into place."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None

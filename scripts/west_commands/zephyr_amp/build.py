"""The amp-build orchestration: generate, `west build`, validate; in parallel, incrementally.

For a list of matrix.BuildJobs:

    plan()       configure every system once per run (the amp-config library, in
                 memory; or its files from the last run when nothing that makes
                 them changed: build_cache.py), work out each job's directories
                 and its exact `west build` command;
    preflight()  could it run at all? Zephyr in the workspace, the samples, a
                 compiler per architecture (UsageError, exit 2, otherwise);
    lint()       the sample.yaml / testcase.yaml of every sample, duplicate keys first;
    execute()    write the generated files (only where they changed), then per job:
                 up to date? else `west build` -> zephyr/<CONFIG_KERNEL_BIN_NAME>.elf ->
                 elfcheck against the system's layout.json and domain; -j jobs at a time.

Layout of the build root (default build/amp-build):

    amp/<system>/...            what `west amp-config` writes for the system
    amp/.<system>.configured.json  what made those files (build_cache.py)
    <job id>/build/             the west build directory (zephyr/zephyr.elf by default)
    <job id>/build.log          everything `west build` printed
    <job id>/validation.json    the ELF findings (Report.to_json())
    <job id>/amp-build.json     the stamp: digest of the inputs of the last good build

A job passes when its build and its validation pass. It is up to date, and
not rebuilt, when the digest of its inputs (system YAML bytes, matrix entry,
the generated files of its domain, the extra conf/overlay files, the
revisions of the sample's and Zephyr's trees, this module's zephyr/ folder)
equals the stamp's and its ELF is the one the stamp recorded; its findings
are then the recorded ones when the checker is the one that made them, else
the ELF is validated again. Nothing here prints: results come back as
values, progress through callbacks; the west command does the talking.

The amp-config pipeline (jinja2, pykwalify) and the ELF checker (pyelftools)
are imported only when a system must be configured or an ELF checked.
"""

import concurrent.futures
import functools
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import build_cache as cache
from .build_cache import REPO_ROOT, sha256_file, sha256_text
from .build_preflight import LintProblem, find_zephyr, lint, preflight  # noqa: F401
from .build_report import (  # noqa: F401
    FORMAT,
    failure_details,
    progress_line,
    seconds,
    shell_join,
    start_line,
    summary_table,
    to_json,
    to_junit,
    verdict,
    write_text,
)
from .errors import AmpError

log = logging.getLogger(__name__)

STAMP = "amp-build.json"
TAIL_LINES = 25


class PlanError(AmpError):
    """The matrix asks for something impossible (the user's error: exit 1)."""


# -- plan -----------------------------------------------------------------------

@dataclass
class Configured:
    """One system, configured once per run: its generated files or why not."""

    path: Path
    out_dir: Path
    files: dict = None           # relative path -> text
    error: str = None
    key: str = None              # build_cache.configured_key()
    fresh: bool = False          # the files are already on disk, as recorded
    board_roots: tuple = ()
    result: object = None        # config.Result, when configured in this run

    @functools.cached_property
    def layout(self):
        """The typed layout (zephyr_amp.layout.Layout) the ELF checker reads: amp-config's
        own when configured in this run, else read back from the recalled layout.json."""
        if self.result is not None:
            return self.result.layout
        from .elfcheck.layouts import typed
        return typed(json.loads(self.files["layout.json"]), self.out_dir / "layout.json")

    @functools.cached_property
    def domains(self):
        """layout.json's "domains", for the plan-time checks of every run: reading the
        typed layout loads the boards' schemas (pykwalify), which an up-to-date run
        does not need."""
        return json.loads(self.files["layout.json"])["domains"]

    @functools.cached_property
    def system_sha256(self):
        return sha256_file(self.path)


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
        """build/zephyr/<CONFIG_KERNEL_BIN_NAME>.elf: the build's .config names it
        (rpmsg_multi_services sets it); zephyr.elf before the first build."""
        zdir = self.build_dir / "zephyr"
        return zdir / f"{kernel_bin_name(zdir / '.config')}.elf"

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
        prefix = self.job.domain + "/"
        return {k: v for k, v in self.system.files.items()
                if k.startswith(prefix) or k == "layout.json"}


@dataclass
class Plan:
    steps: list
    root: Path
    topdir: Path
    systems: dict                # system path -> Configured
    pristine: bool = False
    zephyr: Path = None          # the tree `west build` comes from, once preflight found it
    board_roots: tuple = ()


def kernel_bin_name(dot_config) -> str:
    """CONFIG_KERNEL_BIN_NAME of a build's zephyr/.config ("zephyr" when the file or
    the option is not there: Zephyr's default)."""
    try:
        text = Path(dot_config).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "zephyr"
    for line in text.splitlines():
        if line.startswith("CONFIG_KERNEL_BIN_NAME="):
            name = line.split("=", 1)[1].strip().strip('"')
            if name and "/" not in name:
                return name
    return "zephyr"


def west_command():
    """How to run west: the `west` on PATH, else this Python's west module."""
    return ["west"] if shutil.which("west") else [sys.executable, "-m", "west"]


def plan(jobs, root, topdir, west=None, pristine=False, extra_module=False, board_roots=(),
         zephyr_version=None):
    """Configure every system once (in memory, or recalled from the build root)
    and build each job's command. board_roots: extra board folders (--board-root),
    searched before the bundled boards for every system. zephyr_version: the Zephyr
    the files are generated for (default: the workspace's, zephyr_version.target())."""
    root = Path(root).resolve()
    topdir = Path(topdir).resolve()
    roots = tuple(Path(r).resolve() for r in board_roots)
    west = west or west_command()
    if zephyr_version is None:
        from . import zephyr_version as zv  # the workspace's zephyr/VERSION, else 4.4
        zephyr_version = zv.target(topdir=str(topdir))
    stems = {}
    for path in dict.fromkeys(job.system for job in jobs):
        if stems.setdefault(path.stem, path) != path:
            raise PlanError(f"two systems named {path.stem}: {stems[path.stem]} and {path}; "
                            "their generated files would share amp/" + path.stem)
    systems = {path: _configure(path, root, roots, zephyr_version) for path in stems.values()}
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
    return Plan(steps, root, topdir, systems, pristine, board_roots=roots)


def _configure(path, root, board_roots, zephyr_version=None):
    """The system's files: recalled when the record in the build root says the same
    inputs made the files there, else configured now (the amp-config pipeline)."""
    out = root / "amp" / path.stem
    try:
        key = cache.configured_key(path, board_roots, zephyr_version)
    except OSError as e:
        return Configured(path, out, error=f"{path}: cannot read: {e.strerror}")
    files = cache.recall(out, key)
    if files is not None:
        log.debug("%s: generated files recalled from %s", path.name, out)
        return Configured(path, out, files, key=key, fresh=True, board_roots=board_roots)
    from . import config  # the pipeline: jinja2, pykwalify, the templates
    log.debug("%s: configuring", path.name)
    try:
        result = config.configure(path, board_roots=board_roots,
                                  **({"zephyr_version": zephyr_version} if zephyr_version else {}))
    except AmpError as e:
        return Configured(path, out, error=str(e))
    except ImportError:         # a dependency not installed: the command says which
        raise
    except Exception as e:      # a bug in amp-config: fail this system's entries, not the run
        log.debug("amp-config failed on %s", path, exc_info=True)
        return Configured(path, out, error=f"{path.name}: amp-config failed unexpectedly: "
                          f"{type(e).__name__}: {e} (please report it)")
    return Configured(path, out, result.files, key=key, board_roots=board_roots, result=result)


def _problem(job, sysc):
    """Why this job cannot be built with its system, or None."""
    if sysc.error:
        return sysc.error
    domains = sysc.domains
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
    build_seconds: float = 0.0                     # of which `west build` itself

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
    runs: list = field(default_factory=list)     # build_run.EntryRun, with --run

    @property
    def ok(self):
        return not self.lint and all(r.passed for r in self.results) \
            and all(r.status != "failed" for r in self.runs)

    def count(self, *statuses):
        return sum(1 for r in self.results if r.status in statuses)


def write_generated(plan_):
    """Write each configured system's files, only where they changed (so that
    CMake sees unchanged inputs as unchanged), and record what made them."""
    for sysc in plan_.systems.values():
        if sysc.error or sysc.fresh:
            continue
        if _same_files(sysc.out_dir, sysc.files):
            log.debug("%s: generated files unchanged", sysc.out_dir)
        else:
            log.debug("%s: writing %d generated files", sysc.out_dir, len(sysc.files))
            cache.forget(sysc.out_dir)
            _write_outputs(sysc.files, sysc.out_dir)
        from . import boards  # loaded already: the system was configured in this run
        cache.remember(sysc.out_dir, sysc.key, boards.board_roots(sysc.board_roots),
                       sysc.files)
        sysc.fresh = True


def _write_outputs(files, out_dir):
    """amp-config's all-or-nothing writer (output.py, or render.py before it moved)."""
    try:
        from .output import write_outputs
    except ImportError:
        from .render import write_outputs
    write_outputs(files, out_dir)


def _same_files(out_dir, files):
    if not (out_dir / cache.MARKER).is_file():
        return False
    on_disk = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()}
    if on_disk != set(files):
        return False
    return all((out_dir / rel).read_text(encoding="utf-8") == text
               for rel, text in files.items())


def execute(plan_, jobs=1, on_done=None, environ=None, on_start=None):
    """Run every step, `jobs` at a time; on_start(step) as a build starts (not for
    an entry found up to date), on_done(done, total, JobResult) as each ends.
    Returns the JobResults in plan order."""
    write_generated(plan_)
    revisions = cache.Revisions(plan_.zephyr or plan_.topdir / "zephyr", exclude=plan_.root)
    module = _module_digest()
    total = len(plan_.steps)
    results = [None] * total
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(_run_step, s, plan_, revisions, module, environ, on_start): i
                   for i, s in enumerate(plan_.steps)}
        for done, fut in enumerate(concurrent.futures.as_completed(futures), 1):
            i = futures[fut]
            results[i] = fut.result()
            if on_done:
                on_done(done, total, results[i])
    return results


def run(plan_, jobs=1, on_done=None, environ=None, matrix="", shard=None, lint_problems=(),
        on_start=None):
    """execute() with the run's bookkeeping: a RunResult."""
    started = time.time()
    results = execute(plan_, jobs, on_done, environ, on_start)
    return RunResult(plan_, results, list(lint_problems), started, time.time(), str(matrix),
                     shard, jobs)


def _run_step(step, plan_, revisions, module, environ, on_start=None):
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
    if on_start:
        on_start(step)
    _warm_checker()
    t0 = time.time()
    rc = _west_build(step, plan_.topdir, environ)
    built = time.time() - t0

    def failed(stage, message, **kw):
        return JobResult(step, "failed", stage, message, started, time.time(),
                         build_seconds=built, **kw)

    if rc != 0:
        return failed("build", f"west build exited with status {rc}", tail=_tail(step.log))
    if not step.elf.is_file():
        return failed("build", f"west build wrote no {step.elf}", tail=_tail(step.log))
    elf_sha = sha256_file(step.elf)
    try:
        report = _validate(step)
    except AmpError as e:
        return failed("validate", str(e))
    findings = [f.to_json() for f in report.findings]
    if not report.ok():
        return failed("validate", f"{len(report.errors)} error(s) in {step.elf.name} against "
                      f"{step.job.system_name}:{step.job.domain}", findings=findings)
    stamp = {"format": FORMAT + "-stamp", "inputs": digest, "elf": str(step.elf),
             "elf_sha256": elf_sha, "checker": cache.library_digest(),
             "command": step.command}
    step.stamp.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    return JobResult(step, "ok", None, report.verdict(), started, time.time(), findings,
                     build_seconds=built)


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


_warm = threading.Lock()


def _warm_checker():
    """Import the ELF checker (pyelftools) in the background while the first build
    runs, so that its first validation does not wait for it: the build is in
    another process and the import in this one. Once per process; an import
    that fails here fails again, with its message, where the checker is used."""
    if not _warm.acquire(blocking=False):
        return

    def load():
        try:
            from . import elfcheck  # noqa: F401
        except Exception:
            log.debug("preloading the ELF checker failed", exc_info=True)

    threading.Thread(target=load, name="amp-build-warm-checker", daemon=True).start()


def _validate(step):
    from . import elfcheck  # pyelftools: only when an ELF is checked
    report = elfcheck.check_elf(step.elf, step.system.layout, step.job.domain)
    step.validation.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return report


def _up_to_date(step, digest):
    """The findings of the still-valid ELF when nothing changed, else None. The
    findings recorded with the stamp stand when the same checker made them (same
    ELF, same layout: the same findings); otherwise the ELF is checked again."""
    try:
        stamp = json.loads(step.stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if stamp.get("inputs") != digest or not step.elf.is_file():
        return None
    if stamp.get("elf_sha256") != sha256_file(step.elf):
        return None
    if stamp.get("checker") == cache.library_digest():
        try:
            report = json.loads(step.validation.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = None
        if isinstance(report, dict) and report.get("ok") is True \
                and isinstance(report.get("findings"), list):
            return report["findings"]
    try:
        report = _validate(step)
    except AmpError:
        return None
    if not report.ok():
        return None
    stamp["checker"] = cache.library_digest()
    step.stamp.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    return [f.to_json() for f in report.findings]


def _tail(path, n=TAIL_LINES):
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return lines[-n:]


# -- incremental ------------------------------------------------------------------

def _digest(step, plan_, revisions, module):
    """sha256 over everything that decides what the build produces."""
    job = step.job
    west_len = step.command.index("build")
    command = [a for a in step.command[west_len:] if not a.startswith("--pristine")]
    doc = {
        "command": command,
        "entry": {"sample": job.sample, "board": job.board, "system": str(job.system),
                  "domain": job.domain, "cmake_args": list(job.cmake_args)},
        "system_yaml": step.system.system_sha256,
        "generated": {k: sha256_text(v) for k, v in sorted(step.generated().items())},
        "extra_files": {str(p): sha256_file(p) for p in (*job.extra_conf, *job.extra_overlay)},
        "sample_tree": revisions.of(plan_.topdir / job.sample),
        "zephyr_tree": revisions.of_zephyr(),
        "module": module,
    }
    return sha256_text(json.dumps(doc, sort_keys=True))


def _module_digest():
    """This module's own build inputs (zephyr/module.yml, zephyr/CMakeLists.txt, dts/)."""
    folders = [REPO_ROOT / f for f in ("zephyr", "dts")]
    return cache.tree_digest(*(f for f in folders if f.is_dir()))

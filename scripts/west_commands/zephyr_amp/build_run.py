"""`west amp-build --run`: boot what was built, in QEMU, and check its consoles.

A matrix entry is a run entry when its `expect:` says `run: qemu` and lists
`console:` regexes (what the entry's domain prints, matched in order, Python
`re`, multi-line: twister's harness_config regex with ordered: true). After
the builds and ELF checks, the run entries of each system are run together,
one system at a time: every domain gets the ELF its entry built and its
entry's regexes (zephyr_amp.run.run_system), in a copy of the system's
generated files, `<build root>/amp/.<system>.run/` (the generated folder
itself stays as its record says, so it is recalled next time). The timeout
is the largest `timeout:` of the system's run entries, else run.DEFAULT_TIMEOUT.

Each run entry becomes one more result, `<entry id> run`: 'ok', 'failed'
(its regexes did not all match, its QEMU failed, or the run could not start)
or 'not-run' (an entry of its system failed to build or validate). Nothing
here prints; report(text) gets progress lines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from .errors import AmpError

TAIL_LINES = 25


@dataclass
class EntryRun:
    """The run of one entry's domain."""

    step: object                 # build.Step
    status: str                  # ok | failed | not-run
    message: str = ""
    reason: str = None           # run.RunResult.reason
    matched: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    tail: str = ""
    console: str = None
    run_dir: str = None
    seconds: float = 0.0

    @property
    def job(self):
        return self.step.job

    @property
    def name(self) -> str:
        return f"{self.job.id} run"

    @property
    def passed(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict:
        return {"name": self.name, "id": self.job.id, "system_name": self.job.system_name,
                "domain": self.job.domain, "status": self.status, "message": self.message,
                "reason": self.reason, "matched": self.matched, "failed": self.failed,
                "console": self.console, "run_dir": self.run_dir,
                "seconds": round(self.seconds, 3), "tail": self.tail.splitlines()}


def expectations(job) -> list:
    """The console regexes of a run entry, or [] when it is not one."""
    expect = dict(job.expect)
    return list(expect.get("console") or ()) if expect.get("run") == "qemu" else []


def run_all(run_, report: Callable[[str], None] | None = None, stop=None) -> list:
    """Run the run entries of every system of a build.RunResult; [EntryRun] in plan order."""
    report = report or (lambda text: None)
    by_system = {}
    for r in run_.results:
        if expectations(r.job):
            by_system.setdefault(r.job.system, []).append(r)
    runs = []
    for system, results in by_system.items():
        runs += _run_system(run_.plan.systems[system], results, report, stop)
    return runs


def _run_system(sysc, results, report, stop) -> list:
    broken = [r.job.id for r in results if not r.passed]
    if broken:
        why = f"not run: {', '.join(broken)} did not build and validate"
        return [EntryRun(r.step, "not-run", why) for r in results]
    runs, chosen = [], {}
    for r in results:
        if r.job.domain in chosen:
            runs.append(EntryRun(r.step, "not-run", f"not run: {chosen[r.job.domain].job.id} "
                                 f"already runs domain {r.job.domain}; give each run entry "
                                 "of a system its own domain"))
        else:
            chosen[r.job.domain] = r
    timeouts = [dict(r.job.expect).get("timeout") for r in chosen.values()]
    timeout = max((t for t in timeouts if t), default=None)
    run_dir = sysc.out_dir.parent / f".{sysc.out_dir.name}.run"
    report(f"running {sysc.path.name} in QEMU ({', '.join(chosen)}); consoles: {run_dir}/run")
    started = time.monotonic()
    try:
        result = _boot(sysc, run_dir, chosen, timeout, stop)
    except AmpError as e:
        took = time.monotonic() - started
        return runs + [EntryRun(r.step, "failed", str(e), run_dir=str(run_dir), seconds=took)
                       for r in chosen.values()]
    runs += [_entry(r.step, result, str(run_dir)) for r in chosen.values()]
    order = {id(r.step): i for i, r in enumerate(results)}
    return sorted(runs, key=lambda er: order[id(er.step)])


def _boot(sysc, run_dir, chosen, timeout, stop):
    from . import run
    from .build import _write_outputs
    _write_outputs(sysc.files, run_dir)
    elfs = {d: str(r.step.elf) for d, r in chosen.items()}
    expects = {d: expectations(r.job) for d, r in chosen.items()}
    return run.run_system(run_dir, elfs, expects, timeout, tail_lines=TAIL_LINES, stop=stop)


def _entry(step, result, run_dir) -> EntryRun:
    d = result.domains.get(step.job.domain)
    if d is None:
        return EntryRun(step, "failed", f"the run has no domain {step.job.domain}",
                        result.reason, run_dir=run_dir, seconds=result.seconds)
    if d.ok:
        message = f"{len(d.matched)} console expectation(s) matched"
        status = "ok"
    else:
        status = "failed"
        if d.failed:
            message = (f"{result.reason}: {len(d.failed)} of {len(d.matched) + len(d.failed)} "
                       f"console expectation(s) did not match, first {d.failed[0]!r}")
        else:
            message = f"{result.reason}: QEMU of {step.job.domain} exited with {d.exit_status}"
    return EntryRun(step, status, message, result.reason, list(d.matched), list(d.failed),
                    d.tail or "", str(d.console) if d.console else None, run_dir,
                    result.seconds)


def progress_line(er: EntryRun) -> str:
    word = {"ok": "ok", "failed": "FAILED (run)", "not-run": "not run"}[er.status]
    return f"[run] {er.job.label} ... {word} {er.seconds:.1f} s"


def failure_details(er: EntryRun) -> str:
    lines = [f"--- {er.name}: {er.message}"]
    if er.tail:
        lines.append(f"  last lines of {er.console}:")
        lines.extend("  | " + line for line in er.tail.splitlines())
    return "\n".join(lines)


def add_junit(suite, runs, board, counts) -> None:
    """One testcase per run entry of this board's suite: a failure carries the tail."""
    import xml.etree.ElementTree as ET
    for er in runs:
        case = ET.SubElement(suite, "testcase", classname=f"amp-build.{board}", name=er.name,
                             file=er.job.sample, time=f"{er.seconds:.3f}")
        counts["tests"] += 1
        counts["time"] += er.seconds
        if er.status == "failed":
            counts["failures"] += 1
            ET.SubElement(case, "failure", type="run", message=er.message).text = \
                failure_details(er)
        elif er.status == "not-run":
            counts["skipped"] = counts.get("skipped", 0) + 1
            ET.SubElement(case, "skipped", message=er.message)
        out = [f"status: {er.status}", f"console: {er.console}"]
        ET.SubElement(case, "system-out").text = "\n".join(out)

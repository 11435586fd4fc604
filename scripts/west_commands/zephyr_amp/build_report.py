"""What `west amp-build` tells people and CI: progress lines, the end-of-run table,
failure details, the JSON result document and JUnit XML (docs/amp-build.md).

Everything here turns a build.RunResult or build.JobResult into text; nothing
prints. write_text() writes a report file whole.
"""

import os
import shlex
import time
from pathlib import Path

from .errors import UsageError

FORMAT = "zephyr-amp-build"


def shell_join(argv):
    """argv as one line a shell runs unchanged."""
    return shlex.join(str(a) for a in argv)


def start_line(step):
    """'building kv260_r5 zephyr/samples/... (kv260-rpmsg:rpu0); log: <root>/<id>/build.log'."""
    return f"building {step.job.label}; log: {step.log}"


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
    if run_.runs:
        ran = [r for r in run_.runs if r.status != "not-run"]
        text += (f"; {len(ran)} run(s): {sum(r.passed for r in ran)} passed"
                 f"{f', {len(run_.runs) - len(ran)} not run' if len(ran) < len(run_.runs) else ''}")
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
        "board_roots": [str(r) for r in run_.plan.board_roots],
        "started": run_.started, "finished": run_.finished,
        "ok": run_.ok,
        "counts": {"total": len(run_.results), "passed": run_.count("ok", "up-to-date"),
                   "built": run_.count("ok"), "up_to_date": run_.count("up-to-date"),
                   "failed": run_.count("failed"), "lint_errors": len(run_.lint)},
        "lint": [{"file": p.file, "line": p.line, "column": p.column, "message": p.message}
                 for p in run_.lint],
        "results": [_result_json(r) for r in run_.results],
        "runs": [r.to_json() for r in run_.runs],
    }


def _result_json(r):
    j, s = r.job, r.step
    return {
        "id": j.id, "board": j.board, "sample": j.sample, "system": str(j.system),
        "system_name": j.system_name, "domain": j.domain, "entry": j.where,
        "status": r.status, "stage": r.stage, "message": r.message,
        "started": r.started, "finished": r.finished, "duration": round(r.duration, 3),
        "build_seconds": round(r.build_seconds, 3),
        "command": [str(a) for a in s.command], "build_dir": str(s.build_dir),
        "elf": str(s.elf), "log": str(s.log), "findings": r.findings, "tail": r.tail,
        "expect": {k: list(v) if isinstance(v, tuple) else v for k, v in j.expect},
    }


def to_junit(run_):
    """JUnit XML (testsuites/testsuite/testcase/failure) as CI test reporters read it:
    one testsuite per board, one testcase per build, one more suite for the lint."""
    import socket
    import xml.etree.ElementTree as ET
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
        if run_.runs:
            from .build_run import add_junit
            add_junit(suite, [x for x in run_.runs if x.job.board == board], board, counts)
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
    elem.set("skipped", str(counts.get("skipped", 0)))
    elem.set("time", f"{counts['time']:.3f}")
    if totals is not None:
        for k in counts:
            totals[k] = totals.get(k, 0) + counts[k]


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

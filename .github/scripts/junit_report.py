#!/usr/bin/env python3
"""JUnit XML for GitHub Actions: a job summary, and a file even when nothing ran.

    junit_report.py summary FILE... [--title TEXT]
        Writes a Markdown table (suites, tests, failures, errors, skipped) and
        every failing test case with the first lines of its message to
        $GITHUB_STEP_SUMMARY (stdout when unset), and one ::error annotation per
        failing case. Missing files are listed as such. Exit status 0.

    junit_report.py ensure FILE --suite NAME --reason TEXT
        When FILE does not exist or holds no test case, writes a JUnit file with
        one failed case "could not start" saying REASON, so that a run that
        stopped before its tests still reports (and fails) in the test report.
"""

import argparse
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr


def _suites(root):
    return [root] if root.tag == "testsuite" else list(root.iter("testsuite"))


def read(path):
    """(suite rows, failing cases) of one JUnit file."""
    root = ET.parse(path).getroot()
    rows, failing = [], []
    for suite in _suites(root):
        cases = list(suite.iter("testcase"))
        bad = {"failures": 0, "errors": 0, "skipped": 0}
        for case in cases:
            for tag, key in (("failure", "failures"), ("error", "errors"),
                             ("skipped", "skipped")):
                node = case.find(tag)
                if node is None:
                    continue
                bad[key] += 1
                if tag != "skipped":
                    text = (node.get("message") or node.text or "").strip()
                    name = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
                    failing.append((name, tag, text))
        rows.append((suite.get("name", path.name), len(cases), bad["failures"], bad["errors"],
                     bad["skipped"]))
    return rows, failing


def summary(files, title):
    out = [f"## {title}", "", "| suite | tests | failures | errors | skipped |",
           "| --- | ---: | ---: | ---: | ---: |"]
    failing_all = []
    for f in map(Path, files):
        if not f.is_file():
            out.append(f"| {f.name}: no such file | | | | |")
            continue
        try:
            rows, failing = read(f)
        except ET.ParseError as e:
            out.append(f"| {f.name}: not JUnit XML ({e}) | | | | |")
            continue
        out += [f"| {n} | {t} | {fl} | {er} | {sk} |" for n, t, fl, er, sk in rows]
        failing_all += failing
    if failing_all:
        out += ["", "### failing", ""]
        for name, tag, text in failing_all:
            first = " ".join(text.splitlines()[:3])[:300]
            out.append(f"- `{name}` ({tag}): {first}")
            print(f"::error title={name}::{first}")
    text = "\n".join(out) + "\n"
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)


def ensure(path, suite, reason):
    path = Path(path)
    if path.is_file():
        try:
            if any(True for _ in ET.parse(path).getroot().iter("testcase")):
                return False
        except ET.ParseError:
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<testsuites><testsuite name={quoteattr(suite)} tests="1" failures="1" errors="0" '
        f'skipped="0"><testcase classname={quoteattr(suite)} name="could not start">'
        f'<failure message={quoteattr(reason)}>{escape(reason)}</failure></testcase>'
        '</testsuite></testsuites>\n', encoding="utf-8")
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("summary")
    s.add_argument("files", nargs="+")
    s.add_argument("--title", default="test results")
    e = sub.add_parser("ensure")
    e.add_argument("file")
    e.add_argument("--suite", required=True)
    e.add_argument("--reason", required=True)
    args = parser.parse_args(argv)
    if args.what == "summary":
        summary(args.files, args.title)
    elif ensure(args.file, args.suite, args.reason):
        print(f"{args.file}: the run did not start; wrote a failing JUnit case")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""What `west amp-build` costs on top of the builds it runs.

    python3 benchmarks/bench_build.py [--runs N]

In a temporary west workspace whose Zephyr is the test stand-in
(tests/standin_zephyr: its `west build` links a tiny real firmware with the
cross compilers), for the whole bundled matrix, prints the median (and min)
wall time over N runs of:

  direct      the exact `west build` commands amp-build runs (taken from its
              plan), one after the other, each into a fresh build directory;
  amp-build   `west amp-build -j 1 --pristine`: the same builds plus loading
              the matrix, configuring every system, writing the generated files,
              the input digests and the ELF validation;
  -j 2        the same with two builds at a time;
  up to date  `west amp-build` when nothing changed: no build runs, every ELF is
              validated again;

then the difference amp-build - direct (the orchestration overhead, in total
and per entry), the cost of starting west (`west --version`), and the
in-process times of the parts of the overhead (plan: configure every system;
the up-to-date check of every entry). The stand-in builds take a fraction of
a second, so the overhead is large in proportion here; against real Zephyr
builds (tens of seconds each) it is the same absolute figure. Nothing is
asserted; this only prints.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts" / "west_commands"))
sys.path.insert(0, str(REPO / "tests"))

import standin_workspace as sw  # noqa: E402
from zephyr_amp import build, matrix  # noqa: E402


def timed(fn, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def run(cmd, cwd, env):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if r.returncode:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout}{r.stderr}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    for tool in ("arm-none-eabi-gcc", "aarch64-linux-gnu-gcc", "git"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (see .ci/run)")

    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        tmp = Path(tmp)
        env = sw.west_env(tmp / "config")
        top = sw.make(tmp / "ws", env)
        west = [sys.executable, "-m", "west"]
        jobs = matrix.load().jobs
        n = len(jobs)

        # The commands amp-build would run, with their generated inputs in place.
        direct_root = tmp / "direct"
        plan = build.plan(jobs, direct_root, top, west=west)
        build.write_generated(plan)
        commands = [[a.replace("--pristine=auto", "--pristine=always") for a in s.command]
                    for s in plan.steps]

        def direct():
            for s, cmd in zip(plan.steps, commands):
                shutil.rmtree(s.dir, ignore_errors=True)
                s.dir.mkdir(parents=True)
                with open(s.log, "w") as log:
                    subprocess.run(cmd, cwd=top, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   check=True)

        root = tmp / "amp-build"
        amp = [*west, "amp-build", "--build-root", str(root)]
        rows = [
            ("direct: the west build commands one by one", timed(direct, args.runs)),
            ("west amp-build -j 1 --pristine",
             timed(lambda: run([*amp, "-j", "1", "--pristine"], top, env), args.runs)),
            ("west amp-build -j 2 --pristine",
             timed(lambda: run([*amp, "-j", "2", "--pristine"], top, env), args.runs)),
        ]
        run(amp, top, env)
        rows.append(("west amp-build, all up to date",
                     timed(lambda: run(amp, top, env), args.runs)))
        rows.append(("west --version (starting west)",
                     timed(lambda: run([*west, "--version"], top, env), args.runs)))

        # In-process parts of the overhead.
        plan_t = timed(lambda: build.plan(jobs, root, top, west=west), args.runs)
        fresh = build.plan(jobs, root, top, west=west)

        def check_all():
            results = build.execute(fresh, 1)
            assert all(r.status == "up-to-date" for r in results), results

        rows.append(("in-process: plan (configure every system)", plan_t))
        rows.append(("in-process: up-to-date check of every entry", timed(check_all, args.runs)))

    print(f"west amp-build on the bundled matrix: {n} entries, "
          f"{len({j.system for j in jobs})} systems, stand-in Zephyr; "
          f"median (min) of {args.runs} runs")
    width = max(len(label) for label, _ in rows)
    for label, (med, low) in rows:
        print(f"  {label:<{width}}  {med:7.3f} s  ({low:.3f})")
    direct_t, amp_t = rows[0][1][0], rows[1][1][0]
    over = amp_t - direct_t
    print(f"  orchestration overhead (amp-build -j 1 - direct): {over:.3f} s in all, "
          f"{over / n * 1000:.0f} ms per entry ({over / direct_t * 100:.0f} % of these "
          f"stand-in builds)")


if __name__ == "__main__":
    main()

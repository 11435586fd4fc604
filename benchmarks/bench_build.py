#!/usr/bin/env python3
"""What `west amp-build` costs on top of the builds it runs, as ratios to floors.

    python3 benchmarks/bench_build.py [--rounds N] [--work-mib M] [--jobs J]

In a temporary west workspace whose Zephyr is the test stand-in
(tests/standin_zephyr: its `west build` links a tiny real firmware with the
cross compilers, after hashing M MiB: STANDIN_WORK_MIB, CPU work in place of
Zephyr's compile time, never a sleep), for the whole bundled matrix. Every
round runs each measurement once, in turn, so that the machine's load falls
on all of them alike; the figures are medians over the rounds:

  west --version        the floor of any west command (start-up)
  direct -j 1           the exact `west build` commands amp-build runs (from its
                        plan), one after the other, each into a fresh build dir
  amp-build -j 1        `west amp-build -j 1 --pristine`: the same builds plus the
                        matrix, the systems, the digests, the ELF validation
  direct -j J           the same commands, J at a time (J = cores by default)
  amp-build -j J        `west amp-build -j J --pristine`
  up to date            `west amp-build` when nothing changed (no build runs)

Printed: each time with its ratio to its floor (amp-build -j 1 / direct -j 1,
amp-build -j J / direct -j J, up to date / west --version); the overhead per
entry, (amp-build -j 1 - direct -j 1) / entries, and the same without the
one-off part (the up-to-date run: start-up, matrix, systems, git), which is
what each further entry costs; the in-step overhead amp-build measures itself
(each entry's time minus its `west build`, from --json); the -j speed-up.
Nothing is asserted; this only prints.
"""

import argparse
import concurrent.futures
import json
import os
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

import standin_workspace as sw
from zephyr_amp import build, matrix


def run(cmd, cwd, env, out=None):
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=out or subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, check=False)
    if r.returncode:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout or ''}")


class Bench:
    def __init__(self, tmp, work_mib, jobs):
        self.env = sw.west_env(tmp / "config", STANDIN_WORK_MIB=str(work_mib))
        self.top = sw.make(tmp / "ws", self.env)
        self.west = [sys.executable, "-m", "west"]
        self.jobs = matrix.load().jobs
        self.j = jobs
        plan = build.plan(self.jobs, tmp / "direct", self.top, west=self.west)
        build.write_generated(plan)
        self.steps = [(s, [a.replace("--pristine=auto", "--pristine=always") for a in s.command])
                      for s in plan.steps]
        self.root = tmp / "amp-build"
        self.amp = [*self.west, "amp-build", "--build-root", str(self.root)]
        self.result = tmp / "result.json"
        self.in_step = []

    def _direct_one(self, step, cmd):
        shutil.rmtree(step.dir, ignore_errors=True)
        step.dir.mkdir(parents=True)
        with open(step.log, "w") as log:
            run(cmd, self.top, self.env, out=log)

    def direct(self, j):
        with concurrent.futures.ThreadPoolExecutor(max_workers=j) as pool:
            list(pool.map(lambda sc: self._direct_one(*sc), self.steps))

    def amp_build(self, j):
        run([*self.amp, "-j", str(j), "--pristine", "--json", str(self.result)], self.top,
            self.env)
        if j == 1:
            doc = json.loads(self.result.read_text())
            self.in_step += [r["duration"] - r["build_seconds"] for r in doc["results"]]

    def measurements(self):
        return [
            ("west --version", lambda: run([*self.west, "--version"], self.top, self.env)),
            ("direct -j 1", lambda: self.direct(1)),
            ("amp-build -j 1", lambda: self.amp_build(1)),
            (f"direct -j {self.j}", lambda: self.direct(self.j)),
            (f"amp-build -j {self.j}", lambda: self.amp_build(self.j)),
            ("up to date", lambda: run(self.amp, self.top, self.env)),
        ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    ap.add_argument("--work-mib", type=int, default=400,
                    help="MiB each stand-in build hashes (default 400: ~0.2 s of one core)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2,
                    help="J for the parallel rows (default: the number of cores)")
    args = ap.parse_args()
    for tool in ("arm-none-eabi-gcc", "aarch64-linux-gnu-gcc", "git"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (see .ci/run)")
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        bench = Bench(Path(tmp), args.work_mib, args.jobs)
        meas = bench.measurements()
        times = {label: [] for label, _ in meas}
        load = [os.getloadavg()[0]]
        for fn in (m[1] for m in meas):          # warm-up: caches, stamps, the up-to-date state
            fn()
        for r in range(args.rounds):
            for label, fn in meas[r % len(meas):] + meas[:r % len(meas)]:
                t = time.perf_counter()
                fn()
                times[label].append(time.perf_counter() - t)
            load.append(os.getloadavg()[0])
        report(bench, times, load, args)


def report(bench, times, load, args):
    med = {k: statistics.median(v) for k, v in times.items()}
    n, j = len(bench.jobs), args.jobs
    print(f"west amp-build on the bundled matrix: {n} entries, "
          f"{len({x.system for x in bench.jobs})} systems, stand-in Zephyr hashing "
          f"{args.work_mib} MiB per build; median of {args.rounds} interleaved rounds; "
          f"{os.cpu_count()} cores, load average {min(load):.2f}..{max(load):.2f}")
    rows = [("west --version", None), ("direct -j 1", None), ("amp-build -j 1", "direct -j 1"),
            (f"direct -j {j}", None), (f"amp-build -j {j}", f"direct -j {j}"),
            ("up to date", "west --version")]
    for label, floor in rows:
        ratio = f"{med[label] / med[floor]:6.2f}x {floor}" if floor else ""
        print(f"  {label:<16} {med[label] * 1e3:8.0f} ms  (min {min(times[label]) * 1e3:6.0f})"
              f"  {ratio}")
    over = med["amp-build -j 1"] - med["direct -j 1"]
    marginal = over - med["up to date"]
    print(f"  overhead per entry, (amp-build -j 1 - direct -j 1) / {n}: {over / n * 1e3:.0f} ms")
    print(f"  of which one-off (= the up-to-date run, {med['up to date'] * 1e3:.0f} ms); "
          f"each further entry: {marginal / n * 1e3:.0f} ms")
    if bench.in_step:
        print(f"  in-step overhead (entry time - its west build, amp-build's own clock): "
              f"median {statistics.median(bench.in_step) * 1e3:.1f} ms, "
              f"max {max(bench.in_step) * 1e3:.1f} ms")
    print(f"  -j {j} speed-up: amp-build {med['amp-build -j 1'] / med[f'amp-build -j {j}']:.2f}x, "
          f"direct {med['direct -j 1'] / med[f'direct -j {j}']:.2f}x (ideal {j}x)")


if __name__ == "__main__":
    main()

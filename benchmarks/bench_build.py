#!/usr/bin/env python3
"""What `west amp-build` costs on top of the builds it runs, as ratios to floors.

    python3 benchmarks/bench_build.py [--rounds N] [--work-mib M] [--jobs J]

In a temporary west workspace whose Zephyr is the test stand-in
(tests/standin_zephyr: its `west build` links a tiny real firmware with the
cross compilers, after hashing M MiB: STANDIN_WORK_MIB, CPU work in place of
Zephyr's compile time, never a sleep), for the whole bundled matrix. Each
figure is a pair, a measurement and its floor, run back to back in every
round (which one goes first alternates from round to round), so that the
load of a shared machine falls on both alike; printed are the median of the
per-round ratios (and of the differences), and the ratio of the fastest runs:

  amp-build -j 1        `west amp-build -j 1 --pristine` (the builds plus the matrix,
                        the systems, the digests, the ELF validation)
                        against the exact `west build` commands it runs (from its
                        plan), one after the other, each into a fresh build dir
  new build root        the same into an empty build root (every system is
                        configured too: a first run), against the same floor
  amp-build -j J        `--pristine -j J` against those commands J at a time
                        (J = cores by default)
  up to date            `west amp-build` when nothing changed (no build runs)
                        against `west --version` (the start-up of any west command)
  -j J speed-up         amp-build -j 1 against -j J (ideal: J)

and the overhead per entry: (amp-build -j 1 - direct) / entries; the same
without the one-off part (the up-to-date run: start-up, matrix, systems,
git), which is what each further entry costs; and the in-step overhead
amp-build measures itself (each entry's time minus its `west build`, from
--json). Nothing is asserted; this only prints.

Python's bytecode is cached as on a user's machine (written on the first
run, into a PYTHONPYCACHEPREFIX in the temporary folder, not the checkout),
even where the environment sets PYTHONDONTWRITEBYTECODE: otherwise every run
would compile this library from source while west's own modules come
precompiled from their install, and the floors would not be floors.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts" / "west_commands"))
sys.path.insert(0, str(REPO / "tests"))

import standin_workspace as sw  # noqa: E402
from pairing import paired  # noqa: E402 - beside this script
from zephyr_amp import build, matrix  # noqa: E402


def run(cmd, cwd, env, out=None):
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=out or subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, check=False)
    if r.returncode:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout or ''}")


class Bench:
    def __init__(self, tmp, work_mib, jobs):
        self.env = sw.west_env(tmp / "config", STANDIN_WORK_MIB=str(work_mib),
                               PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)     # bytecode cached, as for a user
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
        self.peak = 0

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
        doc = json.loads(self.result.read_text())
        if j == 1:
            self.in_step += [r["duration"] - r["build_seconds"] for r in doc["results"]]
        else:
            self.peak = max(self.peak, peak(doc["results"]))

    def new_root(self):
        root = self.root.with_name("amp-build-new")
        shutil.rmtree(root, ignore_errors=True)
        run([*self.west, "amp-build", "-j", "1", "--build-root", str(root)], self.top, self.env)

    def pairs(self):
        """(label, floor, measurement) of every figure."""
        j = self.j
        return [
            ("amp-build -j 1", lambda: self.direct(1), lambda: self.amp_build(1)),
            ("new build root", lambda: self.direct(1), self.new_root),
            (f"amp-build -j {j}", lambda: self.direct(j), lambda: self.amp_build(j)),
            ("up to date", lambda: run([*self.west, "--version"], self.top, self.env),
             lambda: run(self.amp, self.top, self.env)),
            (f"-j {j} speed-up", lambda: self.amp_build(j), lambda: self.amp_build(1)),
        ]


def peak(results):
    """The most entries running at once, from amp-build's own start/finish times."""
    events = sorted([(r["started"], 1) for r in results] + [(r["finished"], -1) for r in results])
    running = most = 0
    for _, delta in events:
        running += delta
        most = max(most, running)
    return most


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
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
        load = [os.getloadavg()[0]]
        times = paired(bench.pairs(), args.rounds)
        load.append(os.getloadavg()[0])
        report(bench, times, load, args)


def report(bench, times, load, args):
    n, j = len(bench.jobs), args.jobs
    print(f"west amp-build on the bundled matrix: {n} entries, "
          f"{len({x.system for x in bench.jobs})} systems, stand-in Zephyr hashing "
          f"{args.work_mib} MiB per build; {args.rounds} rounds of back-to-back pairs; "
          f"{os.cpu_count()} cores, load average {load[0]:.2f} at the start, "
          f"{load[-1]:.2f} at the end")
    floors = {"amp-build -j 1": "direct -j 1", "new build root": "direct -j 1",
              f"amp-build -j {j}": f"direct -j {j}", "up to date": "west --version",
              f"-j {j} speed-up": f"amp-build -j {j}"}
    print(f"  {'figure':<18}{'median':>9}{'floor':>9}  {'ratio (median of rounds)':<26}"
          f"{'ratio of minima':>16}")
    for label, (floor, mine) in times.items():
        ratios = [m / f for f, m in zip(floor, mine)]
        print(f"  {label:<18}{statistics.median(mine) * 1e3:>7.0f}ms"
              f"{statistics.median(floor) * 1e3:>7.0f}ms  "
              f"{statistics.median(ratios):5.2f}x {floors[label]:<18}"
              f"{min(mine) / min(floor):>8.2f}x")
    floor, mine = times["amp-build -j 1"]
    over = statistics.median(m - f for f, m in zip(floor, mine))
    once = statistics.median(times["up to date"][1])
    print(f"  overhead per entry, (amp-build -j 1 - direct -j 1) / {n}: {over / n * 1e3:.0f} ms "
          f"(minima: {(min(mine) - min(floor)) / n * 1e3:.0f} ms)")
    print(f"  of which one-off (the up-to-date run, {once * 1e3:.0f} ms); each further entry: "
          f"{round((over - once) / n * 1e3) + 0} ms")
    print(f"  -j {j}: at most {bench.peak} entries ran at once (amp-build's own start and "
          "finish times)")
    if bench.in_step:
        print(f"  in-step overhead (entry time - its west build, amp-build's own clock): "
              f"median {statistics.median(bench.in_step) * 1e3:.1f} ms, "
              f"max {max(bench.in_step) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()

"""Interleaved rounds shared by the benchmarks: each figure is measured right next to
its floor, in alternating order, so that a machine whose load changes during the run
moves both alike."""

import time


def paired(pairs, rounds):
    """{label: (floor times, times)}: every round runs every pair, floor and
    measurement back to back, the floor first in even rounds and second in odd
    ones; the pairs start one further along each round. One warm-up pass first."""
    for _, floor, fn in pairs:
        floor()
        fn()
    out = {label: ([], []) for label, _, _ in pairs}
    for r in range(rounds):
        k = r % len(pairs)
        for label, floor, fn in pairs[k:] + pairs[:k]:
            order = [(0, floor), (1, fn)] if r % 2 == 0 else [(1, fn), (0, floor)]
            for side, f in order:
                t0 = time.perf_counter()
                f()
                out[label][side].append(time.perf_counter() - t0)
    return out

"""How long does `west amp-validate` take on a large firmware image, with and
without a system?

Builds a Cortex-R5 image with tens of MB of DWARF (-g3: macro tables, one
struct type and one const table per function, thousands of functions) and
the test resource table, linked in DDR: against systems/kv260-rpmsg.yaml its
table is not where the layout puts it, so the check looks for Zephyr's symbol
(PLAT-02) among all of the image's symbols, the path issue 15 measured at 13x.
Then, in interleaved rounds (one run of each command per round, so that load
on the machine hits all alike), the whole-process wall time of

  readelf -lSW IMAGE                                   (binutils: the floor)
  west amp-validate IMAGE                              (the no-system check)
  west amp-validate IMAGE --system S --domain rpu0     (layout from the cache)
  ... the same with ZEPHYR_AMP_CACHE=off               (laid out every time)

and prints the medians and their ratios against the no-system run and
against readelf, plus check_elf() in process. Figures only, no asserts.
Usage:

  python benchmarks/bench_validate.py [--files 8] [--functions 5000] [--runs 7] [--keep DIR]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'scripts' / 'west_commands'))
TESTS_ELF = REPO / 'tests' / 'elf'
CC = 'arm-none-eabi-gcc'
CFLAGS = ['-mcpu=cortex-r5', '-marm', '-mfloat-abi=soft', '-O1', '-g3', '-ffreestanding',
          '-fno-asynchronous-unwind-tables']

LINKER_SCRIPT = """\
ENTRY(_vector_table)
MEMORY { DDR (rwx) : ORIGIN = 0x10000000, LENGTH = 256M }
SECTIONS
{
	.vectors : { KEEP(*(.vectors)) } > DDR
	.text : { *(.text*) } > DDR
	.rodata : { *(.rodata*) } > DDR
	.data : { *(.data*) } > DDR
	.bss (NOLOAD) : { *(.bss*) *(COMMON) } > DDR
	.trace (NOLOAD) : { KEEP(*(.trace)) } > DDR
	.resource_table ALIGN(8) : { KEEP(*(.resource_table)) } > DDR
	/DISCARD/ : { *(.ARM.exidx*) }
}
"""


def c_file(index, functions):
    """One translation unit: per function a macro, a struct type, a const
    table and a little code, so both DWARF and .text/.rodata grow."""
    out = ['#include <stdint.h>']
    for i in range(functions):
        n = f'{index}_{i}'
        out.append(f'#define BENCH_CONST_{n} ({i} * 7 + {index})')
        out.append(f'struct rec_{n} {{ uint32_t a, b; uint16_t c[4]; const char *name; }};')
        values = ', '.join(str((i * 31 + k) & 0xFF) for k in range(64))
        out.append(f'const uint8_t table_{n}[64] = {{ {values} }};')
        out.append(f'uint32_t fn_{n}(uint32_t x) {{ struct rec_{n} r = {{ x, BENCH_CONST_{n}, '
                   f'{{ 1, 2, 3, 4 }}, "fn_{n}" }}; for (int k = 0; k < 4; k++) '
                   f'r.a += table_{n}[(x + k) & 63] * r.c[k]; return r.a ^ r.b; }}')
    return '\n'.join(out) + '\n'


def build(work, files, functions):
    sources = []
    for i in range(files):
        src = work / f'bench_{i}.c'
        src.write_text(c_file(i, functions))
        sources.append(src)
    (work / 'bench.ld').write_text(LINKER_SCRIPT)

    def compile_one(src):
        obj = src.with_suffix('.o')
        subprocess.run([CC, *CFLAGS, '-c', str(src), '-o', str(obj)], check=True)
        return obj

    common = [TESTS_ELF / 'r5_main.c', TESTS_ELF / 'rsc_table.c']
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        objs = list(pool.map(compile_one, sources))
    elf = work / 'bench.elf'
    subprocess.run([CC, *CFLAGS, '-nostdlib', '-include', str(TESTS_ELF / 'r5_table.h'),
                    '-T', str(work / 'bench.ld'), *map(str, common), *map(str, objs),
                    '-o', str(elf)], check=True)
    return elf


def west_workspace(work):
    """A workspace whose manifest repository carries a copy of scripts/, or
    None when west is not installed."""
    west = shutil.which('west')
    if not west:
        return None
    manifest = work / 'ws' / 'manifest'
    manifest.mkdir(parents=True)
    (manifest / 'west.yml').write_text(
        'manifest:\n  projects: []\n  self:\n    west-commands: scripts/west-commands.yml\n')
    shutil.copytree(REPO / 'scripts', manifest / 'scripts',
                    ignore=shutil.ignore_patterns('*.egg-info', '__pycache__'))
    shutil.copytree(REPO / 'boards', manifest / 'boards')     # what --system's board needs
    subprocess.run([west, 'init', '-l', str(manifest)], cwd=work, check=True,
                   capture_output=True)
    return work / 'ws'


def timed(cmd, cwd=None, env=None):
    start = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if r.returncode not in (0, 1):
        raise SystemExit(f'{" ".join(map(str, cmd))} failed:\n{r.stderr}')
    return took


def interleaved(rows, runs):
    """{label: [seconds]}: each round runs every row once, in order."""
    times = {label: [] for label, *_ in rows}
    for _ in range(runs):
        for label, cmd, cwd, env in rows:
            times[label].append(timed(cmd, cwd, env))
    return {label: statistics.median(t) for label, t in times.items()}


def in_process(elf, system, runs):
    """Medians of check_elf() alone, without and with the system's layout."""
    from zephyr_amp import config
    from zephyr_amp.elfcheck import check_elf
    layout = config.layout_for(system)
    out = {}
    for label, args in (('check_elf(IMAGE)', ()), ('check_elf(IMAGE, layout, rpu0)',
                                                   (layout, 'rpu0'))):
        took = []
        for _ in range(runs):
            start = time.perf_counter()
            report = check_elf(elf, *args)
            took.append(time.perf_counter() - start)
        out[label] = (statistics.median(took), report.verdict())
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--files', type=int, default=8, help='translation units (default 8)')
    parser.add_argument('--functions', type=int, default=5000,
                        help='functions per unit (default 5000)')
    parser.add_argument('--runs', type=int, default=7, help='rounds (default 7)')
    parser.add_argument('--keep', metavar='DIR', type=Path,
                        help='build into DIR and keep it; reuse DIR/bench.elf when it is there')
    args = parser.parse_args()
    if not shutil.which(CC):
        raise SystemExit(f'{CC} not found; apt-get install -y gcc-arm-none-eabi')
    system = REPO / 'systems' / 'kv260-rpmsg.yaml'

    with tempfile.TemporaryDirectory(prefix='bench-validate-') as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        if args.keep and (args.keep / 'bench.elf').is_file():
            elf = args.keep / 'bench.elf'
        else:
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
            elf = build(args.keep or work, args.files, args.functions)
        built = time.perf_counter() - t0
        describe(elf, args, built)
        for label, (took, verdict) in in_process(elf, system, args.runs).items():
            print(f'{label:<34} {took * 1000:8.1f} ms  ({verdict})')

        # bytecode cached, as for a user (into the temporary folder, not the checkout),
        # as bench_config.py and bench_build.py run
        env = dict(os.environ, ZEPHYR_AMP_CACHE=str(work / 'cache'), PYTHONPATH=os.pathsep.join(
            [str(REPO / 'scripts' / 'west_commands'), os.environ.get('PYTHONPATH', '')]),
            PYTHONPYCACHEPREFIX=str(work / 'pycache'))
        env.pop('PYTHONDONTWRITEBYTECODE', None)
        ws = west_workspace(work)
        if ws is None:
            validate = [sys.executable, str(REPO / 'scripts' / 'west_commands' /
                                            'amp_validate.py')]
            print('west not installed: timing python amp_validate.py instead')
        else:
            validate = [shutil.which('west'), 'amp-validate']
        with_system = [*validate, str(elf), '--system', str(system), '--domain', 'rpu0']
        check = subprocess.run(with_system, cwd=ws, env=env, capture_output=True, text=True,
                               check=False)
        if not check.stdout.strip().endswith('checked against domain rpu0'):
            raise SystemExit(f'--system did not check the image:\n{check.stdout}{check.stderr}')
        rows = [('readelf -lSW IMAGE', ['readelf', '-lSW', str(elf)], None, env),
                ('amp-validate IMAGE', [*validate, str(elf)], ws, env),
                ('amp-validate IMAGE --system', with_system, ws, env),
                ('amp-validate --system, no cache', with_system, ws,
                 dict(env, ZEPHYR_AMP_CACHE='off'))]
        medians = interleaved(rows, args.runs)
        floor = medians['amp-validate IMAGE']
        readelf = medians['readelf -lSW IMAGE']
        print(f'\nmedians of {args.runs} interleaved rounds, whole process '
              f'(load average {os.getloadavg()[0]:.2f}):')
        for label, t in medians.items():
            print(f'{label:<34} {t * 1000:8.1f} ms   x{t / floor:5.2f} of the no-system run   '
                  f'x{t / readelf:6.2f} of readelf')
        ratio = medians['amp-validate IMAGE --system'] / floor
        print(f'\nvalidate-with-system / validate-without = {ratio:.2f} (goal <= 1.2)')


def describe(elf, args, built):
    size = elf.stat().st_size
    sections = subprocess.run(['readelf', '-SW', str(elf)], capture_output=True, text=True,
                              check=True).stdout
    debug = sum(int(line.split()[4], 16) for line in
                (ln.replace('[ ', '[').split(']', 1)[1] for ln in sections.splitlines()
                 if '] .debug' in ln))
    symbols = subprocess.run(['readelf', '-sW', str(elf)], capture_output=True, text=True,
                             check=True).stdout.count('\n')
    print(f'image: {elf.name}, {size / 2**20:.1f} MiB ({debug / 2**20:.1f} MiB .debug_*), '
          f'~{symbols} symbols, {args.files} x {args.functions} functions, built in '
          f'{built:.0f} s (load average {os.getloadavg()[0]:.2f})')


if __name__ == '__main__':
    main()

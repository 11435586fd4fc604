"""How long does `west amp-validate` take on a large firmware image?

Builds a Cortex-R5 image with tens of MB of DWARF (-g3: macro tables, one
struct type and one const table per function, thousands of functions) and
the test resource table, then prints the median whole-process wall time of

  west amp-validate IMAGE          (the real command, in a throwaway workspace)
  python amp_validate.py IMAGE     (the same command without west's start-up)
  readelf -lSW IMAGE               (binutils, for scale)

and the in-process time of check_elf() alone. It prints figures, asserts
nothing. Usage:

  python benchmarks/bench_validate.py [--files 8] [--functions 5000] [--runs 5]
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
    subprocess.run([west, 'init', '-l', str(manifest)], cwd=work, check=True,
                   capture_output=True)
    return work / 'ws'


def median_time(cmd, runs, cwd=None, env=None):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if r.returncode not in (0, 1):
            raise SystemExit(f'{" ".join(map(str, cmd))} failed:\n{r.stderr}')
    return statistics.median(times), r


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--files', type=int, default=8, help='translation units (default 8)')
    parser.add_argument('--functions', type=int, default=5000,
                        help='functions per unit (default 5000)')
    parser.add_argument('--runs', type=int, default=5, help='runs per command (default 5)')
    args = parser.parse_args()
    if not shutil.which(CC):
        raise SystemExit(f'{CC} not found; apt-get install -y gcc-arm-none-eabi')

    with tempfile.TemporaryDirectory(prefix='bench-validate-') as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        elf = build(work, args.files, args.functions)
        built = time.perf_counter() - t0
        size = elf.stat().st_size
        sections = subprocess.run(['readelf', '-SW', str(elf)], capture_output=True, text=True,
                                  check=True).stdout
        debug = sum(int(line.split()[4], 16) for line in
                    (ln.replace('[ ', '[').split(']', 1)[1] for ln in sections.splitlines()
                     if '] .debug' in ln))
        print(f'image: {elf.name}, {size / 2**20:.1f} MiB ({debug / 2**20:.1f} MiB .debug_*), '
              f'{args.files} x {args.functions} functions, built in {built:.0f} s')

        from zephyr_amp.elfcheck import check_elf
        lib = []
        for _ in range(args.runs):
            start = time.perf_counter()
            report = check_elf(elf)
            lib.append(time.perf_counter() - start)
        print(f'check_elf() in process: {statistics.median(lib) * 1000:8.1f} ms  '
              f'({report.verdict()})')

        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(REPO / 'scripts' / 'west_commands'), os.environ.get('PYTHONPATH', '')]))
        rows = []
        ws = west_workspace(work)
        if ws is not None:
            rows.append(('west amp-validate IMAGE', [shutil.which('west'), 'amp-validate',
                                                     str(elf)], ws))
        else:
            print('west not installed: skipping the west row')
        rows.append(('python amp_validate.py IMAGE',
                     [sys.executable, str(REPO / 'scripts' / 'west_commands' /
                                          'amp_validate.py'), str(elf)], None))
        rows.append(('readelf -lSW IMAGE', ['readelf', '-lSW', str(elf)], None))
        for label, cmd, cwd in rows:
            t, _ = median_time(cmd, args.runs, cwd=cwd, env=env)
            print(f'{label:<30} {t * 1000:8.1f} ms  (median of {args.runs}, whole process)')


if __name__ == '__main__':
    main()

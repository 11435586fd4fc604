"""Stand-in for Zephyr's `west build` (tests only; see ../../README.md). NOT Zephyr.

Takes the arguments `west amp-build` gives the real command and links a tiny,
real firmware for the board with the host's cross compilers, from the
sample's src/*.c, ../../firmware/start.c and the files `west amp-config`
generated (followed through the generated amp.cmake, as Zephyr would).
"""

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from west.commands import WestCommand

STANDIN = Path(__file__).resolve().parents[2]

# Board -> compiler, flags, RAM when no generated layout says otherwise, and where the
# core resets (the Cortex-R5 at its low vector, 0x0 in ATCM, whatever RAM the image uses).
ARM_R5 = {"cc": "arm-none-eabi-gcc", "cflags": ["-mcpu=cortex-r5", "-marm", "-mfloat-abi=soft"],
          "ldflags": [], "reset": 0x0}
BOARDS = {
    "kv260_r5": dict(ARM_R5, ram=(0x0, 0x40000)),
    "qemu_cortex_r5": dict(ARM_R5, ram=(0x0, 0x4000000)),
    "qemu_cortex_a53": {"cc": "aarch64-linux-gnu-gcc",
                        "cflags": ["-mcpu=cortex-a53", "-mgeneral-regs-only", "-fno-pic"],
                        "ldflags": ["-static", "-no-pie"], "ram": (0x40000000, 0x8000000)},
}
COMMON = ["-O1", "-g0", "-std=gnu11", "-nostdlib", "-ffreestanding", "-fno-common",
          "-fno-asynchronous-unwind-tables", "-Wall", "-Werror=implicit-function-declaration",
          "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments"]


class BuildError(Exception):
    """What the real build would stop with."""


class StandinBuild(WestCommand):
    def __init__(self):
        super().__init__("build", "", "Stand-in for Zephyr's west build (tests only): "
                         "links a tiny firmware from the generated AMP files. NOT Zephyr.")

    def do_add_parser(self, parser_adder):
        parser = parser_adder.add_parser(self.name, help=self.help,
                                         description=self.description, allow_abbrev=False)
        parser.add_argument("-b", "--board")
        parser.add_argument("-d", "--build-dir", default="build")
        parser.add_argument("-p", "--pristine", nargs="?", const="always",
                            choices=["auto", "always", "never"], default="never")
        parser.add_argument("source_dir", nargs="?", default=".")
        parser.add_argument("cmake_opts", nargs="*")
        return parser

    def do_run(self, args, unknown):
        print("-- stand-in west build (tests/standin_zephyr): this is not Zephyr", flush=True)
        try:
            elf = build(args)
        except BuildError as e:
            print(f"FATAL ERROR: {e}", flush=True)
            raise SystemExit(1)
        print(f"-- stand-in: wrote {elf}", flush=True)


def build(args):
    started = time.time()
    if not args.board:
        raise BuildError("no board given (-b BOARD)")
    board = args.board.split("/")[0]
    if board not in BOARDS:
        raise BuildError(f"board '{args.board}' not found (stand-in boards: "
                         f"{', '.join(sorted(BOARDS))})")
    spec = BOARDS[board]
    source = Path(args.source_dir).resolve()
    sources = sorted((source / "src").glob("*.c"))
    if not sources:
        raise BuildError(f"source directory {source} has no src/*.c")
    out = Path(args.build_dir).resolve()
    if args.pristine == "always" and out.exists():
        shutil.rmtree(out)
    zdir = out / "zephyr"
    (zdir / "include" / "generated").mkdir(parents=True, exist_ok=True)
    opts = cmake_options(args.cmake_opts)
    print(f"-- board {args.board}, source {source}, build {out}", flush=True)
    for name in ("EXTRA_ZEPHYR_MODULES",):
        if name in opts:
            print(f"-- {name}={opts[name]} (noted)", flush=True)

    conf_files = [source / "prj.conf"] if (source / "prj.conf").is_file() else []
    conf_files += [Path(p) for p in split_list(opts.get("EXTRA_CONF_FILE"))]
    kconfig = merge_kconfig(conf_files, zdir)
    overlays = [Path(p) for p in split_list(opts.get("EXTRA_DTC_OVERLAY_FILE"))]
    for p in overlays:
        if not p.is_file():
            raise BuildError(f"EXTRA_DTC_OVERLAY_FILE: {p} does not exist")
    (zdir / "overlays.txt").write_text("".join(f"{p}\n" for p in overlays))

    standin_work()
    amp = AmpCmake(opts["AMP_CMAKE"], kconfig) if opts.get("AMP_CMAKE") else None
    script = linker_script(spec, amp, kconfig, zdir)
    # as Zephyr names its image: CONFIG_KERNEL_BIN_NAME (default "zephyr")
    elf = zdir / (kconfig.get("CONFIG_KERNEL_BIN_NAME", '"zephyr"').strip('"') + ".elf")
    if opts.get("STANDIN_PROBE"):
        cmd = probe_command(spec, amp, opts, zdir, elf)
    else:
        cmd = [spec["cc"], *spec["cflags"], *COMMON, *spec["ldflags"],
               "-include", str(zdir / "include" / "generated" / "autoconf.h"),
               *[f"-I{d}" for d in (amp.include_dirs if amp else [])],
               *[f"-D{d}" for d in (amp.definitions if amp else [])],
               "-T", str(script), f"-Wl,-Map={zdir / 'zephyr.map'}",
               str(STANDIN / "firmware" / "start.c"), *map(str, sources),
               *[str(s) for s in (amp.sources if amp else [])], "-o", str(elf)]
    print("-- " + shlex.join(cmd), flush=True)
    elf.unlink(missing_ok=True)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BuildError(f"{spec['cc']} not found; install it (Debian: gcc-arm-none-eabi, "
                         "gcc-aarch64-linux-gnu)") from None
    sys.stdout.write(r.stdout + r.stderr)
    if r.returncode:
        raise BuildError(f"{spec['cc']} exited with status {r.returncode}")
    if amp and amp.qemu_args:
        args_text = amp.qemu_args.read_text()
        shlex.split(args_text)
        (zdir / "qemu.args").write_text(args_text)
        print(f"-- qemu arguments from {amp.qemu_args}", flush=True)
    (out / "standin-build.log").write_text(
        f"stand-in west build: {args.board} {source} in {time.time() - started:.2f} s\n"
        + shlex.join(cmd) + "\n" + r.stdout + r.stderr)
    return elf


def probe_command(spec, amp, opts, zdir, elf):
    """-DSTANDIN_PROBE=<dir>/<probe>.c (tests only): instead of the stand-in firmware,
    a bare-metal probe of that folder (its start.S and probe.ld, as tests/probes/
    has them), linked into the domain's first load region with the generated
    sources, so that amp-build's --run boots something that prints.
    -DSTANDIN_PROBE_DEFINES=A=1;B=2 adds definitions (UART_BASE: the console)."""
    if amp is None or not amp.memory():
        raise BuildError("STANDIN_PROBE needs AMP_CMAKE with a generated amp_memory.ld")
    probe = Path(opts["STANDIN_PROBE"])
    if not probe.is_file():
        raise BuildError(f"STANDIN_PROBE: {probe} does not exist")
    script = zdir / "probe.ld"
    script.write_text(f'INCLUDE "{amp.dir / "amp_memory.ld"}"\n'
                      f'REGION_ALIAS("FW", {amp.memory()[0][0]});\n'
                      f'INCLUDE "{probe.parent / "probe.ld"}"\n')
    return [spec["cc"], *spec["cflags"], *COMMON, *spec["ldflags"], "-mstrict-align",
            *[f"-I{d}" for d in amp.include_dirs], f"-I{probe.parent}", f"-L{amp.dir}",
            *[f"-D{d}" for d in split_list(opts.get("STANDIN_PROBE_DEFINES"))],
            "-T", str(script), f"-Wl,-Map={zdir / 'zephyr.map'}",
            str(probe.parent / "start.S"), str(probe),
            *[str(s) for s in amp.sources], "-o", str(elf)]


def standin_work():
    """STANDIN_WORK_MIB=N (environment): hash N MiB before compiling, so that a
    stand-in build costs CPU time the way a real compile does (benchmarks set it to
    see -j at work). Pure computation, never a sleep: N builds at once take N cores."""
    try:
        mib = int(os.environ.get("STANDIN_WORK_MIB", "0"))
    except ValueError:
        raise BuildError("STANDIN_WORK_MIB must be a whole number of MiB") from None
    if mib <= 0:
        return
    block, h = bytes(1 << 20), hashlib.sha256()
    for _ in range(mib):
        h.update(block)
    print(f"-- stand-in work: {mib} MiB hashed (sha256 {h.hexdigest()[:12]}), in place of "
          "compiling Zephyr", flush=True)


def cmake_options(opts):
    """-DNAME=VALUE and -DNAME:TYPE=VALUE -> {NAME: VALUE}; anything else is refused."""
    out = {}
    for opt in opts:
        m = re.fullmatch(r"-D([A-Za-z_][A-Za-z0-9_]*)(?::\w+)?=(.*)", opt, re.DOTALL)
        if not m:
            raise BuildError(f"cannot use CMake option {opt!r} (stand-in takes -DNAME=VALUE)")
        out[m.group(1)] = m.group(2)
    return out


def split_list(value):
    return [p for p in (value or "").split(";") if p]


def merge_kconfig(files, zdir):
    """prj.conf, then each EXTRA_CONF_FILE; later values win, as in Kconfig."""
    values = {}
    for f in files:
        if not f.is_file():
            raise BuildError(f"EXTRA_CONF_FILE: {f} does not exist")
        for n, line in enumerate(f.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.fullmatch(r"(CONFIG_[A-Za-z0-9_]+)=(.*)", line)
            if not m:
                raise BuildError(f"{f}:{n}: malformed Kconfig line: {line}")
            values[m.group(1)] = m.group(2)
    (zdir / ".config").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    lines = []
    for k, v in values.items():
        if v == "n":
            continue
        lines.append(f"#define {k} {'1' if v == 'y' else v}\n")
    (zdir / "include" / "generated" / "autoconf.h").write_text("".join(lines))
    return values


class AmpCmake:
    """The generated amp.cmake, followed the way Zephyr's CMake would for the commands
    it uses: set, if/else/endif, zephyr_sources, zephyr_include_directories,
    target_include_directories(zephyr_interface ...),
    zephyr_linker_sources, zephyr_compile_definitions, message. Others are
    reported and skipped."""

    def __init__(self, path, kconfig):
        self.path = Path(path)
        if not self.path.is_file():
            raise BuildError(f"AMP_CMAKE={path} does not exist; run west amp-config first")
        self.dir = self.path.parent
        self.kconfig = kconfig
        self.vars = {"CMAKE_CURRENT_LIST_DIR": str(self.dir)}
        self.sources, self.include_dirs, self.linker, self.definitions = [], [], [], []
        self.run(self.path.read_text())
        qemu = self.dir / "qemu.args"
        self.qemu_args = qemu if qemu.is_file() else None

    def run(self, text):
        text = re.sub(r"#[^\n]*", "", text)
        stack = [(True, True)]          # (this branch runs, some branch of this if ran)
        for m in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(((?:[^()]|\([^()]*\))*)\)", text):
            name, raw = m.group(1).lower(), m.group(2)
            outer = stack[-2][0] if len(stack) > 1 else True
            if name == "if":
                runs = stack[-1][0] and self.condition(raw)
                stack.append((runs, runs))
            elif name in ("elseif", "else"):
                done = stack[-1][1]
                runs = outer and not done and (name == "else" or self.condition(raw))
                stack[-1] = (runs, done or runs)
            elif name == "endif":
                stack.pop()
            elif stack[-1][0]:
                self.command(name, self.words(raw))

    def words(self, raw):
        raw = re.sub(r"\$\{(\w+)\}", lambda m: self.vars.get(m.group(1), ""), raw)
        return shlex.split(raw)

    def condition(self, raw):
        words = self.words(raw)
        if len(words) == 2 and words[0] == "DEFINED":
            return words[1] in self.vars
        if len(words) == 1:
            w = words[0]
            if w.startswith("CONFIG_"):
                return self.kconfig.get(w, "n") not in ("n", "")
            return self.vars.get(w, "") not in ("", "0", "OFF", "FALSE", "NO", "NOTFOUND")
        print(f"-- stand-in: cannot evaluate if({raw}); taking it as false", flush=True)
        return False

    def command(self, name, words):
        if name == "set" and words:
            self.vars[words[0]] = ";".join(words[1:])
        elif name in ("zephyr_sources", "zephyr_library_sources"):
            self.sources += [self.existing(w) for w in words]
        elif name == "zephyr_include_directories":
            # as Zephyr's: every word is a directory (BEFORE too, after INTERFACE)
            self.include_dirs += [self.existing(w) for w in words]
        elif name == "target_include_directories" and words[:1] == ["zephyr_interface"]:
            dirs = [self.existing(w) for w in words[1:]
                    if w not in ("BEFORE", "AFTER", "SYSTEM", "INTERFACE", "PUBLIC", "PRIVATE")]
            self.include_dirs = (dirs + self.include_dirs if "BEFORE" in words
                                 else self.include_dirs + dirs)
        elif name == "zephyr_linker_sources":
            files = [w for w in words[1:] if "/" in w or w.endswith(".ld")]
            self.linker += [self.existing(w) for w in files]
        elif name == "zephyr_compile_definitions":
            self.definitions += words
        elif name == "message":
            if words and words[0] in ("FATAL_ERROR", "SEND_ERROR"):
                raise BuildError(f"{self.path}: " + " ".join(words[1:]))
            print("-- " + " ".join(w for w in words if w not in ("STATUS", "WARNING")))
        else:
            print(f"-- stand-in: skipping {name}() in {self.path.name}", flush=True)

    def existing(self, path):
        p = Path(path)
        if not p.is_absolute():
            p = self.dir / p
        if not p.exists():
            raise BuildError(f"{self.path}: {path} does not exist")
        return p

    def define(self, header, name):
        """A numeric #define of a generated header beside amp.cmake, or None."""
        f = self.dir / header
        if not f.is_file():
            return None
        m = re.search(rf"^#define {name} (0x[0-9a-fA-F]+|\d+)\b", f.read_text(), re.MULTILINE)
        return int(m.group(1), 0) if m else None

    def memory(self):
        """[(name, origin, length)] of the generated amp_memory.ld, or []."""
        f = self.dir / "amp_memory.ld"
        if not f.is_file():
            return []
        return [(m.group(1), int(m.group(2), 0), int(m.group(3), 0)) for m in re.finditer(
            r"^\s*(\w+)\s*\([^)]*\)\s*:\s*ORIGIN\s*=\s*(\w+)\s*,\s*LENGTH\s*=\s*(\w+)",
            f.read_text(), re.MULTILINE)]


def linker_script(spec, amp, kconfig, zdir):
    """zephyr/linker.cmd: the domain's MEMORY (amp_memory.ld), code and data in the
    region that holds zephyr,sram (AMP_SRAM_BASE), the vectors where the core resets
    when that is another region (an R5 image in DDR keeps its vectors in ATCM), then
    the generated fragments."""
    lines = ["/* stand-in west build (tests only; not Zephyr): linker script */"]
    regions = amp.memory() if amp else []
    vectors = None
    if regions:
        sram = amp.define("amp_layout.h", "AMP_SRAM_BASE")
        ram = next((r for r in regions if sram is not None and r[1] <= sram < r[1] + r[2]),
                   regions[0])
        lines.append(f'INCLUDE "{amp.dir / "amp_memory.ld"}"')
        lines.append(f"REGION_ALIAS(\"STANDIN_RAM\", {ram[0]});")
        reset = spec.get("reset")
        if reset is not None and not ram[1] <= reset < ram[1] + ram[2]:
            vectors = next((r for r in regions if r[1] <= reset < r[1] + r[2]), None)
    else:
        base, size = spec["ram"]
        lines += ["MEMORY", "{", f"\tSTANDIN_RAM (rwx) : ORIGIN = {base:#x}, LENGTH = {size:#x}",
                  "}"]
    lines += [
        "ENTRY(__start)",
        "SECTIONS",
        "{",
        *([f"\t.vectors {vectors[1]:#x} : {{ KEEP(*(.vectors)) }} > {vectors[0]}"]
          if vectors else []),
        "\t.text : { KEEP(*(.vectors)) *(.text .text.*) } > STANDIN_RAM",
        "\t.rodata : { *(.rodata .rodata.*) } > STANDIN_RAM",
        "\t.data : { *(.data .data.*) } > STANDIN_RAM",
        ("\t.bss (NOLOAD) : ALIGN(16) { __standin_bss_start = .; *(.bss .bss.* COMMON); "
         "__standin_bss_end = .; } > STANDIN_RAM"),
        "\t.stack (NOLOAD) : ALIGN(16) { . += 0x800; __standin_stack_top = .; } > STANDIN_RAM",
    ]
    for frag in (amp.linker if amp else []):
        lines.append(f'\tINCLUDE "{frag}"')
    stray = kconfig.get("CONFIG_STANDIN_STRAY_ADDR")
    if stray:
        lines.append(f"\t.standin_stray {stray} : AT({stray}) {{ KEEP(*(.standin_stray)) }}")
    lines += ["\t/DISCARD/ : { *(.comment) *(.note.*) }", "}"]
    script = zdir / "linker.cmd"
    script.write_text("\n".join(lines) + "\n")
    return script

"""west amp-import: an existing hand-written AMP setup in, a system YAML out."""

import argparse
import re
import sys
from pathlib import Path

from west.commands import WestCommand

# West loads this file by path and appends its folder to sys.path (1.5) or
# not at all (older): put it first, and forget a zephyr_amp imported from any
# other place (a pip-installed copy), so that this checkout's library runs.
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [_HERE] + [p for p in sys.path if p != _HERE]
for _m in [m for m in sys.modules if m.split(".")[0] == "zephyr_amp"]:
    if not str(getattr(sys.modules[_m], "__file__", "")).startswith(_HERE):
        del sys.modules[_m]

import zephyr_amp
from zephyr_amp import importer, importer_yaml, readers
from zephyr_amp.errors import AmpError, InputError

DESCRIPTION = """\
Read the files of an existing AMP setup (the same inputs as west amp-lint:
Linux devicetree, Zephyr overlay on its board DTS, firmware ELF; the HVL device
file <link>.hvl.json; for ivshmem the QEMU and ivshmem-server arguments and the
layout header amp_layout.h) and write
one system YAML that west amp-config turns back into the same reservations:
addresses pinned with base:, sizes written where they differ from the
derived ones, and a comment on every value naming the file and line it came
from.

The import stops, writing nothing, when
  - the inputs disagree (the amp-lint findings are printed): --prefer linux
    or --prefer zephyr takes that side, and every change is printed and
    written into the YAML's header;
  - the system format cannot express something the inputs say (each one is
    printed with the input's file and line, what the format makes of it and
    why): --lossy writes the nearest system, with the list in its header.

Examples:
  west amp-import zynqmp-openamp.dtso boards/kv260_r5.overlay --board kv260 \\
      --zephyr-dts ~/zephyrproject/zephyr --prefer linux -o kv260-mine.yaml
  west amp-import linux/amp.dtso rpu0/amp.overlay zephyr.elf -o system.yaml
  west amp-import linux/amp.dtso linux/hvl0.hvl.json rpu0/amp.overlay -o hvl.yaml
  west amp-import host/amp.overlay remote/amp.overlay */qemu.args \
      ivshmem0/ivshmem-server.args host/amp_layout.h --board qemu_cortex_a53 -o iv.yaml
  west amp-config system.yaml --check        # then check what was written
"""

EPILOG = """\
Exit status:
  0  the system YAML was written
  1  nothing written: findings, something the format cannot express, a wrong
     input (unparsable devicetree, a file of the wrong kind, a board the
     facts do not fit), or an output file amp-import did not write
  2  could not run (dtc, fdtoverlay or cpp missing; no Zephyr tree for an overlay)
"""

HEADER = "# Imported by west amp-import"


class AmpImport(WestCommand):
    def __init__(self):
        super().__init__("amp-import", "", DESCRIPTION, requires_workspace=False)

    def do_add_parser(self, parser_adder):
        parser = parser_adder.add_parser(
            self.name, help=self.help, description=self.description, epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
        readers.add_arguments(parser)
        parser.add_argument("-o", "--output", metavar="SYSTEM.yaml", required=True,
                            help="the system YAML to write (replaced only if amp-import "
                            "wrote it, or with --force)")
        parser.add_argument("--name", help="the system's name (default: the output's file "
                            "name)")
        parser.add_argument("--prefer", choices=("linux", "zephyr"),
                            help="where the inputs disagree, take this side's values")
        parser.add_argument("--lossy", action="store_true",
                            help="write the nearest system even where the format cannot "
                            "express the inputs (listed in its header)")
        parser.add_argument("--force", action="store_true",
                            help="replace an output file amp-import did not write")
        return parser

    def do_run(self, args, unknown):
        self.dbg(zephyr_amp.origin())
        out = Path(args.output)
        try:
            name = system_name(args.name, out)
            check_output(out, args.force)
            board = readers.resolve_board(args.board, args.board_root)
            facts = readers.read_files(args.files, readers.options(
                args, board, lambda f: readers.infer_board(f, args.board_root)))
            if board is None:
                board = facts.board or readers.infer_board(facts, args.board_root)
            if board is None:
                raise InputError(args.files[0], 0, 0, "", "cannot tell the board from the "
                                 "inputs", "give --board (e.g. kv260)")
            result = importer.import_system(facts, board, name, args.prefer, args.lossy,
                                            args.board_root)
            importer_yaml.write_atomic(out, result.text)
        except importer.ImportStopped as e:
            for line in e.lines():
                sys.stdout.write(line + "\n")
            self.die(str(e), exit_code=1)
        except AmpError as e:
            self.die(str(e), exit_code=e.exit_code)
        for n in result.changes:
            self.wrn(f"changed (--prefer {args.prefer}): {n.line()}")
        for n in result.losses:
            self.wrn(f"not expressed (--lossy): {n.line()}")
        self.inf(f"amp-import: wrote {out} (system {name}, board {board.name}, "
                 f"{len(result.layout.regions)} regions); check it with "
                 f"west amp-config {out} --check")


def system_name(given, out):
    name = given or re.sub(r"[^a-z0-9_-]", "-", out.stem.lower()).strip("-")
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", name or ""):
        raise InputError("--name", 0, 0, "", f"'{name}' is not a system name",
                         "use lowercase letters, digits, '-' and '_', starting with a letter")
    return name


def check_output(out, force):
    if out.is_dir():
        raise InputError(str(out), 0, 0, "", "is a directory", "give a file name, e.g. "
                         "system.yaml")
    if out.exists() and not force:
        head = out.read_text(errors="replace")[:len(HEADER)]
        if head != HEADER:
            raise InputError(str(out), 0, 0, "", "exists and was not written by amp-import",
                             "give another -o, or --force to replace it")


if __name__ == "__main__":
    # without west: the same parser and do_run as `west amp-import` (zephyr_amp/cli.py)
    from zephyr_amp import cli
    sys.exit(cli.main(["amp-import", *sys.argv[1:]]))

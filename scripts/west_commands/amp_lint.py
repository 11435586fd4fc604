"""west amp-lint: cross-check the hand-written files of an AMP setup."""

import argparse
import json
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
from zephyr_amp import lint, readers
from zephyr_amp.errors import AmpError

DESCRIPTION = """\
Read the files an existing AMP setup is made of and report where they
disagree, one line per finding: both files with their lines and the ranges,
what the loader or driver will do, and the fix.

Inputs, in any mix (recognised by content, not only by name):
  Linux devicetree   .dts/.dtso (through cpp when it #includes), .dtb/.dtbo;
                     one full tree plus overlays is merged with fdtoverlay
  Zephyr overlay     .overlay, read on top of its board DTS (the target is the
                     overlay's name, --target, or the --board's), or a
                     generated build/zephyr/zephyr.dts
  firmware ELF       its loadable segments and .resource_table
  <link>.hvl.json    the HVL device process's file: windows, queue sizes,
                     vrings, pool, IPI
  QEMU arguments     qemu.args (one argument per line, or shell words): the
                     ivshmem-doorbell / ivshmem-plain devices
  ivshmem-server     ivshmem-server.args: socket, size (-l), vectors (-n)
  C header           amp_layout.h's #defines: an ivshmem link's BAR layout

Checks: SHM-COVER (Zephyr's zephyr,ipc_shm is exactly what Linux reserves for
that remote), OVERLAP (no two reservations overlap), SEG-OUT (firmware
segments inside the remote's carveouts or TCM), MBOX-PAIR (the Linux mailbox
mirrors Zephyr's zephyr,ipc), MBOX-BOARD (with --board: mailboxes no Zephyr
file pairs, against the board's), VDEV-PARTS (vdevN has vring0, vring1 and
buffer), VRING-SIZE / VRING-DA / BUF-SIZE (the resource table's num/align fit
what Linux reserves); HVL-AREA / HVL-WINDOW / HVL-IPI (the Zephyr HVL node and
the device file place region, vrings, pool and windows alike, one mailbox),
HVL-QUEUE (vrings and buffers fit), HVL-SHM (Linux reserves the HVL region as it
is); IVSHMEM-PEER (one socket or memory file, the server's vectors),
IVSHMEM-SIZE (one size), IVSHMEM-LAYOUT (both firmwares' headers alike).

Examples:
  west amp-lint zynqmp-openamp.dtso boards/kv260_r5.overlay --zephyr-dts ~/zephyrproject/zephyr
  west amp-lint linux.dtb amp.dtbo build/zephyr/zephyr.dts build/zephyr/zephyr.elf --board kv260
  west amp-lint --json findings.json ...
"""

EPILOG = """\
Exit status:
  0  the files agree
  1  findings, or an input that is wrong (unparsable devicetree, a file of
     the wrong kind, an unknown board)
  2  could not run (dtc, fdtoverlay or cpp missing; no Zephyr tree for an overlay)
"""


class AmpLint(WestCommand):
    def __init__(self):
        super().__init__("amp-lint", "", DESCRIPTION, requires_workspace=False)

    def do_add_parser(self, parser_adder):
        parser = parser_adder.add_parser(
            self.name, help=self.help, description=self.description, epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
        readers.add_arguments(parser)
        parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                            help="write the findings as JSON to FILE (no FILE or '-': stdout)")
        return parser

    def do_run(self, args, unknown):
        self.dbg(zephyr_amp.origin())
        try:
            board = readers.resolve_board(args.board, args.board_root)
            facts = readers.read_files(args.files, readers.options(
                args, board, lambda f: readers.infer_board(f, args.board_root)))
            findings = lint.lint(facts, board)
        except AmpError as e:
            self.die(str(e), exit_code=e.exit_code)
        if args.json:
            doc = {"format": "zephyr-amp-lint", "version": 1, "files": facts.files(),
                   "board": board.name if board else None, "ok": not findings,
                   "findings": [f.to_json() for f in findings]}
            text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
            if args.json == "-":
                sys.stdout.write(text)
            else:
                Path(args.json).write_text(text)
        if args.json != "-":
            for f in findings:
                sys.stdout.write(f.line() + "\n")
            self.inf(f"amp-lint: {len(findings)} finding(s) in {len(facts.files())} file(s)"
                     if findings else f"amp-lint: {len(facts.files())} file(s) agree")
        sys.exit(1 if findings else 0)


if __name__ == "__main__":
    # without west: the same parser and do_run as `west amp-lint` (zephyr_amp/cli.py)
    from zephyr_amp import cli
    sys.exit(cli.main(["amp-lint", *sys.argv[1:]]))

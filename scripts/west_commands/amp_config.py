"""west amp-config: system YAML in, overlays, resource table and layout out."""

import argparse
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

try:
    # describe (--list-systems, --board-facts) and memmap (--show) are imported
    # where they are used: every millisecond here is start-up of every run
    from zephyr_amp import config, zephyr_version
    from zephyr_amp.errors import AmpError
    _MISSING = None
except ImportError as _e:
    # A dependency the user has not installed: one line with the fix when the
    # command runs (do_run), instead of a traceback when west loads this file.
    _MISSING = zephyr_amp.missing_dependency(_e)
    if _MISSING is None:
        raise
    AmpError = Exception  # never raised: do_run stops first

SYSTEMS_DIR = zephyr_amp.REPO_ROOT / "systems"
BOARDS_DIR = zephyr_amp.REPO_ROOT / "boards"

DESCRIPTION = f"""\
Read one system YAML (board, domains, links), check it, lay out shared
memory and write everything each side needs:

  <out>/<zephyr domain>/amp.overlay       devicetree overlay (EXTRA_DTC_OVERLAY_FILE)
  <out>/<zephyr domain>/amp.conf          Kconfig fragment (EXTRA_CONF_FILE)
  <out>/<zephyr domain>/resource_table.c  .resource_table with pinned vrings
  <out>/<zephyr domain>/resource_table.h  same API as Zephyr's lib/open-amp
  <out>/<zephyr domain>/amp_layout.h      the layout as that core sees it
  <out>/<zephyr domain>/amp_sections.ld   places .resource_table (SECTIONS)
  <out>/<zephyr domain>/amp_memory.ld     MEMORY of what its loader can map
  <out>/<zephyr domain>/amp.cmake         wires the above in (-DAMP_CMAKE=...)
  <out>/<linux domain>/amp.dtso           Linux overlay: reserved-memory,
                                          remoteproc and mailbox nodes
  <out>/<zephyr domain>/amp_hvl.ld        HVL: .shared.vring.* and __shmem0_* symbols
  <out>/<domain>/qemu.args                QEMU arguments (virtio-mmio slots, ivshmem)
  <out>/<device domain>/<link>.hvl.json   HVL: what the device process needs
  <out>/<link>/ivshmem-server.args        ivshmem: the server's command line
  <out>/run-qemu.sh                       ivshmem: start the server and both QEMUs
  <out>/layout.json                       every region, vring and table
  <out>/memory-map.svg, memory-map.txt    the memory map, drawn and tabled

<out> is -o DIR, else amp/<system name> at the top of the west workspace
(the current directory outside one): outside build/, so `west build -p`
never deletes it. Output is all or nothing: files are written to a
temporary directory and moved into place. The same YAML gives the same bytes.

Bundled systems (worked examples): {SYSTEMS_DIR}
Bundled boards (--board-facts NAME shows one): {BOARDS_DIR}
"""

EPILOG = f"""\
examples:
  west amp-config --list-systems
  west amp-config {SYSTEMS_DIR / "kv260-rpmsg.yaml"} --show
  west amp-config --board-facts kv260        # cores, memories, mailboxes to write a system
  west amp-config my-system.yaml -o amp/mine
  west amp-config my-system.yaml --check     # validate, write nothing

Exit status: 0 written (or checked); 1 the system or a board has an error
(one line: file:line:column: key: what is wrong; what would be right), or an
input file is missing; 2 the command could not run (the output directory
cannot be written or holds files amp-config did not write, a Python package
is missing).
"""


class AmpConfig(WestCommand):
    def __init__(self):
        super().__init__("amp-config", "", DESCRIPTION, requires_workspace=False)

    def do_add_parser(self, parser_adder):
        parser = parser_adder.add_parser(
            self.name, help=self.help, description=self.description, epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
        parser.add_argument("system", metavar="SYSTEM.yaml", nargs="?",
                            help="the system description (--list-systems shows the "
                            "bundled ones)")
        parser.add_argument("-o", "--out-dir", metavar="DIR",
                            help="where to write (default: amp/<system name> at the "
                            "workspace top, or in the current directory outside a "
                            "workspace); an existing DIR is replaced only if "
                            "amp-config wrote it")
        parser.add_argument("--check", action="store_true",
                            help="validate and lay out only; write nothing")
        parser.add_argument("--show", action="store_true",
                            help="print the memory map as a table (on stdout, also "
                            "with west -q)")
        parser.add_argument("--board-root", metavar="DIR", action="append", default=[],
                            help="also look for <board>.yaml in DIR (searched before the "
                            f"bundled {BOARDS_DIR}; may be given more than once)")
        parser.add_argument("--zephyr-version", metavar="MAJOR.MINOR",
                            help="the Zephyr the files are for: 4.4 (default) or 3.7 (the "
                            "resource-table API differs; 3.7 has no virtio drivers). In a "
                            "Zephyr workspace its zephyr/VERSION decides (ZEPHYR_BASE, else "
                            "the west workspace's zephyr project); a different value is an "
                            "error")
        info = parser.add_argument_group("what there is to start from (no SYSTEM.yaml)")
        info.add_argument("--list-systems", action="store_true",
                          help="list the bundled systems: name, board, path, description")
        info.add_argument("--board-facts", metavar="BOARD",
                          help="print a board's cores, clusters and their modes, memories "
                          "and mailboxes: the names a system YAML uses")
        return parser

    def do_run(self, args, unknown):
        self.dbg(zephyr_amp.origin())
        if _MISSING:
            self.die(_MISSING, exit_code=2)
        zephyr_amp.forward_logs(self)
        if args.list_systems:
            from zephyr_amp import describe
            return _out(describe.list_systems())
        if args.board_facts:
            return self._board_facts(args.board_facts, args.board_root)
        if not args.system:
            self.parser.error("give a SYSTEM.yaml (or --list-systems, --board-facts BOARD)")
        try:
            result = self._configure(args)
        except AmpError as e:
            self.die(str(e), exit_code=e.exit_code)
        except ImportError as e:    # jinja2 is imported only when files are made
            if zephyr_amp.missing_dependency(e) is None:
                raise
            self.die(zephyr_amp.missing_dependency(e), exit_code=2)
        if args.show:
            from zephyr_amp import memmap
            _out(memmap.table(result.layout) + "\n\n")
        name = result.system.name
        if result.out_dir is None:
            self.inf(f"{args.system}: ok, {len(result.layout.regions)} regions laid out "
                     f"for {name}; nothing written (--check)")
        else:
            self.inf(f"{name}: wrote {len(result.files)} files to {result.out_dir}")

    def _configure(self, args):
        version = zephyr_version.target(args.zephyr_version, topdir=self.topdir)
        if args.check:
            return config.check(args.system, args.board_root, zephyr_version=version)
        # without -o: amp/<system> at the workspace top (or here), outside build/
        return config.generate(args.system, args.out_dir, args.board_root,
                               base=self.topdir or ".", zephyr_version=version)

    def _board_facts(self, name, board_roots):
        from zephyr_amp import boards, describe
        try:
            board = boards.load_board(name, board_roots)
        except LookupError:
            self.die(f"no board {name!r}: {boards.unknown_board_hint(name, board_roots)}",
                     exit_code=1)
        except AmpError as e:
            self.die(str(e), exit_code=e.exit_code)
        _out(describe.board_facts(board))


def _out(text):
    """Machine-readable or requested output: stdout, whatever west -q says."""
    sys.stdout.write(text)
    sys.stdout.flush()

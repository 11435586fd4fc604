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

import zephyr_amp  # noqa: E402
from zephyr_amp import config, memmap  # noqa: E402
from zephyr_amp.errors import AmpError  # noqa: E402

DESCRIPTION = """\
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

Output is all or nothing: files are written to a temporary directory and
moved into place. The same YAML gives the same bytes.

Examples:
  west amp-config systems/kv260-rpmsg.yaml --show
  west amp-config my-system.yaml -o build/amp/mine
  west amp-config my-system.yaml --check          # validate, write nothing
"""


class AmpConfig(WestCommand):
    def __init__(self):
        super().__init__("amp-config", "", DESCRIPTION, requires_workspace=False)

    def do_add_parser(self, parser_adder):
        parser = parser_adder.add_parser(
            self.name, help=self.help, description=self.description,
            formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
        parser.add_argument("system", metavar="SYSTEM.yaml",
                            help="the system description (see systems/ for examples)")
        parser.add_argument("-o", "--out-dir", metavar="DIR",
                            help="where to write (default: build/amp/<system name>); an "
                            "existing DIR is replaced only if amp-config wrote it")
        parser.add_argument("--check", action="store_true",
                            help="validate and lay out only; write nothing")
        parser.add_argument("--show", action="store_true",
                            help="print the memory map as a table")
        parser.add_argument("--board-root", metavar="DIR", action="append", default=[],
                            help="also look for <board>.yaml in DIR (searched before the "
                            "bundled boards/; may be given more than once)")
        return parser

    def do_run(self, args, unknown):
        self.dbg(zephyr_amp.origin())
        try:
            if args.check:
                result = config.configure(args.system, args.board_root)
            else:
                result = config.generate(args.system, args.out_dir, args.board_root)
        except AmpError as e:
            self.die(str(e), exit_code=e.exit_code)
        if args.show:
            self.inf(memmap.table(result.layout))
            self.inf()
        name = result.system.name
        if result.out_dir is None:
            self.inf(f"{args.system}: ok, {len(result.layout.regions)} regions laid out "
                     f"for {name}; nothing written (--check)")
        else:
            self.inf(f"{name}: wrote {len(result.files)} files to {result.out_dir}")

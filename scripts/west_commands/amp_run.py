"""west amp-run: boot a generated system in QEMU and check what its consoles print."""

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
from zephyr_amp import config, run
from zephyr_amp.errors import AmpError

DESCRIPTION = """\
Start every QEMU instance of a system (and the ivshmem server of each doorbell
link) from the files amp-config wrote, each with its own firmware, console log
and monitor socket; wait until every --expect regex has matched its instance's
console, the timeout, or an instance's exit; then stop everything it started
and remove its sockets and memory files.

SYSTEM.yaml is generated into DIR (-o, default amp/<system name> at the workspace top) when
DIR does not exist; an existing DIR must hold exactly what SYSTEM.yaml gives
now (else run west amp-config again and rebuild the firmware). Instead of
SYSTEM.yaml, an output directory of amp-config runs as it is.

Per instance, under DIR/run/: <domain>.console.log (its console, kept after
the run), <domain>.console.sock (attach with e.g. socat - UNIX:...),
<domain>.monitor.sock (QEMU's monitor), <domain>.qemu.log (QEMU's messages).
Doorbell links use the built-in ivshmem server, which gives every instance
the peer ID of the layout whatever the start order; --ivshmem-server PATH uses
QEMU's contrib/ivshmem-server instead (then instances start one at a time).
One run at a time per DIR (a lock on DIR/run/amp-run.lock).

Examples:
  west amp-run systems/qemu-a53-virtio.yaml --elf app=build/app/zephyr/zephyr.elf \\
      --expect 'app=Hello World'
  west amp-run amp/qemu-a53-ivshmem --elf host=h.elf --elf remote=r.elf \\
      --expect 'host=PASS' --expect 'remote=PASS' --timeout 20
  west amp-run systems/qemu-a53-virtio.yaml --elf app=zephyr.elf --attach app

Exit status: 0 when every expectation matched (without --expect: when no
instance failed before the timeout or Ctrl-C), 1 when one did not match before
the timeout or its instance's exit, or the arguments or SYSTEM.yaml are wrong,
2 when the run could not start (QEMU or an ELF missing, DIR in use by another
run, a socket in use).
"""


def pairs(text):
    domain, sep, value = text.partition("=")
    if not sep or not domain or not value:
        raise argparse.ArgumentTypeError(f"{text!r}: expected DOMAIN=VALUE")
    return domain, value


class AmpRun(WestCommand):
    def __init__(self):
        super().__init__("amp-run", "", DESCRIPTION, requires_workspace=False)

    def do_add_parser(self, parser_adder):
        parser = parser_adder.add_parser(
            self.name, help=self.help, description=self.description,
            formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
        parser.add_argument("system", metavar="SYSTEM.yaml|DIR",
                            help="the system description, or an output directory of "
                            "amp-config")
        parser.add_argument("-o", "--out-dir", metavar="DIR",
                            help="output directory of SYSTEM.yaml (default "
                            "amp/<system name> at the workspace top, as amp-config)")
        parser.add_argument("--elf", metavar="DOMAIN=PATH", type=pairs, action="append",
                            default=[], help="firmware of a QEMU domain (every one needs "
                            "one); a relative PATH is relative to the current directory")
        parser.add_argument("--expect", metavar="DOMAIN=REGEX", type=pairs, action="append",
                            default=[], help="a Python regex the domain's console must "
                            "print; several for one domain match in the order given")
        parser.add_argument("--timeout", metavar="S", type=float,
                            help=f"seconds before unmatched expectations fail (default "
                            f"{run.DEFAULT_TIMEOUT:.0f} with --expect; without, run until "
                            "an instance exits or Ctrl-C)")
        parser.add_argument("--attach", metavar="DOMAIN",
                            help="give this instance's console to the terminal, with input "
                            "(Ctrl-C ends the run)")
        parser.add_argument("--ivshmem-server", metavar="PATH",
                            help="use this ivshmem-server program (QEMU's "
                            "contrib/ivshmem-server) instead of the built-in one")
        parser.add_argument("--qemu", metavar="PATH",
                            help="the QEMU program (default: the board's, "
                            "qemu-system-aarch64)")
        parser.add_argument("--tail", metavar="N", type=int, default=20,
                            help="console lines shown for an instance that failed "
                            "(default 20)")
        parser.add_argument("--board-root", metavar="DIR", action="append", default=[],
                            help="also look for <board>.yaml in DIR (searched before the "
                            "bundled boards/; may be given more than once)")
        return parser

    def do_run(self, args, unknown):
        self.dbg(zephyr_amp.origin())
        expects = {}
        for domain, rx in args.expect:
            expects.setdefault(domain, []).append(rx)
        try:
            out = self._out_dir(args)
            result = run.run_system(out, dict(args.elf), expects, args.timeout,
                                    qemu=args.qemu, ivshmem_server=args.ivshmem_server,
                                    attach=args.attach, tail_lines=args.tail,
                                    report=self.inf)
        except AmpError as e:
            self.die(str(e), exit_code=e.exit_code)
        self._summary(out, result)
        sys.exit(result.exit_code)

    def _out_dir(self, args):
        path = Path(args.system)
        if path.is_dir():
            if args.out_dir:
                raise AmpError(f"{path} is an output directory already; -o is for a "
                               "SYSTEM.yaml")
            return path
        return run.prepare_out_dir(path, args.out_dir, args.board_root, config,
                                   topdir=self.topdir)

    def _summary(self, out, result):
        for d in result.domains.values():
            n = len(d.matched) + len(d.failed)
            state = "ok" if d.ok else "FAILED"
            what = f"matched {len(d.matched)} of {n}" if n else "no expectations"
            if d.exit_status is not None:
                what += f", QEMU exited with status {d.exit_status}"
            self.inf(f"{d.domain}: {state} ({what})")
            if not d.ok:
                for rx in d.failed:
                    self.inf(f"{d.domain}: not matched: {rx!r}")
                self.inf(f"--- last lines of {d.console} ---")
                self.inf(d.tail or "(nothing printed)")
                self.inf("---")
                if d.exit_status not in (None, 0) and d.qemu_messages:
                    log = d.console.parent / f"{d.domain}.qemu.log"
                    self.inf(f"--- QEMU's own messages ({log}) ---")
                    self.inf(d.qemu_messages)
                    self.inf("---")
        verdict = {"matched": "every expectation matched", "timeout": "timed out",
                   "exited": "an instance exited", "interrupted": "interrupted",
                   "ran": "ran until the timeout"}[result.reason]
        self.inf(f"{out}: {verdict} after {result.seconds:.1f} s: "
                 f"{'ok' if result.ok else 'FAILED'}")

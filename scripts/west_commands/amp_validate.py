"""west amp-validate: check that firmware ELFs load, and load where the system says."""

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

import zephyr_amp  # noqa: E402
from zephyr_amp.errors import AmpError  # noqa: E402

try:                                # pyelftools missing: the check cannot run (exit 2)
    from zephyr_amp import elfcheck
    from zephyr_amp.elfcheck import layouts
except ImportError as _e:
    elfcheck = layouts = None
    _IMPORT_ERROR = _e

SYSTEMS_DIR = zephyr_amp.REPO_ROOT / "systems"

DESCRIPTION = """\
Check remote-core firmware before anyone flashes it: will Linux remoteproc or
OpenAMP accept the ELF, and will it land where the system says?

In the simplest usage, check an image against the system YAML it was built for:

  west amp-validate build/zephyr/zephyr.elf --system @SYSTEMS@/kv260-rpmsg.yaml --domain rpu0

Without --system (or --layout) only the rules that need no layout run: the
ELF container, its loadable segments, where .resource_table is and what it
holds (header, carveout, devmem, trace, vdev and vring entries); a rule that
needs the layout to decide (a trace buffer outside every segment, as on the
KV260 where it sits in TCM) says so as a warning. With a system, the image is
also checked against the domain: class and machine of its core, one memory
region per segment in the core's own view (TCM at its local address), nothing
on another domain's memory or on shared memory, vrings and buffers where the
layout puts them, and the table's entries against amp-config's, matched by
meaning (what the two sides must share is an error; notify IDs, names and
entry order are information). Works on firmware this tool did not generate.
Rule IDs, severities and messages: docs/amp-validate.md.

Each finding is one line:

  ELF: SEVERITY RULE OBJECT [RANGES] vs REGION: MESSAGE (also: ...)
      => CONSEQUENCE: WHAT THE LOADER DOES

then one verdict line per ELF. "WHAT THE LOADER DOES" quotes the loader's own
message; it is the domain's loader (or --loader), both when none is known.
""".replace("@SYSTEMS@", str(SYSTEMS_DIR))

EPILOG = """\
examples:
  # the rules that need no system (a KV260 image's trace buffer in TCM is a
  # TRACE-02 warning here: only the layout knows the host can map it)
  west amp-validate zephyr.elf
  # against a system, as a CI gate that also fails on warnings
  west amp-validate rpu0.elf --system @SYSTEMS@/kv260-rpmsg.yaml --domain rpu0 --werror
  # a system whose board lives in your own tree
  west amp-validate rpu0.elf --system my.yaml --board-root boards/ --domain rpu0
  # against the layout.json amp-config wrote, findings as JSON into a file
  west amp-validate rpu0.elf --layout amp/kv260-rpmsg/layout.json --domain rpu0 \\
      --json findings.json

JSON output (--json [FILE], stdout when FILE is absent or '-'), one document:
  {"format": "zephyr-amp-validate", "version": 2, "ok": true|false,
   "werror": bool, "domain": str|null, "system": str|null, "layout": str|null,
   "loader": str|null,
   "reports": [{"path": str, "domain": str|null, "ok": bool, "errors": int,
                "warnings": int, "findings": [{"rule": "SEG-04", "severity":
                "error"|"warning"|"info", "message": str, "object": str|null,
                "ranges": [{"start": int, "end": int}], "ranges_are":
                "addresses"|"file offsets", "region": str|null,
                "consequence": "fail"|"ignore"|"corrupt"|"none",
                "effect": str, "also": [str]}]}]}

A --system layout is cached (keyed by the bytes of the system, its boards and
this library) in $ZEPHYR_AMP_CACHE or ~/.cache/zephyr-amp; ZEPHYR_AMP_CACHE=off
lays the system out every time.

Exit status: 0 when no error (warnings are allowed unless --werror); 1 when an
image has errors, or for a user error (bad arguments, an ELF, system or
layout file that cannot be read or is wrong, an unknown domain), with one line
on stderr; 2 when the check could not run (pyelftools missing, output file
not writable).
""".replace("@SYSTEMS@", str(SYSTEMS_DIR))

JSON_FORMAT = 'zephyr-amp-validate'
JSON_VERSION = 2
LOADERS = ('linux-remoteproc', 'openamp')


class AmpValidate(WestCommand):
    def __init__(self):
        super().__init__('amp-validate', 'check firmware ELFs against the loaders and a system',
                         DESCRIPTION, requires_workspace=False)

    def do_add_parser(self, parser_adder):
        parser = parser_adder.add_parser(
            self.name, help=self.help, description=self.description, epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
        parser.error = lambda message: _usage_error(parser, message)
        parser.add_argument('elfs', metavar='ELF', nargs='+',
                            help='firmware image(s) to check')
        system = parser.add_argument_group(
            'what to check against', 'Give the system YAML (or the layout.json that '
            'amp-config wrote for it) and the domain whose core runs the image(s).')
        source = system.add_mutually_exclusive_group()
        source.add_argument('--system', metavar='SYSTEM.yaml',
                            help='the input system description (what amp-config reads)')
        source.add_argument('--layout', metavar='LAYOUT.json',
                            help='a layout.json written by amp-config')
        system.add_argument('--board-root', metavar='DIR', action='append', default=[],
                            help='another directory of board files for --system '
                            '(repeatable; searched before the bundled boards/)')
        system.add_argument('--domain', metavar='NAME',
                            help='the domain the image(s) are for, e.g. rpu0')
        system.add_argument('--loader', choices=LOADERS,
                            help="whose behaviour the findings state and whose rules decide "
                            "SEG-05/VDEV-04 severities (default: the domain's loader; "
                            'without a system, both loaders)')
        system.add_argument('--strict-table', action='store_true',
                            help="make every difference from amp-config's table an error "
                            '(notify IDs, names, entry order, extra entries)')
        output = parser.add_argument_group('output')
        output.add_argument('--json', metavar='FILE', nargs='?', const='-',
                            help="write the findings as one JSON document to FILE (stdout "
                            "when FILE is absent or '-'; shape below)")
        output.add_argument('--werror', action='store_true',
                            help='treat warnings as errors for the exit status')
        return parser

    def do_run(self, args, unknown):
        self.dbg(zephyr_amp.origin())
        if args.domain and not (args.system or args.layout):
            self.parser.error('--domain needs --system or --layout')
        if (args.system or args.layout) and not args.domain:
            self.parser.error('--system and --layout need --domain')
        if args.board_root and not args.system:
            self.parser.error('--board-root needs --system')
        if elfcheck is None:
            self.die(f'cannot check ELFs: {_IMPORT_ERROR} (pip install pyelftools)',
                     exit_code=2)
        try:
            layout = load_layout(args)
            reports = [elfcheck.check_elf(elf, layout, args.domain, args.loader,
                                          strict_table=args.strict_table)
                       for elf in args.elfs]
        except AmpError as e:
            self.die(str(e), exit_code=1)
        ok = all(r.ok(args.werror) for r in reports)
        if args.json is not None:
            self.write_json(args, json_document(args, reports, ok))
        if args.json is None or args.json != '-':
            sys.stdout.write(human_text(reports, args.werror))
        sys.exit(0 if ok else 1)

    def write_json(self, args, doc):
        text = json.dumps(doc, indent=2) + '\n'
        if args.json == '-':
            sys.stdout.write(text)
            return
        try:
            Path(args.json).write_text(text, encoding='utf-8')
        except OSError as e:
            self.die(f'{args.json}: cannot write the JSON document: {e.strerror}', exit_code=2)


def _usage_error(parser, message):
    """argparse's usage error, with the exit status of a user error (1)."""
    parser.print_usage(sys.stderr)
    parser.exit(1, f'{parser.prog}: error: {message}\n')


def load_layout(args):
    """The typed layout from --system (amp-config's, cached) or --layout, or None."""
    if args.system:
        return layouts.layout_of(args.system, args.board_root)
    if args.layout:
        return layouts.read_layout(args.layout)
    return None


def human_text(reports, werror):
    """One line per finding, a verdict per ELF, a summary for several."""
    lines = []
    for r in reports:
        lines += [f'{r.path}: {f}' for f in r.findings]
        lines.append(f'{r.path}: {r.verdict(werror)}')
    if len(reports) > 1:
        bad = sum(not r.ok(werror) for r in reports)
        lines.append(f'{"FAIL" if bad else "OK"}: {bad} of {len(reports)} images failed')
    return ''.join(line + '\n' for line in lines)


def json_document(args, reports, ok):
    return {'format': JSON_FORMAT, 'version': JSON_VERSION, 'ok': ok, 'werror': args.werror,
            'domain': args.domain, 'system': args.system, 'layout': args.layout,
            'loader': args.loader,
            'reports': [r.to_json(args.werror) for r in reports]}


if __name__ == '__main__':
    # without west: the same parser and do_run as `west amp-validate` (zephyr_amp/cli.py)
    from zephyr_amp import cli
    sys.exit(cli.main(['amp-validate', *sys.argv[1:]]))

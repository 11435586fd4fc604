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
from zephyr_amp import elfcheck  # noqa: E402
from zephyr_amp.errors import AmpError  # noqa: E402

DESCRIPTION = """\
Check remote-core firmware before anyone flashes it: will Linux remoteproc or
OpenAMP accept the ELF, and will it land where the system says?

In the simplest usage, check an image against the system YAML it was built for:

  west amp-validate build/zephyr/zephyr.elf --system systems/kv260-rpmsg.yaml --domain rpu0

Without --system (or --layout) only the rules that need no layout run: the
ELF container, its loadable segments, where .resource_table is and what it
holds (header, carveout, devmem, trace, vdev and vring entries). With it, the
image is also checked against the domain: class and machine of its core, one
memory region per segment in the core's own view (TCM at its local address),
nothing on another domain's memory or on shared memory, vrings and buffers
where the layout puts them, and the table equal to the one amp-config
generates. Rule IDs, severities and messages: docs/amp-validate.md.

Each finding is one line:

  ELF: SEVERITY RULE OBJECT [RANGES] vs REGION: MESSAGE => CONSEQUENCE: WHAT THE LOADER DOES

then one verdict line per ELF. Exit status: 0 when no error (warnings are
allowed unless --werror), 1 when there are errors, 2 when the check could not
run (bad arguments, unreadable ELF, system or layout file).
"""

EPILOG = """\
examples:
  # the rules that need no system
  west amp-validate zephyr.elf
  # against a system, as a CI gate that also fails on warnings
  west amp-validate rpu0.elf --system systems/kv260-rpmsg.yaml --domain rpu0 --werror
  # against the layout.json amp-config wrote, findings as JSON
  west amp-validate rpu0.elf --layout build/amp/kv260-rpmsg/layout.json --domain rpu0 --json

JSON output (--json), one document on stdout:
  {"format": "zephyr-amp-validate", "version": 1, "ok": true|false,
   "werror": bool, "domain": str|null, "system": str|null, "layout": str|null,
   "reports": [{"path": str, "domain": str|null, "ok": bool, "errors": int,
                "warnings": int, "findings": [{"rule": "SEG-04", "severity":
                "error", "message": str, "object": str|null, "ranges":
                [{"start": int, "end": int}], "region": str|null,
                "consequence": "fail"|"ignore"|"corrupt"|"none",
                "effect": str}]}]}
"""

JSON_FORMAT = 'zephyr-amp-validate'
JSON_VERSION = 1
LOADERS = ('linux-remoteproc', 'openamp')


class AmpValidate(WestCommand):
    def __init__(self):
        super().__init__('amp-validate', '', DESCRIPTION, requires_workspace=False)

    def do_add_parser(self, parser_adder):
        parser = parser_adder.add_parser(
            self.name, help=self.help, description=self.description, epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
        parser.add_argument('elfs', metavar='ELF', nargs='+',
                            help='firmware image(s) to check')
        system = parser.add_argument_group(
            'what to check against', 'Give the system YAML (or the layout.json that '
            'amp-config wrote for it) and the domain whose core runs the image(s).')
        source = system.add_mutually_exclusive_group()
        source.add_argument('--system', metavar='SYSTEM.yaml',
                            help='the system description amp-config reads')
        source.add_argument('--layout', metavar='LAYOUT.json',
                            help='a layout.json written by amp-config')
        system.add_argument('--domain', metavar='NAME',
                            help='the domain the image(s) are for, e.g. rpu0')
        system.add_argument('--loader', choices=LOADERS,
                            help="whose rules decide SEG-05/VDEV-04 severities "
                            "(default: the domain's loader, else linux-remoteproc)")
        output = parser.add_argument_group('output')
        output.add_argument('--json', action='store_true',
                            help='print the findings as one JSON document (shape below)')
        output.add_argument('--werror', action='store_true',
                            help='treat warnings as errors for the exit status')
        return parser

    def do_run(self, args, unknown):
        self.dbg(zephyr_amp.origin())
        if args.domain and not (args.system or args.layout):
            self.parser.error('--domain needs --system or --layout')
        if (args.system or args.layout) and not args.domain:
            self.parser.error('--system and --layout need --domain')
        try:
            layout = load_layout(args)
            reports = [elfcheck.check_elf(elf, layout, args.domain, args.loader)
                       for elf in args.elfs]
        except AmpError as e:
            self.die(str(e), exit_code=2)
        ok = all(r.ok(args.werror) for r in reports)
        if args.json:
            self.inf(json.dumps(json_document(args, reports, ok), indent=2))
        else:
            for r in reports:
                for f in r.findings:
                    self.inf(f'{r.path}: {f}')
                self.inf(f'{r.path}: {r.verdict(args.werror)}')
            if len(reports) > 1:
                bad = sum(not r.ok(args.werror) for r in reports)
                self.inf(f'{"FAIL" if bad else "OK"}: {bad} of {len(reports)} images failed')
        sys.exit(0 if ok else 1)


def load_layout(args):
    """The layout dict from --system (through amp-config) or --layout, or None."""
    if args.system:
        from zephyr_amp import config  # the amp-config pipeline; only needed here
        return config.layout_for(args.system)
    if args.layout:
        try:
            with open(args.layout, encoding='utf-8') as f:
                return json.load(f)
        except OSError as e:
            raise elfcheck.ElfCheckError(f'{args.layout}: cannot read: {e.strerror}') from e
        except ValueError as e:
            raise elfcheck.ElfCheckError(f'{args.layout}: not JSON: {e}') from e
    return None


def json_document(args, reports, ok):
    return {'format': JSON_FORMAT, 'version': JSON_VERSION, 'ok': ok, 'werror': args.werror,
            'domain': args.domain, 'system': args.system, 'layout': args.layout,
            'reports': [r.to_json(args.werror) for r in reports]}


def main(argv=None):
    """Run without a west installation's command line:
    python scripts/west_commands/amp_validate.py ELF ... (same options, exits)."""
    from west.configuration import Configuration

    class Standalone(AmpValidate):
        # west's own main strips colours when stderr is no terminal; do the same.
        color_ui = property(lambda self: sys.stderr.isatty())

    command = Standalone()
    parser = command.add_parser(argparse.ArgumentParser(prog='west').add_subparsers())
    command.run(parser.parse_args(argv), [], None, config=Configuration())


if __name__ == '__main__':
    main()

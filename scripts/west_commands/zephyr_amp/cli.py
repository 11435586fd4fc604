"""The west commands without west: `amp-config ...`, `python -m zephyr_amp amp-config ...`.

For Linux- and Yocto-side users who have no west workspace. The commands are
the same classes west runs: this module reads scripts/west-commands.yml (the
file west reads), loads each command file, and drives the WestCommand with a
plain argparse parser, as west's own main does. Nothing here knows what a
command does, so a new entry in west-commands.yml is a new command here too.

Outside west there is no workspace: a command that needs one (amp-build)
says so and exits; the others run with the current directory where west
would use the workspace top (amp-config's default output directory).

The command files are not part of the package: they sit beside it
(scripts/west_commands/amp_*.py next to scripts/west_commands/zephyr_amp/).
An install from a clone (`pip install -e CLONE`) keeps them there; a copy of
the package without them is told so.
"""

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from . import missing_dependency

PACKAGE_DIR = Path(__file__).resolve().parent
COMMANDS_DIR = PACKAGE_DIR.parent                 # scripts/west_commands/
PROJECT_DIR = PACKAGE_DIR.parents[2]              # the repository (west's project path)
SPEC_FILE = PROJECT_DIR / "scripts" / "west-commands.yml"

EPILOG = """\
Each command is the west extension command of the same name (west amp-config
and amp-config take the same arguments); `<command> -h` tells more. -v and -q
may also follow the command. Exit status: that of the command (0 ok, 1 findings
or a user error, 2 could not run).
"""


class CliError(Exception):
    """This front end cannot run a command: one line for the user, exit 2."""


class Spec:
    """One command of west-commands.yml: name, help, file, class."""

    def __init__(self, name: str, help: str, file: Path, cls: str):
        self.name, self.help, self.file, self.cls = name, help, file, cls

    def load(self):
        """The WestCommand instance (imports the command file)."""
        if not self.file.is_file():
            raise CliError(f"{self.name}: command file {self.file} is missing")
        spec = importlib.util.spec_from_file_location(
            f"zephyr_amp_cli_{self.file.stem}", self.file)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except ImportError as e:
            fix = missing_dependency(e)
            if fix is None:
                raise
            raise CliError(fix) from None
        return getattr(module, self.cls)()


def specs(spec_file: Path = SPEC_FILE) -> list:
    """The commands west-commands.yml declares, in its order."""
    if not spec_file.is_file():
        raise CliError(
            f"zephyr_amp at {PACKAGE_DIR} has no command files beside it ({spec_file} and "
            f"{COMMANDS_DIR}/amp_*.py are missing): this copy was installed without its "
            "repository; install from a clone instead: pip install -e path/to/zephyr-amp")
    try:
        import yaml
    except ImportError as e:
        raise CliError(missing_dependency(e)) from None
    data = yaml.safe_load(spec_file.read_text(encoding="utf-8")) or {}
    out = []
    for entry in data.get("west-commands", []):
        for c in entry.get("commands", []):
            out.append(Spec(c["name"], c.get("help", ""), PROJECT_DIR / entry["file"],
                            c.get("class", c["name"])))
    return out


class _ParserAdder:
    """Stands in for argparse's subparsers action: a WestCommand's do_add_parser
    calls add_parser(name, ...), and gets a parser of its own whose prog is what
    the user typed."""

    def __init__(self, prog: str):
        self.prog = prog

    def add_parser(self, name, **kwargs):
        for west_only in ("aliases", "help"):   # subparser keywords
            kwargs.pop(west_only, None)
        return argparse.ArgumentParser(prog=self.prog, **kwargs)


def _verbosity_options(parser):
    group = parser.add_argument_group("output (as west -v / west -q)")
    group.add_argument("-v", "--verbose", dest="cli_verbose", action="count", default=0,
                       help="say more (repeat for more)")
    group.add_argument("-q", "--quiet", dest="cli_quiet", action="count", default=0,
                       help="say less (repeat for less)")


def run_command(spec: Spec, argv: list, prog: str, verbose: int = 0) -> int:
    """Parse argv with the command's own parser and run it; the exit status."""
    from subprocess import CalledProcessError

    import colorama
    from west.commands import CommandError, Verbosity
    from west.configuration import Configuration

    colorama.init()    # as west does: colour only on a terminal
    cmd = spec.load()
    parser = cmd.add_parser(_ParserAdder(prog))
    _verbosity_options(parser)
    args, unknown = parser.parse_known_args(argv)
    level = Verbosity.INF + verbose + args.cli_verbose - args.cli_quiet
    cmd.verbosity = max(Verbosity.QUIET, min(Verbosity.DBG_EXTREME, level))
    if cmd.requires_workspace:
        raise CliError(f"{spec.name} needs a west workspace (it reads the manifest): "
                       f"run `west {spec.name}` inside one")
    try:
        cmd.run(args, unknown, None, manifest=None, config=Configuration(topdir=None))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except CalledProcessError as e:
        cmd.err(f"command exited with status {e.returncode}: {e.cmd}", fatal=True)
        return e.returncode
    except CommandError as e:
        return e.returncode
    return 0


def _top_parser(all_specs):
    parser = argparse.ArgumentParser(
        prog="python -m zephyr_amp", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="zephyr-amp's commands without west.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="say more")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="say less")
    parser.add_argument("command", metavar="<command>", nargs="?",
                        choices=[s.name for s in all_specs],
                        help="; ".join(f"{s.name}: {s.help}" for s in all_specs))
    return parser


def main(argv=None) -> int:
    """python -m zephyr_amp [-v|-q] <command> ARGS."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        all_specs = specs()
        # global options up to the command name, as west takes them
        i = next((k for k, a in enumerate(argv) if not a.startswith("-")), len(argv))
        top = _top_parser(all_specs).parse_args(argv[:i + 1])
        if top.command is None:      # (-h before a command exits 0 in argparse)
            _top_parser(all_specs).print_help(sys.stderr)
            return 2
        spec = next(s for s in all_specs if s.name == top.command)
        return run_command(spec, argv[i + 1:], f"python -m zephyr_amp {spec.name}",
                           top.verbose - top.quiet)
    except CliError as e:
        print(f"FATAL ERROR: {e}", file=sys.stderr)
        return 2


def entry(name: str) -> int:
    """A console script: `amp-config ARGS` is `west amp-config ARGS`."""
    try:
        spec = next((s for s in specs() if s.name == name), None)
        if spec is None:
            raise CliError(f"{SPEC_FILE} declares no command {name}")
        return run_command(spec, sys.argv[1:], os.path.basename(sys.argv[0]) or name)
    except CliError as e:
        print(f"FATAL ERROR: {e}", file=sys.stderr)
        return 2


def amp_config() -> int:
    return entry("amp-config")


def amp_validate() -> int:
    return entry("amp-validate")


def amp_build() -> int:
    return entry("amp-build")

"""west amp-build: the sample x board x system matrix, built, checked and sharded for CI."""

import argparse
import json
import logging
import sys
import threading
from pathlib import Path

from west.commands import Verbosity, WestCommand

# West loads this file by path and appends its folder to sys.path (1.5) or
# not at all (older): put it first, and forget a zephyr_amp imported from any
# other place (a pip-installed copy), so that this checkout's library runs.
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [_HERE] + [p for p in sys.path if p != _HERE]
for _m in [m for m in sys.modules if m.split(".")[0] == "zephyr_amp"]:
    if not str(getattr(sys.modules[_m], "__file__", "")).startswith(_HERE):
        del sys.modules[_m]

import zephyr_amp  # noqa: E402

try:
    # Only what planning needs: the amp-config pipeline (jinja2, pykwalify) and the
    # ELF checker (pyelftools) are imported when a system is configured or an ELF
    # checked; a missing one is then reported the same way (do_run).
    from zephyr_amp import build, matrix, zephyr_version
    from zephyr_amp.errors import AmpError
    _MISSING = None
except ImportError as _e:
    # A dependency the user has not installed: one line with the fix when the
    # command runs (do_run), instead of a traceback when west loads this file.
    _MISSING = zephyr_amp.missing_dependency(_e)
    if _MISSING is None:
        raise
    AmpError = Exception  # never raised: do_run stops first

REPO_ROOT = zephyr_amp.REPO_ROOT
DEFAULT_MATRIX = REPO_ROOT / "matrix" / "amp-matrix.yaml"
STAGING_MATRIX = REPO_ROOT / "matrix" / "amp-matrix-staging.yaml"

DESCRIPTION = """\
Build every entry of a matrix file: for each sample x board x system domain,
generate the system's files (as west amp-config does), run

  west build -b BOARD -d BUILD_DIR SAMPLE -- -DEXTRA_DTC_OVERLAY_FILE=<domain>/amp.overlay
      -DEXTRA_CONF_FILE=<domain>/amp.conf -DAMP_CMAKE=<domain>/amp.cmake

and check the ELF (zephyr/zephyr.elf, or as CONFIG_KERNEL_BIN_NAME names it)
against the system (as west amp-validate does).
An entry passes when both pass. An entry whose inputs did not change and
whose ELF still validates is up to date and is not rebuilt (--pristine
rebuilds). Each system is configured once per run, and not at all when its
files in the build root were made from the same inputs. Everything goes
under the build root:

  <root>/amp/<system>/          the generated files
  <root>/<entry>/build/         the west build directory
  <root>/<entry>/build.log      what west build printed
  <root>/<entry>/validation.json  the ELF findings

amp-build prints a line as each build starts (with where its log is; -v adds
the west build command line) and one as each entry ends, then a table.
"""

EPILOG = f"""\
Examples:
  west amp-build --dry-run                       # the plan and the exact commands
  west amp-build -j 4                            # the bundled matrix
  west amp-build --board kv260_r5 --sample openamp_rsc_table
  west amp-build --only-system kv260-rpmsg --board-root ~/my-boards
  west amp-build --shard 2/4 --junit junit.xml   # one CI runner's share
  west amp-build --json | jq .counts             # the result as JSON on stdout
  west amp-build --emit-matrix github --shards 4 # the CI matrix, as JSON

The matrix format, the build root and when an entry is up to date:
  {REPO_ROOT / "docs" / "amp-build.md"}
The bundled matrices: {DEFAULT_MATRIX}
  (Zephyr v4.4 and openamp-system-reference: a workspace of west.yml), and
  {STAGING_MATRIX}
  (the virtio samples of OpenAMP's staging fork: the default in a workspace of
  west-staging.yml, told by its manifest file or its zephyr project)

Exit status:
  0  every selected entry passed (or, with --emit-matrix/--dry-run, the plan is good)
  1  findings or a user error: a build or validation failed, a sample.yaml lint
     error, a system that does not configure, a bad option or matrix file
  2  could not run: no Zephyr in the workspace, a sample not in the workspace,
     no compiler for an architecture, a report file that cannot be written
"""


class AmpBuild(WestCommand):
    def __init__(self):
        super().__init__("amp-build", "", DESCRIPTION)
        self._lock = threading.Lock()
        self._stream = None         # sys.stderr while stdout carries --json

    def do_add_parser(self, parser_adder):
        parser = parser_adder.add_parser(
            self.name, help=self.help, description=self.description, epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
        parser.error = _user_error(parser)
        parser.add_argument("--matrix", metavar="FILE",
                            help="the matrix file (default: the bundled "
                            "matrix/amp-matrix-staging.yaml in a workspace of "
                            "west-staging.yml, matrix/amp-matrix.yaml otherwise)")
        parser.add_argument("--board-root", action="append", default=[], metavar="DIR",
                            help="a folder of board YAML files (<board>.yaml), searched "
                            "before the bundled boards for every system; may be repeated "
                            "(as in west amp-config)")
        sel = parser.add_argument_group("choosing entries (each may be given more than once)")
        sel.add_argument("-b", "--board", action="append", default=[], metavar="BOARD",
                         help="only entries for this board")
        sel.add_argument("-s", "--sample", action="append", default=[], metavar="SAMPLE",
                         help="only this sample: its path, a trailing part of it "
                         "(openamp_rsc_table) or a glob")
        sel.add_argument("--only-system", action="append", dest="only_system", default=None,
                         metavar="NAME",
                         help="only entries of this system: its name (kv260-rpmsg) or file")
        # the old spelling of --only-system (amp-build has no input --system)
        sel.add_argument("--system", action="append", dest="only_system", default=None,
                         help=argparse.SUPPRESS)
        sel.add_argument("--shard", metavar="I/N",
                         help="only share I of N: every entry is in exactly one share")
        run = parser.add_argument_group("running")
        run.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                         help="builds at a time (default: 1; each real Zephyr build "
                         "already uses every core)")
        run.add_argument("-p", "--pristine", action="store_true",
                         help="rebuild every entry from scratch, up to date or not")
        run.add_argument("-n", "--dry-run", action="store_true",
                         help="print the plan and the exact commands; build nothing, write "
                         "nothing (works before Zephyr is cloned)")
        run.add_argument("--run", action="store_true",
                         help="then boot the run entries (expect: run: qemu with console: "
                         "regexes) of each system whose builds passed, in QEMU, and check "
                         "their consoles: one more result per entry, '<entry> run'")
        run.add_argument("--build-root", metavar="DIR", default="build/amp-build",
                         help="where the generated files, builds and logs go "
                         "(default: build/amp-build)")
        out = parser.add_argument_group("reports")
        out.add_argument("--json", nargs="?", const="-", metavar="FILE",
                         help="write the full result as JSON to FILE, or to stdout when "
                         "FILE is - or left out (the progress then goes to stderr)")
        out.add_argument("--junit", metavar="FILE", help="write JUnit XML for CI reporters")
        out.add_argument("--emit-matrix", choices=["github"],
                         help="print the CI matrix as JSON and exit: the document GitHub "
                         "Actions' strategy.matrix takes through fromJSON()")
        out.add_argument("--shards", type=int, default=4, metavar="N",
                         help="with --emit-matrix: how many shares (default: 4, never more "
                         "than entries)")
        return parser

    def do_run(self, args, unknown):
        self.dbg(zephyr_amp.origin())
        if _MISSING:
            self.die(_MISSING, exit_code=2)
        forward = zephyr_amp.forward_logs(_Lines(self))
        try:
            code = self._run(args)
        except AmpError as e:
            self.die(str(e), exit_code=e.exit_code)
        except ImportError as e:        # a dependency of a lazily imported stage
            missing = zephyr_amp.missing_dependency(e)
            if missing is None:
                raise
            self.die(missing, exit_code=2)
        finally:
            logging.getLogger("zephyr_amp").removeHandler(forward)
        if code:
            raise SystemExit(code)

    def _say(self, text="", level=Verbosity.INF):
        """One line of human output: stdout, or stderr while stdout carries JSON;
        not at all below `level` (west -q, or without -v for debug lines)."""
        if self.verbosity < level:
            return
        with self._lock:
            stream = self._stream or sys.stdout
            stream.write(f"{text}\n")
            stream.flush()

    def _run(self, args):
        loaded = matrix.load(args.matrix or self._default_matrix())
        jobs = matrix.select(loaded.jobs, args.board, args.sample, args.only_system or [])
        shard = None
        if args.shard:
            i, n = matrix.parse_shard(args.shard)
            jobs = matrix.shard(jobs, i, n)
            shard = f"{i}/{n}"
        if args.emit_matrix:
            sys.stdout.write(json.dumps(matrix.github_matrix(jobs, args.shards)) + "\n")
            return 0
        if args.jobs < 1:
            raise matrix.OptionError(f"-j {args.jobs}: expected at least 1")
        if args.json == "-":
            self._stream = sys.stderr
        if not jobs:
            self._say(f"amp-build: share {shard} of the selected entries is empty; "
                      "nothing to build")
            return 0
        topdir = Path(self.topdir)
        plan = build.plan(jobs, args.build_root, topdir, pristine=args.pristine,
                          extra_module=not self._module_in_workspace(),
                          board_roots=args.board_root,
                          zephyr_version=zephyr_version.target(topdir=self.topdir,
                                                               manifest=self.manifest))
        head = (f"{len(jobs)} of {len(loaded.jobs)} entries of {loaded.path}"
                + (f", shard {shard}" if shard else ""))
        if args.dry_run:
            return self._dry_run(plan, head)
        plan.zephyr = build.find_zephyr(self.manifest, self.config)
        build.preflight(plan)
        problems = build.lint(topdir, [s.job.sample for s in plan.steps])
        self._say(f"amp-build: {head}; -j {args.jobs}; build root {plan.root}")
        for p in problems:
            self.err(f"lint: {p}")
        result = build.run(plan, args.jobs, self._done, matrix=loaded.path, shard=shard,
                           lint_problems=problems, on_start=self._started)
        if args.run:
            from zephyr_amp import build_run
            result.runs = build_run.run_all(result, report=self._say)
            for er in result.runs:
                self._say(build_run.progress_line(er))
        self._report(result, args)
        return 0 if result.ok else 1

    def _report(self, result, args):
        self._say()
        self._say(build.summary_table(result))
        for r in result.results:
            if not r.passed:
                self._say()
                self._say(build.failure_details(r))
        for er in result.runs:
            if er.status == "failed":
                from zephyr_amp import build_run
                self._say()
                self._say(build_run.failure_details(er))
        if args.json:
            text = json.dumps(build.to_json(result), indent=2) + "\n"
            if args.json == "-":
                sys.stdout.write(text)
                sys.stdout.flush()
            else:
                build.write_text(args.json, text)
        if args.junit:
            build.write_text(args.junit, build.to_junit(result))
        self._say()
        self._say(build.verdict(result))

    def _started(self, step):
        self._say(build.start_line(step))
        self._say("  " + build.shell_join(step.command), level=Verbosity.DBG)

    def _done(self, done, total, result):
        self._say(build.progress_line(done, total, result))

    def _dry_run(self, plan, head):
        self._say(f"amp-build --dry-run: {head}; would run in {plan.topdir}:")
        present = [s.job.sample for s in plan.steps if (plan.topdir / s.job.sample).is_dir()]
        problems = build.lint(plan.topdir, present)
        for i, s in enumerate(plan.steps, 1):
            self._say(f"[{i}/{len(plan.steps)}] {s.job.label}")
            if s.problem:
                self._say(f"  cannot configure: {s.problem}")
                continue
            self._say("  " + build.shell_join(s.command))
            self._say(f"  then check {s.elf} against {s.job.system_name}:{s.job.domain}")
        for p in problems:
            self.err(f"lint: {p}")
        missing = len(plan.steps) - len(present)
        if missing:
            self._say(f"({missing} samples are not in the workspace yet: not linted)")
        return 1 if problems or any(s.problem for s in plan.steps) else 0

    def _default_matrix(self):
        """The bundled matrix for this workspace's manifest (matrix.default_for)."""
        zephyr = next((p for p in self.manifest.projects if p.name == "zephyr"), None)
        return matrix.default_for(getattr(self.manifest, "abspath", None),
                                  getattr(zephyr, "url", None))

    def _module_in_workspace(self):
        """Is this repository a project of the workspace (so Zephyr builds see it as a
        module)? If not, builds get -DEXTRA_ZEPHYR_MODULES=<this repository>."""
        here = REPO_ROOT.resolve()
        for p in self.manifest.projects:
            try:
                if p.abspath and Path(p.abspath).resolve() == here:
                    return True
            except OSError:
                continue
        return False


class _Lines:
    """Where zephyr_amp.forward_logs() sends the library's records: warnings through
    west's wrn() (stderr), info (-v) and debug (-vv) as this command's own lines,
    so that they too move to stderr while stdout carries --json."""

    def __init__(self, cmd):
        self.cmd = cmd

    def wrn(self, text):
        self.cmd.wrn(text)

    def dbg(self, text, level=Verbosity.DBG):
        self.cmd._say(text, level)


def _user_error(parser):
    """argparse's error(), with the exit status of a user error (1), not its 2."""
    def error(message):
        parser.print_usage(sys.stderr)
        parser.exit(1, f"{parser.prog}: error: {message}\n")
    return error

"""The build matrix: which sample to build for which board, with which system's files.

A matrix file (matrix/amp-matrix.yaml is the bundled one; docs/amp-build.md
describes the format) lists entries; each entry expands to one BuildJob per
sample. Loading checks the structure with schema/matrix.yaml and the meaning
here (one of sample/samples, files that exist, one build per id), every error
at its line. Selection (--board/--sample/--only-system), sharding and the
GitHub Actions matrix work on BuildJobs only: nothing here reads a system YAML
or the west workspace, so planning works before Zephyr is cloned.

pykwalify is imported only for a matrix that breaks its schema: a matrix is
first checked by _fits(), a strict reading of the same schema file (types,
required and unknown keys, enums, no nulls) that either passes a document
pykwalify would pass too or hands it to schema.check() for the message.
"""

import fnmatch
import functools
import re
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from . import REPO_ROOT
from .errors import AmpError
from .source import Source, did_you_mean

SCHEMA = Path(__file__).resolve().parent / "schema" / "matrix.yaml"
DEFAULT_MATRIX = REPO_ROOT / "matrix" / "amp-matrix.yaml"
# The samples that exist only on OpenAMP's staging fork (zephyr/samples/virtio/*):
# the default in a workspace of west-staging.yml.
STAGING_MATRIX = REPO_ROOT / "matrix" / "amp-matrix-staging.yaml"
STAGING_MANIFEST = "west-staging.yml"
STAGING_ZEPHYR = "openamp-zephyr-staging"     # the repository of its zephyr project

# The -D options amp-build sets itself; a matrix entry must not set them.
OWN_CMAKE_VARS = {
    "EXTRA_DTC_OVERLAY_FILE": "extra-overlay",
    "EXTRA_CONF_FILE": "extra-conf",
    "AMP_CMAKE": None,
}
RESERVED_IDS = {"amp"}      # <build root>/amp holds the generated files
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ID_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class OptionError(AmpError):
    """An option value that selects nothing or makes no sense: the user's error
    (exit status 1), with what there is or what was expected."""


class BuildJob(NamedTuple):
    """One build: a sample for a board with the generated files of one domain.

    id: unique, file-name safe, names the build directory; sample: path in the
    west workspace (posix, relative); system: absolute path of the system
    YAML; extra_conf, extra_overlay: absolute paths; expect: what a later run
    step should see (recorded, not checked by amp-build); where: 'file:line'
    of the entry, for messages.
    """

    id: str
    sample: str
    board: str
    system: Path
    domain: str
    extra_conf: tuple = ()
    extra_overlay: tuple = ()
    cmake_args: tuple = ()
    expect: tuple = ()          # sorted (key, value) pairs; dict(job.expect) to read
    where: str = ""

    @property
    def system_name(self):
        """The system file's stem (the bundled systems name themselves after it)."""
        return self.system.stem

    @property
    def board_name(self):
        """The board without qualifiers: kv260_r5/zynqmp_rpu -> kv260_r5."""
        return self.board.split("/")[0]

    @property
    def label(self):
        """'kv260_r5 zephyr/samples/... (kv260-rpmsg:rpu0)', for progress lines; entries
        with a name of their own add it: '... [name]'."""
        text = f"{self.board} {self.sample} ({self.system_name}:{self.domain})"
        if self.id != default_id(self.board, self.sample, self.system_name, self.domain):
            text += f" [{self.id}]"
        return text


class Matrix(NamedTuple):
    path: Path
    description: str
    jobs: list


def default_for(manifest_file=None, zephyr_url=None) -> Path:
    """The matrix amp-build reads without --matrix: STAGING_MATRIX in a workspace of
    west-staging.yml (its manifest file is west-staging.yml, or its zephyr project
    comes from OpenAMP's openamp-zephyr-staging), else DEFAULT_MATRIX."""
    if manifest_file and Path(manifest_file).name == STAGING_MANIFEST:
        return STAGING_MATRIX
    url = (zephyr_url or "").rstrip("/")
    if url.endswith(".git"):
        url = url[:-4]
    if url.rsplit("/", 1)[-1] == STAGING_ZEPHYR:
        return STAGING_MATRIX
    return DEFAULT_MATRIX


def load(path=None, display=None):
    """Read and check a matrix file; return a Matrix with its jobs in file order."""
    path = Path(path) if path else DEFAULT_MATRIX
    src = Source(path, display=display if display is not None else _display(path))
    if not isinstance(src.data, dict):
        raise src.error((), "a matrix file is a map with version and entries",
                        f"start from {_display(DEFAULT_MATRIX)}")
    if not _fits(src.data, _schema()):
        from . import schema  # pykwalify, for its findings and their positions
        schema.check(src, "matrix")
    if src.data["version"] != 1:
        raise src.error(("version",), f"version {src.data['version']} is not known",
                        "this amp-build reads version: 1")
    return Matrix(path, src.data.get("description", ""), _Expander(src, path).jobs())


@functools.cache
def _schema():
    import yaml
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(SCHEMA, encoding="utf-8") as f:
        return yaml.load(f, Loader=loader)


_SCALARS = {"str": lambda v: isinstance(v, str),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool)}
_RULE_KEYS = {"type", "required", "mapping", "sequence", "enum"}


def _fits(data, rule):
    """Does data certainly pass this (pykwalify) schema rule? Strict: any doubt,
    a null, or a schema construct not read here is False (then pykwalify decides)."""
    if not isinstance(rule, dict) or set(rule) - _RULE_KEYS or data is None:
        return False
    kind = rule.get("type", "str")
    if "enum" in rule and data not in rule["enum"]:
        return False
    if kind == "map":
        mapping = rule.get("mapping")
        if not isinstance(data, dict) or not isinstance(mapping, dict):
            return False
        if any(k not in mapping for k in data):
            return False
        if any(r.get("required") and k not in data for k, r in mapping.items()
               if isinstance(r, dict)):
            return False
        return all(_fits(v, mapping[k]) for k, v in data.items())
    if kind == "seq":
        seq = rule.get("sequence")
        if not isinstance(data, list) or not isinstance(seq, list) or len(seq) != 1:
            return False
        return all(_fits(v, seq[0]) for v in data)
    check = _SCALARS.get(kind)
    return bool(check and check(data))


def _display(path):
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class _Expander:
    def __init__(self, src, path):
        self.src = src
        self.base = Path(path).resolve().parent
        self.system_dir = (self.base / src.data.get("system-dir", ".")).resolve()

    def jobs(self):
        entries = self.src.data["entries"]
        if not entries:
            raise self.src.error(("entries",), "the matrix has no entries",
                                 "add one: sample, board, system, domain")
        if not self.system_dir.is_dir():
            raise self.src.error(("system-dir",), f"no such directory: {self.system_dir}",
                                 "give a directory relative to the matrix file")
        jobs, seen = [], {}
        for i, entry in enumerate(entries):
            for job in self.entry(i, entry):
                if job.id in seen:
                    first = seen[job.id]
                    raise self.src.error(
                        ("entries", i), f"build '{job.id}' is already defined by the entry on "
                        f"line {first}", "remove one, or give this entry its own name")
                seen[job.id] = self.src.where(("entries", i))[0]
                jobs.append(job)
        return jobs

    def entry(self, i, e):
        at = ("entries", i)
        samples = self.samples(at, e)
        board = e["board"].strip()
        if not board or any(c.isspace() for c in board):
            raise self.src.error(at + ("board",), f"'{e['board']}' is not a board target",
                                 "write it as west build -b takes it, e.g. kv260_r5")
        system = (self.system_dir / e["system"]).resolve()
        if not system.is_file():
            known = sorted(p.name for p in self.system_dir.glob("*.yaml"))
            hint = did_you_mean(e["system"], known) or (
                "systems there: " + (", ".join(known) or "none"))
            raise self.src.error(at + ("system",), f"no such file: {system}", hint)
        domain = e["domain"]
        extra_conf = self.files(at + ("extra-conf",), e.get("extra-conf", ()))
        extra_overlay = self.files(at + ("extra-overlay",), e.get("extra-overlay", ()))
        cmake_args = self.cmake_args(at, e.get("cmake-args", ()))
        self.check_expect(at + ("expect",), e.get("expect") or {})
        expect = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                              for k, v in (e.get("expect") or {}).items()))
        name = e.get("name")
        if name is not None:
            if len(samples) > 1:
                raise self.src.error(at + ("name",), f"one name cannot name {len(samples)} builds",
                                     "split the entry, or drop name to get one id per sample")
            if not _ID_RE.match(name) or name in RESERVED_IDS:
                raise self.src.error(at + ("name",), f"'{name}' cannot name a build directory",
                                     "use letters, digits, '.', '_' and '-', not 'amp'")
        where = f"{self.src.display}:{self.src.where(at)[0]}"
        for sample in samples:
            job_id = name or default_id(board, sample, system.stem, domain)
            yield BuildJob(job_id, sample, board, system, domain, extra_conf, extra_overlay,
                           cmake_args, expect, where)

    def check_expect(self, at, expect):
        """console: regexes (Python re, multi-line) that the entry's domain prints, in
        order, checked by amp-build --run when run: qemu; timeout: seconds, > 0."""
        console = expect.get("console") or []
        if console and expect.get("run") != "qemu":
            raise self.src.error(at + ("console",), "console expectations are checked only "
                                 "by a run in QEMU", "add run: qemu, or drop console")
        for i, regex in enumerate(console):
            try:
                re.compile(regex, re.MULTILINE)
            except re.error as err:
                raise self.src.error(at + ("console", i), f"'{regex}' is not a regular "
                                     f"expression: {err}", "write it as Python's re takes "
                                     "it, e.g. 'PROBE PASS$'") from None
        if "timeout" in expect and expect["timeout"] <= 0:
            raise self.src.error(at + ("timeout",), f"timeout {expect['timeout']} is not "
                                 "positive", "give the seconds a run may take, e.g. 30")

    def samples(self, at, e):
        if ("sample" in e) == ("samples" in e):
            raise self.src.error(at, "give either sample (one) or samples (a list)",
                                 "e.g. sample: zephyr/samples/subsys/ipc/openamp_rsc_table")
        if "sample" in e:
            items = [(at + ("sample",), e["sample"])]
        else:
            if not e["samples"]:
                raise self.src.error(at + ("samples",), "the list is empty", "name a sample")
            items = [(at + ("samples", j), s) for j, s in enumerate(e["samples"])]
        out = []
        for path, text in items:
            p = PurePosixPath(text.strip().rstrip("/"))
            if not text.strip() or p.is_absolute() or ".." in p.parts:
                raise self.src.error(path, f"'{text}' is not a path inside the west workspace",
                                     "write it relative to the workspace, e.g. "
                                     "zephyr/samples/virtio/entropy")
            out.append(p.as_posix())
        return out

    def files(self, at, names):
        out = []
        for j, name in enumerate(names):
            p = (self.base / name).resolve()
            if not p.is_file():
                raise self.src.error(at + (j,), f"no such file: {p}",
                                     "paths are relative to the matrix file")
            out.append(p)
        return tuple(out)

    def cmake_args(self, at, args):
        for j, arg in enumerate(args):
            m = re.match(r"-D([A-Za-z_][A-Za-z0-9_]*)", arg)
            if m and m.group(1) in OWN_CMAKE_VARS:
                key = OWN_CMAKE_VARS[m.group(1)]
                fix = f"list the file under {key}" if key else "amp-build sets it"
                raise self.src.error(at + ("cmake-args", j),
                                     f"-D{m.group(1)} is set by amp-build", fix)
        return tuple(args)


def default_id(board, sample, system, domain):
    """<board>-<sample dir name>-<system>-<domain>, file-name safe."""
    raw = f"{board.replace('/', '_')}-{PurePosixPath(sample).name}-{system}-{domain}"
    return _ID_CHARS.sub("_", raw)


# -- selection --------------------------------------------------------------

def select(jobs, boards=(), samples=(), systems=()):
    """The jobs every given filter admits (any value of a filter; all filters).

    A value that matches no job is an OptionError naming what there is: a typo
    must not turn into an empty, green run.
    """
    filters = [("--board", boards, _board_matches, lambda j: j.board),
               ("--sample", samples, _sample_matches, lambda j: j.sample),
               ("--only-system", systems, _system_matches, lambda j: j.system_name)]
    for option, values, matches, shown in filters:
        for value in values:
            if not any(matches(j, value) for j in jobs):
                known = sorted({shown(j) for j in jobs})
                hint = did_you_mean(value, known) or "the matrix has: " + ", ".join(known)
                raise OptionError(f"{option} {value} matches no entry of the matrix; {hint}")
    return [j for j in jobs
            if all(not values or any(matches(j, v) for v in values)
                   for _, values, matches, _ in filters)]


def _board_matches(job, value):
    return value in (job.board, job.board_name)


def _sample_matches(job, value):
    value = value.rstrip("/")
    return (job.sample == value or job.sample.endswith("/" + value)
            or fnmatch.fnmatchcase(job.sample, value))


def _system_matches(job, value):
    if value in (job.system_name, job.system.name):
        return True
    try:
        return Path(value).resolve() == job.system.resolve()
    except OSError:
        return False


# -- sharding -----------------------------------------------------------------

def parse_shard(text):
    """'2/4' -> (2, 4); an OptionError that shows the form otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise OptionError(f"--shard {text}: expected I/N with 1 <= I <= N, e.g. --shard 1/4")
    return int(m.group(1)), int(m.group(2))


def shard(jobs, index, total):
    """Share `index` (1-based) of `total`: the jobs whose rank by id is index-1 mod total.

    Deterministic (ranks come from the ids, not from the order given) and
    balanced (share sizes differ by at most one); the shares of 1..total
    cover every job exactly once. Jobs keep the order they were given in.
    """
    if not 1 <= index <= total:
        raise OptionError(f"shard {index}/{total}: expected 1 <= I <= N")
    rank = {job_id: r for r, job_id in enumerate(sorted(j.id for j in jobs))}
    return [j for j in jobs if rank[j.id] % total == index - 1]


def github_matrix(jobs, shards):
    """The document GitHub Actions' strategy.matrix takes through fromJSON():
    {"include": [{"shard": "1/4", "count": 3, "entries": "id id id"}, ...]}.
    No more shards than jobs: an empty shard would be a runner doing nothing."""
    if shards < 1:
        raise OptionError(f"--shards {shards}: expected at least 1")
    if not jobs:
        raise OptionError("no entries selected; GitHub Actions rejects an empty matrix")
    total = min(shards, len(jobs))
    include = []
    for i in range(1, total + 1):
        part = shard(jobs, i, total)
        include.append({"shard": f"{i}/{total}", "index": i, "total": total,
                        "count": len(part), "entries": " ".join(j.id for j in part)})
    return {"include": include}

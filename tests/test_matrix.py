"""The build matrix: the bundled file, its checks, selection, shards, the GitHub matrix.

In-process and fast; the end-to-end runs of `west amp-build` are in
test_amp_build.py.
"""

import itertools
import json
import random
import textwrap
from pathlib import Path

import pytest

from conftest import REPO, SYSTEMS
from zephyr_amp import config, matrix
from zephyr_amp.errors import InputError

SYSDIR = REPO / "systems"
# the bundled matrices: Zephyr v4.4 + openamp-system-reference (west.yml), and the
# samples only OpenAMP's staging fork has (west-staging.yml)
BUNDLED = (matrix.DEFAULT_MATRIX, matrix.STAGING_MATRIX)
# the west projects whose samples they build (west.yml / west-staging.yml)
SAMPLE_PROJECTS = ("zephyr/samples/", "openamp-system-reference/examples/zephyr/")


def write(tmp_path, text, name="m.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


ENTRY = """\
version: 1
system-dir: {sysdir}
entries:
  - sample: zephyr/samples/subsys/ipc/openamp_rsc_table
    board: kv260_r5
    system: kv260-rpmsg.yaml
    domain: rpu0
"""


# -- the bundled matrix -----------------------------------------------------------

def test_bundled_matrix_loads():
    m = matrix.load()
    assert m.path == matrix.DEFAULT_MATRIX
    for path in BUNDLED:
        m = matrix.load(path)
        assert len(m.jobs) >= 3
        assert len({j.id for j in m.jobs}) == len(m.jobs)
        for j in m.jobs:
            assert j.system.is_file(), j
            assert not Path(j.sample).is_absolute()
            assert j.sample.startswith(SAMPLE_PROJECTS), j.sample
    # what Zephyr v4.4.0 lacks is only in the staging matrix
    assert not any(j.sample.startswith("zephyr/samples/virtio/") for j in matrix.load().jobs)


def test_bundled_matrix_builds_every_zephyr_domain_of_every_bundled_system():
    """Every Zephyr domain of systems/*.yaml is built by some entry of the bundled
    matrices, for the board the system targets: a new bundled system needs its entries
    in matrix/amp-matrix.yaml (or amp-matrix-staging.yaml for staging-only samples)."""
    jobs = [j for path in BUNDLED for j in matrix.load(path).jobs]
    built = {(j.system.resolve(), j.domain): j for j in jobs}
    missing = []
    for path in SYSTEMS:
        layout = json.loads(config.configure(path).files["layout.json"])
        for name, dom in sorted(layout["domains"].items()):
            if dom["os"] != "zephyr":
                continue
            job = built.get((path.resolve(), name))
            if job is None:
                missing.append(f"{path.name}:{name}")
                continue
            assert job.board_name == dom["target"].split("/")[0], job
    assert not missing, f"no entry of the bundled matrices builds {', '.join(missing)}"


def test_bundled_matrix_names_only_bundled_systems():
    for path in BUNDLED:
        assert {j.system.resolve() for j in matrix.load(path).jobs} <= \
            {p.resolve() for p in SYSTEMS}


# -- what a matrix file may not say ------------------------------------------------

INVALID = [
    ("version",
     "version: 2\nentries: []\n",
     "m.yaml:1:10: version: version 2 is not known; this amp-build reads version: 1"),
    ("missing key",
     ENTRY.replace("    domain: rpu0\n", ""),
     "m.yaml:4:5: entries[0].domain: required key 'domain' is missing; add it"),
    ("unknown key",
     ENTRY.replace("    domain: rpu0\n", "    domain: rpu0\n    extra_conf: [a.conf]\n"),
     "m.yaml:8:5: entries[0].extra_conf: unknown key 'extra_conf'; did you mean 'extra-conf'?"),
    ("wrong type",
     ENTRY.replace("  - sample: zephyr/samples/subsys/ipc/openamp_rsc_table",
                   "  - samples: zephyr/samples/subsys/ipc/openamp_rsc_table"),
     ("m.yaml:4:14: entries[0].samples: expected a list, got "
     "'zephyr/samples/subsys/ipc/openamp_rsc_table'")),
    ("expect run",
     ENTRY + "    expect: {run: qemu2}\n",
     "m.yaml:8:19: entries[0].expect.run: 'qemu2' is not allowed; did you mean 'qemu'?"),
    ("duplicate key",
     ENTRY.replace("    domain: rpu0\n", "    domain: rpu0\n    board: qemu_cortex_r5\n"),
     "m.yaml:8:5: entries[0].board: duplicate key (first given on line 5); give each key once"),
    ("no entries",
     "version: 1\nentries: []\n",
     "m.yaml:2:10: entries: the matrix has no entries; add one: sample, board, system, domain"),
    ("sample and samples",
     ENTRY.replace("    board:", "    samples: [zephyr/samples/x]\n    board:"),
     ("m.yaml:4:5: entries[0]: give either sample (one) or samples (a list); e.g. "
     "sample: zephyr/samples/subsys/ipc/openamp_rsc_table")),
    ("no sample",
     ENTRY.replace("  - sample: zephyr/samples/subsys/ipc/openamp_rsc_table\n    board:",
                   "  - board:"),
     "m.yaml:4:5: entries[0]: give either sample (one) or samples (a list)"),
    ("absolute sample",
     ENTRY.replace("sample: zephyr/", "sample: /zephyr/"),
     ("m.yaml:4:13: entries[0].sample: '/zephyr/samples/subsys/ipc/openamp_rsc_table' is not a "
     "path inside the west workspace; write it relative to the workspace, e.g. "
     "zephyr/samples/virtio/entropy")),
    ("escaping sample",
     ENTRY.replace("sample: zephyr/", "sample: ../zephyr/"),
     ("m.yaml:4:13: entries[0].sample: '../zephyr/samples/subsys/ipc/openamp_rsc_table' is not "
     "a path inside the west workspace")),
    ("board with a space",
     ENTRY.replace("board: kv260_r5", "board: kv260 r5"),
     ("m.yaml:5:12: entries[0].board: 'kv260 r5' is not a board target; write it as west build "
     "-b takes it, e.g. kv260_r5")),
    ("system file",
     ENTRY.replace("kv260-rpmsg.yaml", "kv260-rpmsg.yml"),
     ("m.yaml:6:13: entries[0].system: no such file: {sysdir}/kv260-rpmsg.yml; did you mean "
     "'kv260-rpmsg.yaml'?")),
    ("system dir",
     ENTRY.replace("system-dir: {sysdir}", "system-dir: nowhere"),
     ("m.yaml:2:13: system-dir: no such directory: {tmp}/nowhere; give a directory relative to "
     "the matrix file")),
    ("extra conf file",
     ENTRY + "    extra-conf: [missing.conf]\n",
     ("m.yaml:8:18: entries[0].extra-conf[0]: no such file: {tmp}/missing.conf; paths are "
     "relative to the matrix file")),
    ("own cmake var",
     ENTRY + "    cmake-args: [-DEXTRA_CONF_FILE=x.conf]\n",
     ("m.yaml:8:18: entries[0].cmake-args[0]: -DEXTRA_CONF_FILE is set by amp-build; list the "
     "file under extra-conf")),
    ("name for many",
     ENTRY.replace("  - sample: zephyr/samples/subsys/ipc/openamp_rsc_table",
                   "  - samples: [zephyr/samples/a, zephyr/samples/b]\n    name: both"),
     ("m.yaml:5:11: entries[0].name: one name cannot name 2 builds; split the entry, or drop "
     "name to get one id per sample")),
    ("bad name",
     ENTRY + "    name: amp\n",
     ("m.yaml:8:11: entries[0].name: 'amp' cannot name a build directory; use letters, digits, "
     "'.', '_' and '-', not 'amp'")),
    ("same build twice",
     ENTRY + "  - samples: [zephyr/samples/b, zephyr/samples/subsys/ipc/openamp_rsc_table]\n"
             "    board: kv260_r5\n    system: kv260-rpmsg.yaml\n    domain: rpu0\n",
     ("m.yaml:8:5: entries[1]: build 'kv260_r5-openamp_rsc_table-kv260-rpmsg-rpu0' is already "
     "defined by the entry on line 4; remove one, or give this entry its own name")),
    ("not a map",
     "- a\n- b\n",
     "m.yaml:1:1: a matrix file is a map with version and entries; start from"),
]


@pytest.mark.parametrize("case", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_matrix(case, tmp_path, monkeypatch):
    _, text, message = case
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, text.replace("{sysdir}", str(SYSDIR)))
    with pytest.raises(InputError) as exc:
        matrix.load(path)
    expected = message.replace("{sysdir}", str(SYSDIR)).replace("{tmp}", str(tmp_path))
    assert str(exc.value).startswith(expected), str(exc.value)


@pytest.mark.parametrize("case", INVALID, ids=[c[0] for c in INVALID])
def test_quick_schema_check_never_passes_what_pykwalify_refuses(case, tmp_path):
    """matrix._fits() lets a matrix skip pykwalify: it must refuse every document
    pykwalify refuses (it may refuse more: pykwalify then decides)."""
    from zephyr_amp import schema
    from zephyr_amp.source import Source
    path = write(tmp_path, case[1].replace("{sysdir}", str(SYSDIR)))
    try:
        src = Source(path)
    except InputError:
        return                                      # not YAML: no schema involved
    try:
        schema.check(src, "matrix")
    except InputError:
        assert not matrix._fits(src.data, matrix._schema()), case[0]


def test_quick_schema_check_passes_the_bundled_matrix_without_pykwalify():
    from zephyr_amp.source import Source
    src = Source(matrix.DEFAULT_MATRIX)
    assert matrix._fits(src.data, matrix._schema())
    assert matrix._schema() == __import__("zephyr_amp.schema").schema.load_schema("matrix")


def test_a_good_matrix_expands_samples_and_resolves_paths(tmp_path, monkeypatch):
    # a file outside the working folder is named by its whole path (one inside it by
    # the relative one): work from a folder that does not hold it, whatever pytest's is
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    (tmp_path / "extra.conf").write_text("CONFIG_X=y\n")
    path = write(tmp_path, ENTRY.format(sysdir=SYSDIR).replace(
        "  - sample: zephyr/samples/subsys/ipc/openamp_rsc_table",
        "  - samples: [zephyr/samples/virtio/entropy, zephyr/samples/virtio/net/DHCP/]") +
        "    extra-conf: [extra.conf]\n    cmake-args: [-DCONFIG_DEBUG=y]\n"
        "    expect: {run: qemu, console: ['ok$'], timeout: 30}\n")
    jobs = matrix.load(path).jobs
    assert [j.id for j in jobs] == ["kv260_r5-entropy-kv260-rpmsg-rpu0",
                                    "kv260_r5-DHCP-kv260-rpmsg-rpu0"]
    assert jobs[1].sample == "zephyr/samples/virtio/net/DHCP"
    assert jobs[0].system == (SYSDIR / "kv260-rpmsg.yaml").resolve()
    assert jobs[0].extra_conf == ((tmp_path / "extra.conf").resolve(),)
    assert jobs[0].cmake_args == ("-DCONFIG_DEBUG=y",)
    assert dict(jobs[0].expect) == {"run": "qemu", "console": ("ok$",), "timeout": 30}
    assert jobs[0].where == f"{path}:4"


# -- selection ------------------------------------------------------------------

def job(board, sample, system="kv260-rpmsg", domain="rpu0", name=None):
    path = Path("/systems") / f"{system}.yaml"
    return matrix.BuildJob(name or matrix.default_id(board, sample, system, domain), sample,
                           board, path, domain)


JOBS = [
    job("kv260_r5/zynqmp_rpu", "zephyr/samples/subsys/ipc/openamp_rsc_table"),
    job("kv260_r5", "zephyr/samples/subsys/ipc/openamp_rsc_table", "kv260-split-rpmsg", "rpu1"),
    job("qemu_cortex_a53", "zephyr/samples/virtio/entropy", "qemu-a53-virtio", "a53"),
    job("qemu_cortex_a53", "zephyr/samples/virtio/net/DHCP", "qemu-a53-virtio", "a53"),
    job("qemu_cortex_r5", "zephyr/samples/virtio/hvl_net_rng_reloc", "qemu-r5-hvl", "r5"),
]


@pytest.mark.parametrize("kwargs, expected", [
    ({}, [0, 1, 2, 3, 4]),
    ({"boards": ["kv260_r5"]}, [0, 1]),                      # qualifiers are optional
    ({"boards": ["kv260_r5/zynqmp_rpu"]}, [0]),
    ({"boards": ["qemu_cortex_a53", "qemu_cortex_r5"]}, [2, 3, 4]),
    ({"samples": ["openamp_rsc_table"]}, [0, 1]),           # a trailing part of the path
    ({"samples": ["zephyr/samples/virtio/*"]}, [2, 3, 4]),  # a glob
    ({"samples": ["net/DHCP/"]}, [3]),
    ({"systems": ["qemu-a53-virtio"]}, [2, 3]),
    ({"systems": ["kv260-split-rpmsg.yaml"]}, [1]),
    ({"boards": ["qemu_cortex_a53"], "samples": ["entropy", "hvl_net_rng_reloc"]}, [2]),
])
def test_select(kwargs, expected):
    assert matrix.select(JOBS, **kwargs) == [JOBS[i] for i in expected]


@pytest.mark.parametrize("kwargs, message", [
    ({"boards": ["kv260"]}, ("--board kv260 matches no entry of the matrix; did you mean "
                            "'kv260_r5'?")),
    ({"samples": ["nope"]}, ("--sample nope matches no entry of the matrix; the matrix has: "
                            "zephyr/samples/subsys/ipc/openamp_rsc_table, ")),
    ({"systems": ["qemu-a53-virtoi"]}, ("--only-system qemu-a53-virtoi matches no entry of "
                                       "the matrix; did you mean 'qemu-a53-virtio'?")),
])
def test_select_refuses_a_filter_that_matches_nothing(kwargs, message):
    with pytest.raises(matrix.OptionError) as exc:
        matrix.select(JOBS, **kwargs)
    assert str(exc.value).startswith(message)
    assert exc.value.exit_code == 1                 # the user's error, not "could not run"


# -- shards ---------------------------------------------------------------------

MANY = [job(b, f"zephyr/samples/s{i}") for i, b in
        zip(range(11), itertools.cycle(["kv260_r5", "qemu_cortex_a53", "qemu_cortex_r5"]))]


@pytest.mark.parametrize("total", [1, 2, 3, 4, 5, 11, 13])
def test_shards_cover_every_job_once_and_are_balanced(total):
    shares = [matrix.shard(MANY, i, total) for i in range(1, total + 1)]
    ids = [j.id for share in shares for j in share]
    assert sorted(ids) == sorted(j.id for j in MANY)      # every job, exactly once
    sizes = [len(s) for s in shares]
    assert max(sizes) - min(sizes) <= 1, sizes              # balanced
    for share in shares:                                    # order of the matrix kept
        assert share == [j for j in MANY if j in share]


def test_shards_do_not_depend_on_the_order_given():
    shuffled = MANY[:]
    random.Random(5).shuffle(shuffled)
    for i in range(1, 5):
        assert {j.id for j in matrix.shard(MANY, i, 4)} == \
               {j.id for j in matrix.shard(shuffled, i, 4)}


@pytest.mark.parametrize("text, expected", [("1/4", (1, 4)), (" 4 / 4 ", (4, 4)),
                                            ("1/1", (1, 1))])
def test_parse_shard(text, expected):
    assert matrix.parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "1of4", "", "-1/4", "a/b"])
def test_parse_shard_refuses(text):
    with pytest.raises(matrix.OptionError) as exc:
        matrix.parse_shard(text)
    assert str(exc.value) == (f"--shard {text}: expected I/N with 1 <= I <= N, "
                              "e.g. --shard 1/4")


# -- the GitHub Actions matrix -------------------------------------------------

def test_github_matrix_is_what_strategy_matrix_takes():
    doc = json.loads(json.dumps(matrix.github_matrix(MANY, 4)))
    assert list(doc) == ["include"]
    include = doc["include"]
    assert [e["shard"] for e in include] == ["1/4", "2/4", "3/4", "4/4"]
    for e in include:
        # strategy.matrix include entries: flat maps of scalars
        assert all(isinstance(v, (str, int)) for v in e.values()), e
        assert e["count"] == len(e["entries"].split())
    ids = [i for e in include for i in e["entries"].split()]
    assert sorted(ids) == sorted(j.id for j in MANY)
    assert doc["include"][1]["entries"].split() == [j.id for j in matrix.shard(MANY, 2, 4)]


def test_github_matrix_has_no_empty_shard():
    doc = matrix.github_matrix(MANY[:2], 4)
    assert [e["shard"] for e in doc["include"]] == ["1/2", "2/2"]
    with pytest.raises(matrix.OptionError):
        matrix.github_matrix([], 4)
    with pytest.raises(matrix.OptionError):
        matrix.github_matrix(MANY, 0)

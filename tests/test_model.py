"""Unit tests of the first stages: YAML source with positions, sizes, the validated model."""

import textwrap

import pytest

from conftest import REPO
from zephyr_amp import model, source
from zephyr_amp.errors import InputError
from zephyr_amp.links import base as link_base

# -- sizes ----------------------------------------------------------------------

@pytest.mark.parametrize("text,value", [
    (4096, 4096),
    (0, 0),
    ("4096", 4096),
    ("0x4000", 0x4000),
    ("0X4000", 0x4000),
    ("64K", 64 << 10),
    ("64k", 64 << 10),
    ("64KiB", 64 << 10),
    ("64 KB", 64 << 10),
    ("1M", 1 << 20),
    ("2G", 2 << 30),
    ("0x10K", 16 << 10),
    ("1_000", 1000),
    ("0x1_0000", 0x10000),
    ("010K", 10 << 10),          # decimal, not octal
    ("  8K  ", 8 << 10),
])
def test_parse_size(text, value):
    assert source.parse_size(text) == value


@pytest.mark.parametrize("text,why", [
    ("12 parsecs", "'12 parsecs' is not a size"),
    ("1.5M", "'1.5M' is not a size"),
    ("-4K", "'-4K' is not a size"),
    ("0x", "'0x' is not a size"),
    ("0x_", "'0x_' is not a size"),
    ("", "'' is not a size"),
    ("K", "'K' is not a size"),
    (-1, "-1 is negative"),
    (True, "expected a size, not true/false"),
    (1.5, "expected a size, not float 1.5"),
    (None, "expected a size, not NoneType None"),
])
def test_parse_size_refuses(text, why):
    with pytest.raises(ValueError) as e:
        source.parse_size(text)
    assert str(e.value) == why


def test_did_you_mean():
    assert source.did_you_mean("domians", ["domains", "links"]) == "did you mean 'domains'?"
    assert source.did_you_mean("xyz", ["domains", "links"]) == ""


def test_key_text():
    assert source.key_text(("links", 0, "vring", "num")) == "links[0].vring.num"
    assert source.key_text(()) == ""


# -- positions --------------------------------------------------------------------

def test_source_remembers_key_and_value_positions(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(textwrap.dedent("""\
        name: s
        links:
          - name: a
            vring:   {num: 8}
        """))
    src = source.Source(f)
    assert src.data == {"name": "s", "links": [{"name": "a", "vring": {"num": 8}}]}
    assert src.where(("links", 0, "vring", "num")) == (4, 20)
    assert src.where(("links", 0, "vring"), of_key=True) == (4, 5)
    assert src.where(("links", 0, "vring")) == (4, 14)
    assert src.where(("links", 0)) == (3, 5)
    # unknown paths fall back to the nearest known parent
    assert src.where(("links", 0, "vring", "align")) == (4, 14)
    e = src.error(("links", 0, "vring", "num"), "bad", "fix it")
    assert str(e) == f"{f}:4:20: links[0].vring.num: bad; fix it"
    assert (e.line, e.column, e.key) == (4, 20, "links[0].vring.num")


def test_source_display_name_is_what_errors_show(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("a: [1\n")
    with pytest.raises(InputError) as e:
        source.Source(f, display="shown.yaml")
    assert str(e.value).startswith("shown.yaml:2:1: YAML syntax error")


def test_aliases_are_expanded_with_their_own_paths(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("a: &x [1, 2]\nb: *x\n")
    src = source.Source(f)
    assert src.data == {"a": [1, 2], "b": [1, 2]}
    assert src.where(("b",)) == (1, 4)         # the anchored node's position


# -- the model of the bundled systems --------------------------------------------

def test_kv260_rpmsg_model():
    s = model.load_system(REPO / "systems" / "kv260-rpmsg.yaml")
    assert s.name == "kv260-rpmsg" and s.board.name == "kv260"
    linux, rpu0 = s.domains
    assert (linux.name, linux.os, linux.cores, linux.firmware) == \
        ("linux", "linux", ["a53_0", "a53_1", "a53_2", "a53_3"], None)
    assert (rpu0.os, rpu0.cores, rpu0.mode, rpu0.target, rpu0.arch) == \
        ("zephyr", ["r5_0"], "lockstep", "kv260_r5", "arm")
    assert rpu0.loader == "linux-remoteproc"
    assert rpu0.firmware == model.Firmware("tcm")
    assert rpu0.trace == 4096
    lk, = s.links
    assert (lk.type, lk.host, lk.remote, lk.vring_num, lk.vring_align) == \
        ("rpmsg", "linux", "rpu0", 8, 16)
    assert lk.buffer_count is None and lk.buffer_size == 512
    assert lk.mailbox == "rpu0_apu"


def test_kv260_split_model():
    s = model.load_system(REPO / "systems" / "kv260-split-rpmsg.yaml")
    assert [d.mode for d in s.domains] == [None, "split", "split"]
    assert [d.trace for d in s.domains] == [0, 2048, 2048]
    pool, = s.pools
    assert (pool.name, pool.memory, pool.base, pool.size) == ("ipc", "ddr_low", 0x3ed40000, None)
    assert [(lk.remote, lk.mailbox, lk.vring_num) for lk in s.links] == \
        [("rpu0", "rpu0_apu", 16), ("rpu1", "rpu1_apu", 16)]


def _load(tmp_path, text, name="s.yaml"):
    f = tmp_path / name
    f.write_text(textwrap.dedent(text))
    return model.load_system(f)


def test_defaults_come_from_the_board(tmp_path):
    s = _load(tmp_path, """\
        name: d
        board: kv260
        domains:
          - {name: r, os: zephyr, cores: [r5_0]}
        """)
    r, = s.domains
    assert (r.mode, r.target, r.firmware.memory) == ("lockstep", "kv260_r5", "tcm")


def test_lockstep_takes_the_second_core(tmp_path):
    with pytest.raises(InputError) as e:
        _load(tmp_path, """\
            name: d
            board: kv260
            domains:
              - {name: r, os: zephyr, cores: [r5_0], mode: lockstep}
              - {name: q, os: zephyr, cores: [r5_1], mode: split}
            """)
    assert "core r5_1 is already used by domain 'r'" in str(e.value)


def test_zephyr_to_zephyr_link_finds_the_rpu_mailbox(tmp_path):
    s = _load(tmp_path, """\
        name: z
        board: kv260
        domains:
          - {name: a, os: zephyr, cores: [r5_0], mode: split}
          - {name: b, os: zephyr, cores: [r5_1], mode: split}
        links:
          - {name: l, type: rpmsg, host: a, remote: b}
        """)
    # the link's mailbox is the remote's own (RPU1 kicks RPU0 through rpu1_rpu0)
    assert s.links[0].mailbox == "rpu1_rpu0"


def test_buffers_for_a_linux_host(tmp_path):
    base = """\
        name: b
        board: kv260
        domains:
          - {name: linux, os: linux, cores: [a53_0]}
          - {name: r, os: zephyr, cores: [r5_0]}
        links:
          - {name: l, type: rpmsg, host: linux, remote: r, vring: {num: 256}, buffers: %s}
        """
    # more than Linux takes is allowed (wasted, not broken); exactly 512 too
    assert _load(tmp_path, base % "{count: 600}").links[0].buffer_count == 600
    assert _load(tmp_path, base % "{count: 512}").links[0].buffer_count == 512
    with pytest.raises(InputError) as e:
        _load(tmp_path, base % "{count: 511}")
    assert "allocates 512 buffers for 256-entry vrings" in str(e.value)


def test_zephyr_host_may_size_its_own_pool(tmp_path):
    s = _load(tmp_path, """\
        name: z
        board: kv260
        domains:
          - {name: a, os: zephyr, cores: [r5_0], mode: split}
          - {name: b, os: zephyr, cores: [r5_1], mode: split}
        links:
          - {name: l, type: rpmsg, host: a, remote: b, buffers: {count: 4, size: 256}}
        """)
    assert (s.links[0].buffer_count, s.links[0].buffer_size) == (4, 256)


@pytest.mark.parametrize("n,pow2", [(1, True), (2, True), (8, True), (32768, True),
                                    (0, False), (3, False), (-8, False), (300, False)])
def test_is_pow2(n, pow2):
    assert link_base.is_pow2(n) is pow2


@pytest.mark.parametrize("n,near", [(300, 256), (400, 512), (3, 2), (5, 4), (0, 1), (-5, 1),
                                    (384, 256), (65536, 65536)])
def test_near_pow2(n, near):
    assert link_base.near_pow2(n) == near


def test_board_root_is_searched_first(tmp_path):
    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "kv260.yaml").write_text(textwrap.dedent("""\
        name: kv260
        page-size: 16K
        cores:
          - {name: m, cluster: c, cpu: cortex-m4, arch: arm, os: [zephyr], zephyr-target: t}
        memory:
          - {name: ram, kind: ddr, base: 0x20000000, size: 1M, shared: true}
        """))
    f = tmp_path / "s.yaml"
    f.write_text("name: s\nboard: kv260\ndomains:\n  - {name: m, os: zephyr, cores: [m]}\n")
    s = model.load_system(f, [boards])
    assert s.board.page_size == 16 << 10 and s.domains[0].target == "t"


LOCKSTEP_BY_DEFAULT = """\
    name: s
    board: kv260
    domains:
      - {name: rpu0, os: zephyr, cores: [r5_0]}
      - {name: rpu1, os: zephyr, cores: [r5_1], mode: split}
    """


def test_a_core_taken_by_a_default_lockstep_domain_says_so(tmp_path):
    """rpu0 lists only r5_0, but without mode: it is lockstep and takes r5_1 too."""
    with pytest.raises(InputError) as e:
        _load(tmp_path, LOCKSTEP_BY_DEFAULT)
    assert (e.value.line, e.value.column) == (5, 38)
    assert str(e.value).endswith(
        "domains[1].cores[0]: core r5_1 is already used by domain 'rpu0' (a domain without "
        "mode: is lockstep and takes both cores); write mode: split in domain 'rpu0'")


def test_a_default_lockstep_domain_after_a_split_one_says_so(tmp_path):
    text = LOCKSTEP_BY_DEFAULT.replace("rpu0, os: zephyr, cores: [r5_0]}",
                                       "rpu0, os: zephyr, cores: [r5_1], mode: split}")
    text = text.replace("rpu1, os: zephyr, cores: [r5_1], mode: split}",
                        "rpu1, os: zephyr, cores: [r5_0]}")
    with pytest.raises(InputError) as e:
        _load(tmp_path, text)
    assert "domain 'rpu1' gives no mode: and so is lockstep, which takes core r5_1, and " \
        "domain 'rpu0' uses it; write mode: split" in str(e.value)


def test_link_records_are_frozen():
    import dataclasses
    s = model.load_system(REPO / "systems" / "kv260-hvl.yaml")
    link = s.links[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        link.driver = "linux"
    with pytest.raises(dataclasses.FrozenInstanceError):
        link.devices[0].slot = 3
    assert s.board.virtio_mmio is None and s.board.mailboxes[0].linux.remote == "rpu0"

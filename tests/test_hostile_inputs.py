"""Hostile and careless input (issue 14): each case fails with one clear line naming the
file (and line, where there is one), the right exit code, no traceback, nothing written,
nothing touched outside the output directory.

CASES is the specification, one row per input, grouped by family:
  injection   names, targets and file names that would break out of C, DTS, Kconfig, shell
  output      -o pointing at the user's data, a link or a file
  traceback   inputs that crashed the tool (/dev/zero, FIFOs, directories, board values)
  resources   inputs that hung or exhausted memory (size, nesting, long names)
  numbers     YAML 1.1 octal and base-60 numbers, sizes at the edge of 64 bits
  messages    encodings and control characters that made messages multi-line or vague
Each row: (id, family, make, exit code, message, line). make(d) writes the input under
d and returns (system path, -o DIR); message is the text after "FILE:LINE:COLUMN: " (FILE
is the system file unless the row says {board}), or the whole text for an output error.
Rows in ROUND2 need changes in the model, layout, boards or templates (see
docs in the issue's closing note); they are strict xfails, so that each turns into a
failure -- and must move into CASES -- once it is fixed.
Most rows run through config.generate (what `west amp-config` calls); WEST_CASES run
the real command in a west workspace.
"""

import os
import subprocess
from pathlib import Path

import pytest
from conftest import REPO
from helpers import DATA, west_workspace  # noqa: F401
from zephyr_amp import config
from zephyr_amp.errors import AmpError, InputError

BASE = (REPO / "systems" / "kv260-rpmsg.yaml").read_text()
CARVEOUTS = (DATA / "valid" / "kv260-ddr-carveouts.yaml").read_text()
IVSHMEM = (REPO / "systems" / "qemu-a53-ivshmem.yaml").read_text()
KV260 = (REPO / "boards" / "kv260.yaml").read_text()
VIRTIO = (REPO / "systems" / "qemu-a53-virtio.yaml").read_text()
QEMU_A53 = (REPO / "boards" / "qemu_cortex_a53.yaml").read_text()
NAME_FIX = ("use lowercase letters, digits and '_' (or '-' in a system name), starting "
            "with a letter")
SIZE_FIX = "a system or board file is a few KiB; check that this is the right file"


def system(text, name="system.yaml", data=None):
    """make(): one system file (text, or raw bytes in data) with a default -o."""
    def make(d):
        path = d / name
        if data is not None:
            path.write_bytes(data)
        else:
            path.write_text(text, encoding="utf-8")
        return path, d / "out"
    return make


def edit(old, new, base=BASE, count=1, **kw):
    assert old in base, old
    return system(base.replace(old, new, count), **kw)


def special(kind):
    def make(d):
        path = d / "system.yaml"
        if kind == "dev-zero":
            path.symlink_to("/dev/zero")
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "dir":
            path.mkdir()
        return path, d / "out"
    return make


def with_board(board_text=None, kind=None):
    """A board root holding kv260.yaml: edited text, or a special file."""
    def make(d):
        root = d / "boards"
        root.mkdir()
        board = root / "kv260.yaml"
        if kind == "dev-zero":
            board.symlink_to("/dev/zero")
        elif kind == "dir":
            board.mkdir()
        else:
            board.write_text(board_text)
        path = d / "system.yaml"
        path.write_text(BASE)
        return path, d / "out"
    make.board_root = "boards"
    return make


def _qemu_binary_shell(d):
    root = d / "boards"
    root.mkdir()
    assert "binary: " in QEMU_A53
    text = "\n".join(line.split("binary:")[0] + 'binary: "qemu-system-aarch64; reboot"'
                     if "binary:" in line else line for line in QEMU_A53.splitlines())
    (root / "qemu_cortex_a53.yaml").write_text(text + "\n")
    (d / "system.yaml").write_text(IVSHMEM)
    return d / "system.yaml", d / "out"


_qemu_binary_shell.board_root = "boards"


def _fast_mode(d):
    """A board whose lock-step mode is called 'fast' and is the default: KeyError."""
    make = with_board(KV260.replace("      lockstep:", "      fast:", 1)
                      .replace("default-mode: lockstep", "default-mode: fast", 1))
    path, out = make(d)
    path.write_text(BASE.replace("    mode: lockstep\n", ""))
    return path, out


_fast_mode.board_root = "boards"


def board_edit(old, new):
    assert old in KV260, old
    return with_board(KV260.replace(old, new, 1))


def out_dir(setup):
    """make() for -o cases: the bundled system, -o DIR prepared by setup(d)."""
    def make(d):
        path = d / "system.yaml"
        path.write_text(BASE)
        return path, setup(d)
    return make


def _user_folder(d):
    out = d / "mine"
    out.mkdir()
    (out / "layout.json").write_text('{"format": "zephyr-amp-layout", "version": 1}\n')
    (out / "thesis.tex").write_text("three years of work\n")
    return out


def _link(d):
    (d / "real").mkdir()
    (d / "out").symlink_to(d / "real")
    return d / "out"


def _file(d):
    (d / "out").write_text("not a directory\n")
    return d / "out"


def _board_not_utf8(d):
    root = d / "boards"
    root.mkdir()
    (root / "kv260.yaml").write_bytes(KV260.replace("name: kv260", "name: kv260\xe9", 1)
                                      .encode("latin-1"))
    (d / "system.yaml").write_text(BASE)
    return d / "system.yaml", d / "out"


_board_not_utf8.board_root = "boards"


def _bad_bytes(text, old, new):
    return text.encode().replace(old.encode(), new, 1)


LONG = "r" * 300
CASES = [
    # -- injection --------------------------------------------------------------------
    ("system-name-newline-config", "injection",
     edit("name: kv260-rpmsg", 'name: "kv260-rpmsg\\nCONFIG_EVIL=y"'), 1,
     f"name: 'kv260-rpmsg\\nCONFIG_EVIL=y' is not a valid name; {NAME_FIX}", 5),
    ("system-name-trailing-newline", "injection",
     edit("name: kv260-rpmsg", 'name: "kv260-rpmsg\\n"'), 1,
     f"name: 'kv260-rpmsg\\n' is not a valid name; {NAME_FIX}", 5),
    ("system-name-block-scalar", "injection",
     edit("name: kv260-rpmsg", "name: |\n  kv260-rpmsg"), 1,
     f"name: 'kv260-rpmsg\\n' is not a valid name; {NAME_FIX}", 5),
    ("domain-name-trailing-newline", "injection",
     edit("name: rpu0", 'name: "rpu0\\n"'), 1,
     f"domains[1].name: 'rpu0\\n' is not a valid name; {NAME_FIX}", 14),
    ("domain-name-shell", "injection",
     edit("name: rpu0", 'name: "rpu0\\n$(reboot)"'), 1,
     f"domains[1].name: 'rpu0\\n$(reboot)' is not a valid name; {NAME_FIX}", 14),
    ("domain-name-leading-newline", "injection",
     edit("name: rpu0", 'name: "\\nrpu0"'), 1,
     f"domains[1].name: '\\nrpu0' is not a valid name; {NAME_FIX}", 14),
    ("domain-name-c-comment", "injection",
     edit("name: rpu0", 'name: "rpu0 */ int x; /*"'), 1,
     f"domains[1].name: 'rpu0 */ int x; /*' is not a valid name; {NAME_FIX}", 14),
    ("domain-name-path", "injection",
     edit("name: rpu0", "name: ../../etc"), 1,
     f"domains[1].name: '../../etc' is not a valid name; {NAME_FIX}", 14),
    ("link-name-trailing-newline", "injection",
     edit("name: rpmsg0", 'name: "rpmsg0\\n"'), 1,
     f"links[0].name: 'rpmsg0\\n' is not a valid name; {NAME_FIX}", 24),
    ("carveout-name-trailing-newline", "injection",
     edit("name: dma", 'name: "dma\\n"', base=CARVEOUTS), 1,
     f"domains[1].carveouts[0].name: 'dma\\n' is not a valid name; {NAME_FIX}", 18),
    ("board-name-trailing-newline", "injection",
     edit("board: kv260", 'board: "kv260\\n"'), 1,
     f"board: 'kv260\\n' is not a valid name; {NAME_FIX}", 6),
    ("file-name-newline", "injection",
     system(BASE, name="evil\nCONFIG_EVIL=y.yaml"), 1,
     "the file name holds control character \\n; rename the file", 0),
    ("file-name-not-utf8", "injection",
     system(BASE, name=os.fsdecode(b"bad\xff.yaml")), 1,
     "the file name is not UTF-8; rename the file", 0),
    ("file-name-escape", "injection",
     system(BASE, name="\x1b[2Jclear.yaml"), 1,
     "the file name holds control character \\x1b; rename the file", 0),
    # -- output safety ----------------------------------------------------------------------
    ("out-user-folder-with-layout-json", "output", out_dir(_user_folder), 2,
     ("{out} is not empty and was not written by west amp-config (it holds thesis.tex); "
     "choose another -o DIR"), None),
    ("out-symlink", "output", out_dir(_link), 2,
     ("{out} is a symbolic link to {real}; amp-config replaces its output directory whole "
     "and does not follow links; give -o {real} (the directory itself) or another DIR"),
     None),
    ("out-is-a-file", "output", out_dir(_file), 2,
     "{out} exists and is not a directory; choose another -o", None),
    # -- tracebacks -----------------------------------------------------------------------
    ("system-is-dev-zero", "traceback", special("dev-zero"), 1,
     "is a character device, not a regular file; give the path of a .yaml file", 0),
    ("system-is-fifo", "traceback", special("fifo"), 1,
     "is a FIFO (named pipe), not a regular file; give the path of a .yaml file", 0),
    ("system-is-directory", "traceback", special("dir"), 1,
     "is a directory, not a YAML file; give the path of a .yaml file", 0),
    ("board-not-utf8", "traceback", _board_not_utf8, 1,
     "{board}:5:12: not UTF-8 text: byte 0xe9, '\xe9' in Latin-1; save the file as UTF-8",
     None),
    # -- resources ------------------------------------------------------------------------
    ("flow-list-20mb", "resources",
     system(BASE + "extra: [" + ",".join(["1"] * 10_000_000) + "]\n"), 1,
     f"the file is larger than 256 KiB, the most amp-config reads; {SIZE_FIX}", 0),
    ("flow-nesting-150", "resources",
     edit("description: Linux", "description: " + "[" * 150 + "]" * 150 + "\n# Linux"), 1,
     ("YAML nested more than 100 levels deep; a system file needs a few levels of maps and "
     "lists"), 7),
    ("block-nesting-120", "resources",
     system(BASE + "".join("  " * i + f"k{i}:\n" for i in range(120)) + "  " * 120 + "x: 1\n"),
     1, ("YAML nested more than 100 levels deep; a system file needs a few levels of maps "
     "and lists"), 132),
    ("flow-list-120k-values", "resources",
     edit("description: Linux", "description: [" + ",".join(["1"] * 120_000) + "]\n# Linux"),
     1, "description: expected a string, got a list", 7),
    ("name-1mb-clipped", "resources",
     edit("name: rpu0", "name: R" + "r" * 200_000), 1,
     "domains[1].name: 'R" + "r" * 59 + "... (200001 characters)' is not a valid name; "
     + NAME_FIX, 14),
    # -- numbers --------------------------------------------------------------------------
    ("trace-octal", "numbers", edit("trace: 4K", "trace: 010000"), 1,
     ("domains[1].trace: 010000 is an octal number in YAML 1.1 (4096); amp-config reads "
     "numbers as decimal; write 10000 for decimal 10000, or 0x1000 for 4096"), 21),
    ("vring-num-octal", "numbers", edit("num: 8 ", "num: 010"), 1,
     ("links[0].vring.num: 010 is an octal number in YAML 1.1 (8); amp-config reads numbers "
     "as decimal; write 10 for decimal 10, or 0x8 for 8"), 29),
    ("trace-base60", "numbers", edit("trace: 4K", "trace: 1:30"), 1,
     ("domains[1].trace: 1:30 is a base-60 number in YAML 1.1 (90); quote it ('1:30') if it "
     "is text, or write 90"), 21),
    ("align-base60-float", "numbers", edit("align: 16", "align: 1:30.5"), 1,
     ("links[0].vring.align: 1:30.5 is a base-60 number in YAML 1.1 (90.5); quote it "
     "('1:30.5') if it is text, or write 90.5"), 30),
    ("key-octal", "numbers", edit("trace: 4K", "trace: 4K\n    0777: x"), 1,
     ("domains[1]: 0777 is an octal number in YAML 1.1 (511); amp-config reads numbers as "
     "decimal; write 777 for decimal 777, or 0x1ff for 511"), 22),
    ("virtio-queue-size-above-vring-max", "numbers",
     edit("queue-size: 256", "queue-size: 65536", base=VIRTIO), 1,
     "links[0].devices[0].queue-size: 65536 is not a power of two up to 32768; use 32768", 26),
    ("size-2-64-minus-1-no-negative", "numbers",
     edit("trace: 4K", "trace: 4K\n\nshared-memory:\n  - {name: ipc, base: 0x3ed00000, "
          "size: 0xffffffffffffffff}"), 1,
     ("shared-memory[0].base: shared memory ipc [0x3ed00000, 0x1000000003ecfffff) is outside "
     "ddr_low [0x0, 0x80000000); give a base between 0x0 and (below address 0)"), 24),
    # -- messages -------------------------------------------------------------------------
    ("latin1", "messages", system(None, data=_bad_bytes(BASE, "trace buffer", b"caf\xe9")), 1,
     "not UTF-8 text: byte 0xe9, '\xe9' in Latin-1; save the file as UTF-8", 3),
    ("windows-1252", "messages", system(None, data=_bad_bytes(BASE, "rpmsg, with", b"\x93a\x94")),
     1, "not UTF-8 text: byte 0x93, a Windows-1252 character; save the file as UTF-8", 7),
    ("truncated-utf8", "messages", system(None, data=BASE.encode() + b"# \xe2\x82"), 1,
     "not UTF-8 text: byte 0xe2, '\xe2' in Latin-1; save the file as UTF-8", 31),
    ("utf16-bom", "messages", system(None, data=BASE.encode("utf-16")), 1,
     ("the file is UTF-16 text (it starts with a UTF-16 byte-order mark); amp-config reads "
     "UTF-8; save it as UTF-8"), 1),
    ("utf16-no-bom", "messages", system(None, data=BASE.encode("utf-16-le")), 1,
     ("the file looks like UTF-16 or UTF-32 text (every other byte is 0); amp-config reads "
     "UTF-8; save it as UTF-8"), 1),
    ("utf32-bom", "messages", system(None, data=BASE.encode("utf-32")), 1,
     ("the file is UTF-32 text (it starts with a UTF-32 byte-order mark); amp-config reads "
     "UTF-8; save it as UTF-8"), 1),
    ("nul-in-name", "messages", edit("name: rpu0", "name: rp\x00u0"), 1,
     "control character \\x00 (U+0000) is not allowed in YAML; remove it", 14),
    ("escape-sequence", "messages", edit("description: Linux", "description: \x1b[31mLinux"),
     1, "control character \\x1b (U+001B) is not allowed in YAML; remove it", 7),
    ("del-character", "messages", edit("cores: [r5_0]", "cores: [r5_0\x7f]"), 1,
     "control character \\x7f (U+007F) is not allowed in YAML; remove it", 16),
    ("bidi-override-in-name", "messages", edit("name: rpu0", "name: rpu0\u202e"), 1,
     f"domains[1].name: 'rpu0\\u202e' is not a valid name; {NAME_FIX}", 14),
    ("tab-in-name", "messages", edit("name: rpu0", 'name: "rpu0\\t"'), 1,
     f"domains[1].name: 'rpu0\\t' is not a valid name; {NAME_FIX}", 14),
]
def _snapshot(root):
    return sorted((p.relative_to(root).as_posix(), p.is_symlink(), p.is_dir())
                  for p in Path(root).rglob("*"))


def _expected(message, out, d):
    """The whole text of a row whose message starts with {out} or {board}."""
    return message.replace("{out}", str(out)).replace("{real}", str(d / "real")) \
        .replace("{board}", str(d / "boards" / "kv260.yaml"))


def _run(make, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    path, out = make(d)
    roots = [d / make.board_root] if hasattr(make, "board_root") else []
    before = _snapshot(tmp_path)
    with pytest.raises(AmpError) as e:
        config.generate(path, out, board_roots=roots)
    assert _snapshot(tmp_path) == before, "something was written or removed"
    return path, out, d, e.value


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_input(case, tmp_path):
    _id, _family, make, code, message, line = case
    path, out, d, err = _run(make, tmp_path)
    text = str(err)
    assert "\n" not in text and "Traceback" not in text
    assert err.exit_code == code
    if message.startswith(("{out}", "{board}")):
        assert text == _expected(message, out, d)
        return
    assert isinstance(err, InputError)
    assert err.file == str(path) and err.line == line, text
    where = f"{_shown(path)}:{line}:{err.column}: " if line else f"{_shown(path)}: "
    assert text == where + message


def _shown(path):
    from zephyr_amp.errors import shown
    return shown(path)


def test_families_are_covered():
    families = {}
    for case in CASES:
        families[case[1]] = families.get(case[1], 0) + 1
    assert set(families) == {"injection", "output", "traceback", "resources", "numbers",
                             "messages"}
    assert len(CASES) >= 40, families


# -- what a second round must fix (model, layout, boards, templates) ------------------------

ROUND2 = [
    # boards.find_board_file() skips a board-root entry that is not a regular file and
    # falls back to the bundled board: it should return it, so that Source refuses it
    ("board-is-dev-zero", "traceback", with_board(kind="dev-zero"), 1,
     "{board}: is a character device, not a regular file; give the path of a .yaml file", None),
    ("board-is-directory", "traceback", with_board(kind="dir"), 1,
     "{board}: is a directory, not a YAML file; give the path of a .yaml file", None),
    ("target-newline", "injection",
     edit("target: kv260_r5", 'target: "kv260_r5\\nCONFIG_EVIL=y"'), 1,
     "domains[1].target: 'kv260_r5\\nCONFIG_EVIL=y' is not a valid Zephyr board target", 18),
    ("carveout-name-40", "injection",
     edit("name: dma", "name: " + "d" * 40, base=CARVEOUTS), 1,
     "domains[1].carveouts[0].name: '" + "d" * 40 + "' is 40 characters long", 18),
    ("domain-name-300", "resources", edit("rpu0", LONG, count=-1), 1,
     f"domains[1].name: '{LONG[:60]}... (300 characters)' is 300 characters long", 14),
    ("board-page-size-zero", "traceback", board_edit("page-size: 4K", "page-size: 0"), 1,
     "{board}", None),
    ("board-core-name-newline", "injection",
     board_edit("name: r5_0,", 'name: "r5_0\\n",'), 1, "{board}", None),
    ("board-mode-not-in-set", "traceback", _fast_mode, 1, "{board}", None),
    ("virtio-queue-size-beyond-device-max", "numbers",
     edit("queue-size: 256", "queue-size: 2048", base=VIRTIO), 1, "queue-size", 26),
    ("board-qemu-binary-shell", "injection", _qemu_binary_shell, 1, "{qboard}", None),
    ("ivshmem-size-2-63", "numbers", edit("size: 4M", "size: 0x8000000000000000",
                                          base=IVSHMEM), 1, "links[0].size", 25),
]


@pytest.mark.parametrize("case", ROUND2, ids=[c[0] for c in ROUND2])
@pytest.mark.xfail(strict=True, reason="needs model/layout/boards changes (issue 14, round 2)")
def test_round2(case, tmp_path):
    _id, _family, make, code, message, line = case
    d = tmp_path / "in"
    d.mkdir()
    path, out = make(d)
    roots = [d / make.board_root] if hasattr(make, "board_root") else []
    try:
        config.generate(path, out, board_roots=roots)
    except AmpError as e:
        text = str(e)
        assert e.exit_code == code and "\n" not in text
        if message.startswith(("{board}", "{qboard}")):
            board = "kv260" if message.startswith("{board}") else "qemu_cortex_a53"
            assert text.startswith(str(d / "boards" / f"{board}.yaml") + ":"), text
        else:
            assert getattr(e, "line", None) == line and message in text, text
        return
    pytest.fail("accepted")


def test_file_name_starting_with_dashes_gives_valid_svg(tmp_path):
    """A system file named --x.yaml: its name goes into an XML comment of memory-map.svg."""
    import xml.etree.ElementTree as ET
    path = tmp_path / "--x--.yaml"
    path.write_text(BASE)
    config.generate(path, tmp_path / "out")
    ET.parse(tmp_path / "out" / "memory-map.svg")


test_file_name_starting_with_dashes_gives_valid_svg = pytest.mark.xfail(
    strict=True, reason="memmap.svg must use names.comment(text, 'xml') (round 2)")(
    test_file_name_starting_with_dashes_gives_valid_svg)


# -- through the real command ---------------------------------------------------------------

WEST_CASES = ["system-name-trailing-newline", "domain-name-shell", "file-name-newline",
              "out-user-folder-with-layout-json", "out-symlink", "system-is-dev-zero",
              "system-is-fifo", "flow-list-20mb", "trace-octal", "latin1", "utf16-bom",
              "nul-in-name"]


@pytest.mark.parametrize("name", WEST_CASES)
def test_through_west(name, west_workspace, tmp_path):  # noqa: F811
    manifest, env = west_workspace
    _id, _family, make, code, message, line = next(c for c in CASES if c[0] == name)
    d = tmp_path / "in"
    d.mkdir()
    path, out = make(d)
    before = _snapshot(tmp_path)
    res = subprocess.run(["west", "amp-config", os.fsencode(path), "-o", str(out)],
                         cwd=manifest, env=env, capture_output=True, timeout=120,
                         check=False)
    stderr = res.stderr.decode("utf-8", "replace")
    assert res.returncode == code, stderr
    assert "Traceback" not in stderr + res.stdout.decode("utf-8", "replace")
    assert len(stderr.strip().splitlines()) == 1, stderr
    if message.startswith("{out}"):
        want = _expected(message, out, d)
    else:
        shown = _shown(path)
        where = f"{shown}:{line}:" if line else f"{shown}: "
        assert stderr.startswith(f"FATAL ERROR: {where}"), stderr
        want = message
    assert stderr.rstrip("\n").endswith(want), stderr
    assert _snapshot(tmp_path) == before, "something was written or removed"

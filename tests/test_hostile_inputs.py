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
d and returns (system path, -o DIR); message is the text after "FILE:LINE:COLUMN: " of
the system file, or, when line is None, the whole text ({board} and {qboard}: the board
root's kv260.yaml and qemu_cortex_a53.yaml; {out}, {real}, {d}: the paths of the row).
ROUND1 rows needed only source, names, errors, schema and output; ROUND2 rows needed
the model, boards, layout and link kinds too (its first 11 were round 1's xfails).
Most rows run through config.generate (what `west amp-config` calls); WEST_CASES run
the real command in a west workspace.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, need_tool
from helpers import ALL_SYSTEMS, DATA, system_id, west_workspace  # noqa: F401
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


def qboard_edit(old, new, system_text=IVSHMEM):
    """A board root holding an edited qemu_cortex_a53.yaml, and a system on it."""
    assert old in QEMU_A53, old

    def make(d):
        root = d / "boards"
        root.mkdir()
        (root / "qemu_cortex_a53.yaml").write_text(QEMU_A53.replace(old, new, 1))
        (d / "system.yaml").write_text(system_text)
        return d / "system.yaml", d / "out"
    make.board_root = "boards"
    return make


def board_special(kind):
    """A board root whose kv260.yaml is a FIFO, a dangling link or a link loop."""
    def make(d):
        root = d / "boards"
        root.mkdir()
        board = root / "kv260.yaml"
        if kind == "fifo":
            os.mkfifo(board)
        elif kind == "dangling":
            board.symlink_to(root / "gone.yaml")
        elif kind == "loop":
            board.symlink_to(board)
        (d / "system.yaml").write_text(BASE)
        return d / "system.yaml", d / "out"
    make.board_root = "boards"
    return make


def _without_split(text):
    """kv260.yaml with only its lock-step mode, and split as the default."""
    start, end = text.index("      split:\n"), text.index("      lockstep:\n")
    return (text[:start] + text[end:]).replace("default-mode: lockstep", "default-mode: split")


def board_data(data):
    """A board root whose kv260.yaml holds these bytes."""
    def make(d):
        root = d / "boards"
        root.mkdir()
        (root / "kv260.yaml").write_bytes(data)
        (d / "system.yaml").write_text(BASE)
        return d / "system.yaml", d / "out"
    make.board_root = "boards"
    return make


def _system_loop(d):
    path = d / "system.yaml"
    path.symlink_to(path)
    return path, d / "out"


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


def _dangling(d):
    (d / "out").symlink_to(d / "nowhere")
    return d / "out"


def _parent_is_file(d):
    (d / "file").write_text("x\n")
    return d / "file" / "out"


def _notes_only(d):
    out = d / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    return out


def _legacy_with_link(d):
    """An old output (layout.json of the right format) that now holds a link to
    the user's files: the link is not amp-config's, so the folder is not replaced."""
    out = d / "old"
    out.mkdir()
    (out / "layout.json").write_text('{"format": "zephyr-amp-layout", "version": 1}\n')
    (d / "home").mkdir()
    (out / "rpu0").symlink_to(d / "home")
    return out


def _out_fifo(d):
    os.mkfifo(d / "out")
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
ROUND1 = [
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
     ("shared-memory[0].size: shared memory ipc is 0xffffffffffffffff bytes, more than all "
     "of ddr_low (0x80000000 bytes at 0x0); give a size of at most 0x80000000"), 24),
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
# -- round 2: what needed the model, layout, boards and templates ---------------------------
# (the first 11 were round 1's strict xfails; the rest are new). Board rows give the whole
# message: {board} is the board root's kv260.yaml, {qboard} its qemu_cortex_a53.yaml.
BOARD_ERR = "is a character device, not a regular file; give the path of a .yaml file"
ROUND2 = [
    # -- round 1's xfails ---------------------------------------------------------------
    ("board-is-dev-zero", "traceback",
     with_board(kind="dev-zero"), 1,
     '{board}: is a character device, not a regular file; give the path of a .yaml file', None),
    ("board-is-directory", "traceback",
     with_board(kind="dir"), 1,
     '{board}: is a directory, not a YAML file; give the path of a .yaml file', None),
    ("target-newline", "injection",
     edit("target: kv260_r5", 'target: "kv260_r5\\nCONFIG_EVIL=y"'), 1,
     ("domains[1].target: 'kv260_r5\\nCONFIG_EVIL=y' is not a valid Zephyr board target; write "
      'it as Zephyr names it, such as kv260_r5 or nrf5340dk/nrf5340/cpuapp (letters, digits, _ '
      '. + -, @revision, /qualifiers)'), 18),
    ("carveout-name-40", "injection",
     edit("name: dma", "name: " + "d" * 40, base=CARVEOUTS), 1,
     ("domains[1].carveouts[0].name: 'dddddddddddddddddddddddddddddddddddddddd' is 40 "
      'characters long; with the suffixes amp-config adds it must fit a 31-character devicetree '
      'node name; keep it to 20'), 18),
    ("domain-name-300", "resources",
     edit("rpu0", LONG, count=-1), 1,
     ("domains[1].name: 'rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr... (300 "
      "characters)' is 300 characters long; with the suffixes amp-config adds it must fit a "
      '31-character devicetree node name; keep it to 20'), 14),
    ("board-page-size-zero", "traceback",
     board_edit("page-size: 4K", "page-size: 0"), 1,
     ("{board}:7:12: page-size: page size 0 is not a power of two; use the MMU's page size, "
      'such as 4K'), None),
    ("board-core-name-newline", "injection",
     board_edit("name: r5_0,", 'name: "r5_0\\n",'), 1,
     ("{board}:15:12: cores[4].name: 'r5_0\\n' is not a valid name; use lowercase letters, "
      "digits and '_' (or '-' in a system name), starting with a letter"), None),
    ("board-mode-not-in-set", "traceback",
     _fast_mode, 1,
     ("{board}:23:19: clusters[0].default-mode: 'fast' is not allowed; use one of: split, "
      'lockstep'), None),
    ("virtio-queue-size-beyond-device-max", "numbers",
     edit("queue-size: 256", "queue-size: 2048", base=VIRTIO), 1,
     ("links[0].devices[0].queue-size: 2048 is more than the 1024 descriptors a queue of QEMU's "
      'virtio devices takes (QueueNumMax, VIRTQUEUE_MAX_SIZE); use 1024 or less'), 26),
    ("board-qemu-binary-shell", "injection",
     _qemu_binary_shell, 1,
     ("{qboard}:25:11: qemu.binary: 'qemu-system-aarch64; reboot' is not a valid program name; "
      'use a program name or path of letters, digits and _ . + / -'), None),
    ("ivshmem-size-2-63", "numbers",
     edit("size: 4M", "size: 0x8000000000000000", base=IVSHMEM), 1,
     ('links[0].size: 0x8000000000000000 bytes is more than Zephyr can map: the BAR goes into '
      'its 2 GiB of kernel virtual address space (CONFIG_KERNEL_VM_SIZE) beside its RAM; use at '
      'most 0x40000000 (1 GiB), or leave size out to have it computed'), 30),
    # -- injection: system strings --------------------------------------------------------
    ("target-option", "injection",
     edit("target: kv260_r5", 'target: "kv260_r5 -DCONFIG_X=y"'), 1,
     ("domains[1].target: 'kv260_r5 -DCONFIG_X=y' is not a valid Zephyr board target; write it "
      'as Zephyr names it, such as kv260_r5 or nrf5340dk/nrf5340/cpuapp (letters, digits, _ . + '
      '-, @revision, /qualifiers)'), 18),
    ("target-command", "injection",
     edit("target: kv260_r5", 'target: "$(reboot)"'), 1,
     ("domains[1].target: '$(reboot)' is not a valid Zephyr board target; write it as Zephyr "
      'names it, such as kv260_r5 or nrf5340dk/nrf5340/cpuapp (letters, digits, _ . + -, '
      '@revision, /qualifiers)'), 18),
    ("target-trailing-newline", "injection",
     edit("target: kv260_r5", 'target: "kv260_r5\\n"'), 1,
     ("domains[1].target: 'kv260_r5\\n' is not a valid Zephyr board target; write it as Zephyr "
      'names it, such as kv260_r5 or nrf5340dk/nrf5340/cpuapp (letters, digits, _ . + -, '
      '@revision, /qualifiers)'), 18),
    ("shm-name-newline", "injection",
     edit("trace: 4K", 'trace: 4K\n\nshared-memory:\n  - {name: "ipc\\nCONFIG_EVIL=y"}'), 1,
     ("shared-memory[0].name: 'ipc\\nCONFIG_EVIL=y' is not a valid name; use lowercase letters, "
      "digits and '_' (or '-' in a system name), starting with a letter"), 24),
    ("device-name-newline", "injection",
     edit("name: rng0", 'name: "rng0\\n"', base=VIRTIO), 1,
     ("links[0].devices[1].name: 'rng0\\n' is not a valid name; use lowercase letters, digits "
      "and '_' (or '-' in a system name), starting with a letter"), 27),
    ("device-name-c-comment", "injection",
     edit("name: rng0", 'name: "rng0 */ int x; /*"', base=VIRTIO), 1,
     ("links[0].devices[1].name: 'rng0 */ int x; /*' is not a valid name; use lowercase "
      "letters, digits and '_' (or '-' in a system name), starting with a letter"), 27),
    ("link-name-dts-brace", "injection",
     edit("name: rpmsg0", 'name: "rpmsg0 { };"'), 1,
     ("links[0].name: 'rpmsg0 { };' is not a valid name; use lowercase letters, digits and '_' "
      "(or '-' in a system name), starting with a letter"), 24),
    # -- injection: board strings -----------------------------------------------------------
    ("board-label-semicolon", "injection",
     board_edit("zephyr-label: rpu0_apu_mailbox", 'zephyr-label: "rpu0_apu_mailbox; evil"'), 1,
     ("{board}:91:19: mailboxes[0].zephyr-label: 'rpu0_apu_mailbox; evil' is not a valid "
      "devicetree label; use letters, digits and '_', not starting with a digit"), None),
    ("board-parent-newline", "injection",
     board_edit("zephyr-parent: rpu0_ipi", 'zephyr-parent: "rpu0_ipi\\n/delete-node/ &x;"'), 1,
     ("{board}:92:20: mailboxes[0].zephyr-parent: 'rpu0_ipi\\n/delete-node/ &x;' is not a valid "
      "devicetree label; use letters, digits and '_', not starting with a digit"), None),
    ("board-compatible-quote", "injection",
     board_edit('compatible: "xlnx,zynqmp-r5fss"', "compatible: 'xlnx,zynqmp-r5fss\"; x = \"y'"), 1,
     ('{board}:27:19: clusters[0].linux-node.compatible: \'xlnx,zynqmp-r5fss"; x = "y\' is not '
      'a valid devicetree compatible; use letters, digits and , . _ + - (vendor,device)'), None),
    ("board-core-compatible-newline", "injection",
     board_edit('core-compatible: "xlnx,zynqmp-r5f"', 'core-compatible: "xlnx,zynqmp-r5f\\n"'), 1,
     ("{board}:28:24: clusters[0].linux-node.core-compatible: 'xlnx,zynqmp-r5f\\n' is not a "
      'valid devicetree compatible; use letters, digits and , . _ + - (vendor,device)'), None),
    ("board-firmware-node-phandle", "injection",
     board_edit("firmware-node: zynqmp_firmware", 'firmware-node: "zynqmp_firmware 0>, <&x"'), 1,
     ("{board}:30:22: clusters[0].linux-node.firmware-node: 'zynqmp_firmware 0>, <&x' is not a "
      "valid devicetree label; use letters, digits and '_', not starting with a digit"), None),
    ("board-ipi-node-newline", "injection",
     board_edit("zephyr-node: rpu0_ipi", 'zephyr-node: "rpu0_ipi\\n"'), 1,
     ("{board}:85:81: ipi[1].zephyr-node: 'rpu0_ipi\\n' is not a valid devicetree label; use "
      "letters, digits and '_', not starting with a digit"), None),
    ("board-zephyr-target-newline", "injection",
     board_edit("zephyr-target: kv260_r5}", 'zephyr-target: "kv260_r5\\nCONFIG_EVIL=y"}'), 1,
     ("{board}:15:89: cores[4].zephyr-target: 'kv260_r5\\nCONFIG_EVIL=y' is not a valid Zephyr "
      'board target; write it as Zephyr names it, such as kv260_r5 or nrf5340dk/nrf5340/cpuapp '
      '(letters, digits, _ . + -, @revision, /qualifiers)'), None),
    ("board-own-name-newline", "injection",
     board_edit("name: kv260", 'name: "kv260\\n"'), 1,
     ("{board}:5:7: name: 'kv260\\n' is not a valid name; use lowercase letters, digits and '_' "
      "(or '-' in a system name), starting with a letter"), None),
    ("board-memory-name-newline", "injection",
     board_edit("name: ocm,", 'name: "ocm\\n",'), 1,
     ("{board}:63:12: memory[1].name: 'ocm\\n' is not a valid name; use lowercase letters, "
      "digits and '_' (or '-' in a system name), starting with a letter"), None),
    ("board-bank-name-star", "injection",
     board_edit("name: atcm0,", 'name: "atcm0*/",'), 1,
     ("{board}:51:20: clusters[0].modes.lockstep.r5_0[0].name: 'atcm0*/' is not a valid "
      "name; use lowercase letters, digits and '_' (or '-' in a system name), starting with "
      'a letter'), None),
    ("board-machine-arg-newline", "injection",
     qboard_edit("-nographic]", '"-nographic\\n-S"]'), 1,
     ("{qboard}:26:78: qemu.machine-args[4]: '-nographic\\n-S' is not a valid argument; give "
      'one argument per list item, on one line, without control characters'), None),
    ("board-virtio-arg-newline", "injection",
     qboard_edit("virtio-mmio.force-legacy=false]", '"virtio-mmio.force-legacy=false\\n-S"]',
                 system_text=VIRTIO), 1,
     ("{qboard}:41:24: virtio-mmio.qemu-args[1]: 'virtio-mmio.force-legacy=false\\n-S' is "
      'not a valid argument; give one argument per list item, on one line, without control '
      'characters'), None),
    ("board-dt-label-newline", "injection",
     qboard_edit("dt-label: virtio_mmio", 'dt-label: "virtio_mmio\\n"', system_text=VIRTIO), 1,
     ("{qboard}:39:13: virtio-mmio.dt-label: 'virtio_mmio\\n' is not a valid devicetree label; "
      "use letters, digits and '_', not starting with a digit"), None),
    # -- output -----------------------------------------------------------------------------
    ("out-dangling-symlink", "output",
     out_dir(_dangling), 2,
     ('{d}/out is a symbolic link to {d}/nowhere; amp-config replaces its output directory '
      'whole and does not follow links; give -o {d}/nowhere (the directory itself) or another '
      'DIR'), None),
    ("out-parent-is-a-file", "output",
     out_dir(_parent_is_file), 2,
     'cannot create {d}/file/out: {d}/file is not a directory', None),
    ("out-user-folder-without-layout", "output",
     out_dir(_notes_only), 2,
     ('{d}/mine is not empty and was not written by west amp-config (it holds notes.txt); '
      'choose another -o DIR'), None),
    ("out-old-output-holding-a-link", "output",
     out_dir(_legacy_with_link), 2,
     ('{d}/old is not empty and was not written by west amp-config (it holds rpu0); choose '
      'another -o DIR'), None),
    ("out-is-a-fifo", "output",
     out_dir(_out_fifo), 2,
     '{d}/out exists and is not a directory; choose another -o', None),
    # -- traceback ----------------------------------------------------------------------------
    ("board-is-fifo", "traceback",
     board_special("fifo"), 1,
     '{board}: is a FIFO (named pipe), not a regular file; give the path of a .yaml file', None),
    ("board-dangling-link", "traceback",
     board_special("dangling"), 1,
     '{board}: no such file', None),
    ("board-link-loop", "traceback",
     board_special("loop"), 1,
     '{board}: cannot read: Too many levels of symbolic links', None),
    ("system-link-loop", "traceback",
     _system_loop, 1,
     'cannot read: Too many levels of symbolic links', 0),
    ("board-no-default-mode", "traceback",
     board_edit("    default-mode: lockstep\n", ""), 1,
     ('{board}:19:5: clusters[0]: a cluster with modes needs a default-mode (a domain that '
      'gives no mode: runs in it); add default-mode: split or lockstep'), None),
    ("board-default-mode-undefined", "traceback",
     with_board(_without_split(KV260)), 1,
     ('{board}:23:19: clusters[0].default-mode: the default mode split is not one of the '
      "cluster's modes; use lockstep"), None),
    ("board-mode-core-unknown", "traceback",
     board_edit("        r5_1:\n", "        r9_9:\n"), 1,
     ("{board}:47:11: clusters[0].modes.split.r9_9: no core named 'r9_9' on this board; use one "
      'of: a53_0, a53_1, a53_2, a53_3, r5_0, r5_1'), None),
    ("board-mailbox-unknown-ipi", "traceback",
     board_edit("linux: {local: apu, remote: rpu0,", "linux: {local: apu, remote: rpu7,"), 1,
     ("{board}:93:33: mailboxes[0].linux.remote: no IPI agent named 'rpu7' on this board; did "
      "you mean 'rpu1'?"), None),
    ("board-ipi-core-unknown", "traceback",
     board_edit("zephyr-node: rpu0_ipi, core: r5_0}", "zephyr-node: rpu0_ipi, core: r5_9}"), 1,
     "{board}:85:97: ipi[1].core: no core named 'r5_9' on this board; did you mean 'r5_1'?", None),
    ("board-core-without-index", "traceback",
     with_board(KV260.replace("r5_1", "rfive")), 1,
     ('{board}:27:7: clusters[0].linux-node: core rfive of a cluster with a linux-node needs '
      'its index at the end of its name (r5_0): it is the unit address of its remoteproc node; '
      'rename it rfive_0'), None),
    ("board-mailbox-without-buffers", "traceback",
     board_edit(", buffers: [0xff990040, 0xff990060, 0xff990200, 0xff990220]}", "}"), 1,
     ('{board}:93:12: mailboxes[0].linux.buffers: the Linux node of an IPI mailbox has four '
      'message buffers (local request, local response, remote request, remote response); give '
      'their four addresses'), None),
    ("board-name-not-its-file", "traceback",
     board_edit("name: kv260", "name: zcu102"), 1,
     ("{board}:5:7: name: the board is called zcu102 in a file named kv260.yaml; a system's "
      'board: names the file, and layout.json and the messages name the board; write name: '
      'kv260'), None),
    ("board-duplicate-core", "traceback",
     board_edit("name: r5_1,", "name: r5_0,"), 1,
     ("{board}:16:12: cores[5].name: 'r5_0' is already defined (cores[4]); give each its own "
      'name'), None),
    ("board-page-size-3000", "numbers",
     board_edit("page-size: 4K", "page-size: 3000"), 1,
     ("{board}:7:12: page-size: page size 3000 is not a power of two; use the MMU's page size, "
      'such as 4K'), None),
    # -- resources ----------------------------------------------------------------------------
    ("system-name-65", "resources",
     edit("name: kv260-rpmsg", "name: k" + "x" * 64), 1,
     ("name: 'kxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (65 characters)' "
      'is 65 characters long; it names the output directory and files; keep it to 64'), 5),
    ("board-ref-100", "resources",
     edit("board: kv260", "board: k" + "x" * 99), 1,
     ("board: 'kxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (100 "
      "characters)' is 100 characters long; it is a file name under a board root; keep it "
      'to 64'), 6),
    ("target-129", "resources",
     edit("target: kv260_r5", "target: k" + "5" * 128), 1,
     ("domains[1].target: 'k55555555555555555555555555555555555555555555555555555555555... (129 "
      "characters)' is 129 characters long; it goes on a west build command line and into "
      'comments; keep it to 128'), 18),
    ("device-name-21", "resources",
     edit("name: rng0", "name: r" + "n" * 20, base=VIRTIO), 1,
     ("links[0].devices[1].name: 'rnnnnnnnnnnnnnnnnnnnn' is 21 characters long; with the "
      'suffixes amp-config adds it must fit a 31-character devicetree node name; keep it to '
      '20'), 27),
    ("virtio-queues-1e9", "resources",
     edit("{name: rng0, type: entropy}", "{name: rng0, type: entropy, queues: 1000000000}",
          base=VIRTIO), 1,
     ('links[0].devices[1].queues: 1000000000 queues are more than the 1024 a virtio device can '
      "have (QEMU's VIRTIO_QUEUE_MAX); use 1 (requestq)"), 27),
    ("ivshmem-buffers-1e7-derived-size", "resources",
     system(IVSHMEM.replace("count: 32", "count: 10000000").replace("    size: 4M ", "    # ")), 1,
     ('links[0].buffers: ivshmem0 needs 0x1312d3000 bytes of shared memory (buffers 10000000 x '
      '512), more than the 0x40000000 a Zephyr domain can map (CONFIG_KERNEL_VM_SIZE is 2 GiB); '
      'use fewer or smaller buffers'), 32),
    ("board-file-300k", "resources",
     board_data(KV260.encode() + b"# " + b"x" * 300_000 + b"\n"), 1,
     ('{board}: the file is larger than 256 KiB, the most amp-config reads; a system or board '
      'file is a few KiB; check that this is the right file'), None),
    ("board-nesting-150", "resources",
     board_data(KV260.encode() + b"extra: " + b"[" * 150 + b"]" * 150 + b"\n"), 1,
     (f'{{board}}:{KV260.count(chr(10)) + 1}:108: YAML nested more than 100 levels deep; '
      'a system file needs a few levels '
      'of maps and lists'), None),
    ("board-arg-2000", "resources",
     qboard_edit("-nographic]", "-nographic, " + "x" * 2000 + "]"), 1,
     ('{qboard}:26:90: qemu.machine-args[5]: '
      "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (2000 characters)' is "
      '2000 characters long; keep it to 1024'), None),
    # -- numbers ------------------------------------------------------------------------------
    ("vring-align-2-32", "numbers",
     edit("align: 16", "align: 0x100000000"), 1,
     ('links[0].vring.align: 4294967296 does not fit the 32-bit align field of a resource-table '
      'vring; use 16 (Zephyr) or 0x1000 (Linux page)'), 30),
    ("queue-size-1025", "numbers",
     edit("queue-size: 256", "queue-size: 1025", base=VIRTIO), 1,
     'links[0].devices[0].queue-size: 1025 is not a power of two up to 32768; use 1024', 26),
    ("ivshmem-size-2g", "numbers",
     edit("size: 4M", "size: 2G", base=IVSHMEM), 1,
     ('links[0].size: 0x80000000 bytes is more than Zephyr can map: the BAR goes into its 2 GiB '
      'of kernel virtual address space (CONFIG_KERNEL_VM_SIZE) beside its RAM; use at most '
      '0x40000000 (1 GiB), or leave size out to have it computed'), 30),
    ("carveout-size-2-64-minus-1", "numbers",
     edit("{name: fixed, size: 64K,", "{name: fixed, size: 0xffffffffffffffff,",
          base=CARVEOUTS), 1,
     ('domains[1].carveouts[1].size: carveout fixed is 0xffffffffffffffff bytes, more than all '
      'of ddr_low (0x80000000 bytes at 0x0); give a size of at most 0x80000000'), 19),
    ("carveout-past-memory-end", "numbers",
     edit("{name: fixed, size: 64K, base: 0x3f000000}", "{name: fixed, size: 2M, base: 0x7ff00000}",
          base=CARVEOUTS), 1,
     ('domains[1].carveouts[1].base: carveout fixed [0x7ff00000, 0x80100000) is outside ddr_low '
      '[0x0, 0x80000000); give a base between 0x0 and 0x7fe00000'), 19),
    ("size-2-64", "numbers",
     edit("trace: 4K", "trace: 0x10000000000000000"), 1,
     ('domains[1].trace: 0x10000000000000000 does not fit in 64 bits; use a size below '
      '0x10000000000000000'), 21),
    ("size-negative", "numbers",
     edit("trace: 4K", "trace: -4K"), 1,
     "domains[1].trace: '-4K' is not a size; write a size such as 4096, 0x1000, 64K or 1M", 21),
    ("vectors-65", "numbers",
     edit("doorbell: true", "doorbell: true\n    vectors: 65", base=IVSHMEM), 1,
     'links[0].vectors: 65 vectors: ivshmem-server gives each peer from 1 to 64; use 2', 30),
    # numbers a board gives that reach a 32-bit devicetree cell, a GIC SPI or a PCI ID
    ("board-ipi-id-2-40", "numbers",
     board_edit("ipi-id: 1,", "ipi-id: 0x10000000000,"), 1,
     ('{board}:85:26: ipi[1].ipi-id: 1099511627776 is more than 4294967295 (a 32-bit devicetree '
      'cell); use a number from 0 to 4294967295'), None),
    ("board-irq-2000", "numbers",
     board_edit("irq: 33,", "irq: 2000,"), 1,
     ('{board}:85:51: ipi[1].irq: 2000 is more than 1019 (GIC interrupt IDs from 1020 are '
      'special); use a number from 0 to 1019'), None),
    ("board-power-domain-negative", "numbers",
     board_edit("power-domain: 15}", "power-domain: -15}"), 1,
     ('{board}:44:80: clusters[0].modes.split.r5_0[0].power-domain: -15 is less than 0 (a '
      '32-bit devicetree cell); use a number from 0 to 4294967295'), None),
    ("board-first-spi-2-40", "numbers",
     qboard_edit("first-spi: 16", "first-spi: 0x10000000000", system_text=VIRTIO), 1,
     ("{qboard}:37:14: virtio-mmio.first-spi: 1099511627776 is more than 987 (the GIC's SPIs "
      'are 0 to 987); use a number from 0 to 987'), None),
    ("board-slots-past-last-spi", "numbers",
     qboard_edit("slots: 32", "slots: 980", system_text=VIRTIO), 1,
     ('{qboard}:36:10: virtio-mmio.slots: 980 transports from SPI 16 end at SPI 995, past 987, '
      'the last GIC SPI; use at most 972 slots'), None),
    ("board-pci-vendor-17-bits", "numbers",
     qboard_edit("vendor-id: 0x1af4", "vendor-id: 0x11af4"), 1,
     ("{qboard}:50:14: ivshmem.vendor-id: 0x11af4 is not a 16-bit PCI ID; use QEMU's ivshmem "
      'IDs, vendor 0x1af4 and device 0x1110'), None),
    # -- messages -----------------------------------------------------------------------------
    ("board-utf16", "messages",
     board_data(KV260.encode("utf-16")), 1,
     ('{board}:1:1: the file is UTF-16 text (it starts with a UTF-16 byte-order mark); '
      'amp-config reads UTF-8; save it as UTF-8'), None),
    ("board-nul", "messages",
     board_data(KV260.encode().replace(b"cpu: cortex-r5f", b"cpu: cortex\x00", 1)), 1,
     '{board}:15:43: control character \\x00 (U+0000) is not allowed in YAML; remove it', None),
    ("board-bidi-core", "messages",
     board_edit("name: r5_0,", "name: r5_0\u202e,"), 1,
     ("{board}:15:12: cores[4].name: 'r5_0\\u202e' is not a valid name; use lowercase letters, "
      "digits and '_' (or '-' in a system name), starting with a letter"), None),
    ("target-bidi", "messages",
     edit("target: kv260_r5", "target: kv260_r5\u202e"), 1,
     ("domains[1].target: 'kv260_r5\\u202e' is not a valid Zephyr board target; write it as "
      'Zephyr names it, such as kv260_r5 or nrf5340dk/nrf5340/cpuapp (letters, digits, _ . + -, '
      '@revision, /qualifiers)'), 18),
    ("device-zero-width", "messages",
     edit("name: rng0", "name: rng\u200b0", base=VIRTIO), 1,
     ("links[0].devices[1].name: 'rng\\u200b0' is not a valid name; use lowercase letters, "
      "digits and '_' (or '-' in a system name), starting with a letter"), 27),
    ("file-name-bidi", "messages",
     system(BASE, name="evil\u202elmay.yaml"), 1,
     'the file name holds control character \\u202e; rename the file', 0),
]
CASES = ROUND1 + ROUND2


def _snapshot(root):
    return sorted((p.relative_to(root).as_posix(), p.is_symlink(), p.is_dir())
                  for p in Path(root).rglob("*"))


def _expected(message, out, d):
    """The whole text of a row whose message starts with {out} or {board}."""
    return message.replace("{out}", str(out)).replace("{real}", str(d / "real")) \
        .replace("{board}", str(d / "boards" / "kv260.yaml")) \
        .replace("{qboard}", str(d / "boards" / "qemu_cortex_a53.yaml")) \
        .replace("{d}", str(d))


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
    if line is None:        # the whole text: an output error, or one in a board file
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
    families = {"injection", "output", "traceback", "resources", "numbers", "messages"}
    for rows in (ROUND1, ROUND2):
        assert {case[1] for case in rows} == families
    assert len(ROUND1) >= 40 and len(ROUND2) >= 40
    assert len({case[0] for case in CASES}) == len(CASES), "two rows with one id"


def test_file_name_starting_with_dashes_gives_valid_svg(tmp_path):
    """A system file named --x--.yaml: its name goes into an XML comment of
    memory-map.svg, where "--" may not appear; it is written "- -" there."""
    import xml.etree.ElementTree as ET
    path = tmp_path / "--x--.yaml"
    path.write_text(BASE)
    config.generate(path, tmp_path / "out")
    svg = (tmp_path / "out" / "memory-map.svg").read_text()
    ET.fromstring(svg.encode())
    assert "<!-- Generated by west amp-config from - -x- -.yaml " in svg


# -- through the real command ---------------------------------------------------------------

WEST_CASES = ["system-name-trailing-newline", "domain-name-shell", "file-name-newline",
              "out-user-folder-with-layout-json", "out-symlink", "system-is-dev-zero",
              "system-is-fifo", "flow-list-20mb", "trace-octal", "latin1", "utf16-bom",
              "nul-in-name",
              # round 2: board roots, the link kinds, the layout, output parents
              "target-newline", "board-page-size-zero", "board-is-fifo",
              "board-qemu-binary-shell", "board-mailbox-unknown-ipi",
              "virtio-queue-size-beyond-device-max", "ivshmem-size-2-63",
              "carveout-size-2-64-minus-1", "out-parent-is-a-file", "system-link-loop"]


@pytest.mark.parametrize("name", WEST_CASES)
def test_through_west(name, west_workspace, tmp_path):  # noqa: F811
    manifest, env = west_workspace
    _id, _family, make, code, message, line = next(c for c in CASES if c[0] == name)
    d = tmp_path / "in"
    d.mkdir()
    path, out = make(d)
    before = _snapshot(tmp_path)
    roots = ["--board-root", str(d / make.board_root)] if hasattr(make, "board_root") else []
    res = subprocess.run(["west", "amp-config", os.fsencode(path), "-o", str(out), *roots],
                         cwd=manifest, env=env, capture_output=True, timeout=120,
                         check=False)
    stderr = res.stderr.decode("utf-8", "replace")
    assert res.returncode == code, stderr
    assert "Traceback" not in stderr + res.stdout.decode("utf-8", "replace")
    assert len(stderr.strip().splitlines()) == 1, stderr
    if line is None:
        want = "FATAL ERROR: " + _expected(message, out, d)
    else:
        shown = _shown(path)
        where = f"{shown}:{line}:" if line else f"{shown}: "
        assert stderr.startswith(f"FATAL ERROR: {where}"), stderr
        want = message
    assert stderr.rstrip("\n").endswith(want), stderr
    assert _snapshot(tmp_path) == before, "something was written or removed"


LONG_NAME = "r" * 200_000      # a valid name but for its length; the file stays below 256 KiB


@pytest.mark.parametrize("check", [True, False], ids=["check", "real-run"])
def test_long_domain_name_fails_check_and_run_alike(check, west_workspace, tmp_path):  # noqa: F811
    """A 200 000-character domain name passed --check and failed the real run with "File
    name too long" when the run made its directory: --check must say what the run says."""
    manifest, env = west_workspace
    path = tmp_path / "system.yaml"
    path.write_text(BASE.replace("name: rpu0", "name: " + LONG_NAME, 1))
    out = tmp_path / "out"
    res = subprocess.run(["west", "amp-config", str(path), "-o", str(out)]
                         + (["--check"] if check else []), cwd=manifest, env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 1, res.stderr
    assert res.stderr.splitlines() == [
        f"FATAL ERROR: {path}:14:11: domains[1].name: '{LONG_NAME[:60]}... (200000 "
        "characters)' is 200000 characters long; with the suffixes amp-config adds it must "
        "fit a 31-character devicetree node name; keep it to 20"], res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["system.yaml"]


# A file name with everything a file name may hold that means something in an output:
# quotes, $( ), backquotes, '--' (XML comments), '??' (trigraphs), '#', '\', '*'.
HOSTILE_FILE = "x'\"$(touch PWNED)`touch PWNED2` -- ??( #\\ *.yaml"


def test_hostile_file_name_stays_in_comments(tmp_path):
    """The system file's name is the one free text in the outputs (their banners): with
    the comments taken out, every file is the same as from a plain file name, and the
    C files compile, memory-map.svg parses."""
    import xml.etree.ElementTree as ET
    need_tool("gcc")
    need_tool("cpp")
    outs = []
    for name in ("plain.yaml", HOSTILE_FILE):
        (tmp_path / name).write_text(CARVEOUTS)
        config.generate(tmp_path / name, tmp_path / f"out{len(outs)}")
        outs.append(tmp_path / f"out{len(outs)}")
    plain, hostile = outs
    files = sorted(p.relative_to(plain).as_posix() for p in plain.rglob("*") if p.is_file())
    assert "rpu0/resource_table.c" in files and "linux/amp.dtso" in files
    for rel in files:
        a, b = plain / rel, hostile / rel
        if rel.endswith((".c", ".h", ".overlay", ".dtso", ".ld")):
            assert _cpp(a) == _cpp(b), rel
        elif rel.endswith((".conf", ".cmake", ".sh", ".args")):
            assert _code_lines(a) == _code_lines(b), rel
        elif rel.endswith(".svg"):
            ET.fromstring(b.read_bytes())
        if HOSTILE_FILE[:8] in b.read_text():
            assert rel.endswith((".svg", ".json")) or "Generated by" in b.read_text(), rel
    for f in ("resource_table.c", "amp_layout.h"):
        res = subprocess.run(["gcc", "-std=c11", "-Wall", "-Werror", "-trigraphs",
                              "-fsyntax-only", "-DAMP_RSC_STANDALONE", "-I",
                              str(hostile / "rpu0"), "-x", "c", str(hostile / "rpu0" / f)],
                             capture_output=True, text=True, check=False)
        assert res.returncode == 0, (f, res.stderr)


def _cpp(path):
    """The file with its comments taken out by the C preprocessor (nothing else done:
    -fpreprocessed leaves directives and macros as they are)."""
    res = subprocess.run(["cpp", "-fpreprocessed", "-P", "-x", "assembler-with-cpp", str(path)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, (path, res.stderr)
    return [line for line in res.stdout.splitlines() if line.strip()]


def _code_lines(path):
    return [line for line in path.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_hostile_file_name_in_run_qemu_sh(tmp_path):
    """run-qemu.sh carries the file name in its banner: the script still parses, and run
    (without its ELF variables, so it stops at once) it runs nothing of the name."""
    need_tool("bash")
    path = tmp_path / HOSTILE_FILE
    path.write_text(IVSHMEM)
    out = tmp_path / "out"
    config.generate(path, out)
    script = out / "run-qemu.sh"
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMP_ELF_")}
    res = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=60, check=False)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == "run-qemu.sh: set AMP_ELF_host to the zephyr.elf of domain host"
    assert not list(tmp_path.rglob("PWNED*"))


EVIL = "evil\n*/ int x; /* $(touch PWNED) `touch PWNED` \"; -- ??/\\"


@pytest.mark.parametrize("system_text", [CARVEOUTS, IVSHMEM], ids=["kv260", "qemu-ivshmem"])
def test_templates_escape_text_validation_would_refuse(system_text, tmp_path):
    """The templates do not rely on validation: a system name validation refuses
    (newline, comment ends, $( ), quotes, '--', a trigraph), put into a laid-out system
    by hand, changes no line of code in any output; it stays inside comments and C
    string literals, and run-qemu.sh runs none of it."""
    import xml.etree.ElementTree as ET

    from zephyr_amp import render
    from zephyr_amp.output import write_outputs
    need_tool("cpp")
    path = tmp_path / "s.yaml"
    path.write_text(system_text)
    outs = {}
    for name in ("plain", "evil"):
        result = config.configure(path)
        if name == "evil":
            result.layout.system.name = EVIL
        write_outputs(render.render(result.layout), tmp_path / name)
        outs[name] = tmp_path / name
    for f in sorted(outs["plain"].rglob("*")):
        rel = f.relative_to(outs["plain"]).as_posix()
        evil = outs["evil"] / rel
        if f.is_dir() or rel.endswith(".json"):
            continue
        if rel.endswith((".c", ".h", ".overlay", ".dtso", ".ld")):
            a = [x for x in _cpp(f) if "AMP_SYSTEM_NAME" not in x]
            assert a == [x for x in _cpp(evil) if "AMP_SYSTEM_NAME" not in x], rel
        elif rel.endswith(".svg"):
            ET.fromstring(evil.read_bytes())
        elif rel.endswith(".txt"):           # the table's title names the system
            assert f.read_text().splitlines()[1:] == evil.read_text().splitlines()[1:]
        else:
            assert _code_lines(f) == _code_lines(evil), rel
    for header in outs["evil"].rglob("amp_layout.h"):
        need_tool("gcc")
        probe = tmp_path / "probe.c"
        probe.write_text(f'#include "{header}"\nconst char *n = AMP_SYSTEM_NAME;\n')
        res = subprocess.run(["gcc", "-std=c11", "-Wall", "-Werror", "-trigraphs",
                              "-fsyntax-only", str(probe)], capture_output=True, text=True,
                             check=False)
        assert res.returncode == 0, res.stderr
    script = outs["evil"] / "run-qemu.sh"
    if script.exists():
        need_tool("bash")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AMP_ELF_")}
        res = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, text=True,
                             capture_output=True, timeout=60, check=False)
        assert res.returncode == 2, res.stderr
    assert not list(tmp_path.rglob("PWNED*"))


@pytest.mark.parametrize("length,kind", [(32, "devicetree node name"), (31, None)])
def test_layout_holds_names_to_their_fields(length, kind, tmp_path):
    """The schema keeps carveout names to 20 characters; the layout checks the names it
    makes against the fields they go to (a node name of 31, a resource-table name of 31
    and a NUL) at the key they come from, so a name that got past the schema is an error
    there and not a gcc or dtc error later."""
    from zephyr_amp import layout, model
    from zephyr_amp.errors import LayoutError
    path = tmp_path / "s.yaml"
    path.write_text(CARVEOUTS)
    system = model.load_system(path)
    system.domains[1].carveouts[0].name = "d" * length
    if kind is None:
        layout.place(system)
        return
    with pytest.raises(LayoutError) as e:
        layout.place(system)
    assert str(e.value) == (
        f"{path}:18:16: domains[1].carveouts[0].name: '{'d' * length}' (node name of "
        f"rpu0_{'d' * length}) is {length} characters long; a devicetree node name holds 31 "
        "characters; use letters, digits and , . _ + -, starting with a letter, at most 31 "
        "characters")


def _longest_names(system_path):
    """The system with every name at its limit: 20 characters for domains, carveouts,
    pools, links and devices (each one its own), 64 for the system."""
    import yaml
    data = yaml.safe_load(Path(system_path).read_text())
    made = {}

    def long(name):
        if name not in made:
            base = (name + "_" + "x" * 20)[:20]
            k, cand = 0, base
            while cand in made.values():
                k += 1
                cand = base[:-len(str(k))] + str(k)
            made[name] = cand
        return made[name]
    for dom in data.get("domains", []):
        dom["name"] = long(dom["name"])
        for cv in dom.get("carveouts", []):
            cv["name"] = long(cv["name"])
    for pool in data.get("shared-memory", []):
        pool["name"] = long(pool["name"])
    for lk in data.get("links", []):
        lk["name"] = long(lk["name"])
        for key in ("host", "remote", "driver", "device", "shm"):
            if key in lk:
                lk[key] = long(lk[key])
        for dev in lk.get("devices", []):
            dev["name"] = long(dev["name"])
    data["name"] = (data["name"] + "-" + "y" * 64)[:64]
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize("system", ALL_SYSTEMS, ids=system_id)
def test_longest_names_give_outputs_that_build(system, zephyr_dts, tmp_path):
    """The limits fit every output: with every name at its longest, each Zephyr overlay
    merges into its board's devicetree and passes dtc, each Linux overlay compiles with
    dtc -@, each resource_table.c with gcc, run-qemu.sh parses."""
    from test_linux_overlay import _compile
    from test_zephyr_overlays import _dtc, _edt
    path = tmp_path / "longest.yaml"
    path.write_text(_longest_names(system))
    out = tmp_path / "out"
    config.generate(path, out, board_roots=[DATA / "boards"])
    layout = json.loads((out / "layout.json").read_text())
    for name, dom in layout["domains"].items():
        work = tmp_path / "work" / name
        work.mkdir(parents=True)
        if dom["os"] == "zephyr":
            _dtc(_edt(zephyr_dts, dom["target"], out / name / "amp.overlay", work), work)
            if (out / name / "resource_table.c").exists():
                need_tool("gcc")
                res = subprocess.run(["gcc", "-std=c11", "-Wall", "-Werror", "-fsyntax-only",
                                      "-DAMP_RSC_STANDALONE", str(out / name / "resource_table.c")],
                                     capture_output=True, text=True, check=False)
                assert res.returncode == 0, res.stderr
        elif (out / name / "amp.dtso").exists():
            _compile(out / name / "amp.dtso", work)
    if (out / "run-qemu.sh").exists():
        assert subprocess.run(["bash", "-n", str(out / "run-qemu.sh")],
                              check=False).returncode == 0

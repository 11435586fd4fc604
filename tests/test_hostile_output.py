"""Output safety: amp-config replaces only what it wrote, and a kill at any step of
the swap leaves the whole old or the whole new output at its path.

The crash tests do not time anything: a forked child counts every file-system
call write_outputs makes (os.mkdir, os.open, os.write, os.fsync, os.rename, the
atomic exchange, the unlinks of the clean-up, ...) and calls os._exit() just
before the N-th one, for every N. After each kill the parent checks that the
output directory holds exactly the old or exactly the new files, then runs
write_outputs again and checks that nothing of the interrupted run is left.
"""

import errno
import json
import os
import stat
import sys

import pytest

from zephyr_amp import output
from zephyr_amp.errors import AmpError, OutputError, UsageError

LAYOUT = json.dumps({"format": "zephyr-amp-layout", "version": 1}) + "\n"
OLD = {"layout.json": LAYOUT, "rpu0/amp.conf": "CONFIG_OLD=y\n", "rpu0/amp_layout.h": "old\n",
       "run-qemu.sh": "#!/bin/sh\necho old\n", "memory-map.txt": "old map\n"}
NEW = {"layout.json": LAYOUT.replace("1", "2"), "rpu1/amp.conf": "CONFIG_NEW=y\n",
       "rpu1/sub/amp.cmake": "new\n", "run-qemu.sh": "#!/bin/sh\necho new\n"}
PATCHED = ("mkdir", "rmdir", "rename", "replace", "unlink", "remove", "open", "write",
           "fsync", "chmod", "symlink")

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def tree(root):
    """{relative path: text} of every file under root (the marker is a directory)."""
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _child(out, files, kill_at, count_file, no_exchange):
    """In the forked child: count file-system calls, die before call number kill_at."""
    calls = [0]

    def wrap(fn):
        def counted(*args, **kwargs):
            calls[0] += 1
            if calls[0] == kill_at:
                os._exit(77)
            return fn(*args, **kwargs)
        return counted

    for name in PATCHED:
        setattr(os, name, wrap(getattr(os, name)))
    if no_exchange:
        def _no(a, b):
            raise OSError(errno.ENOSYS, "no exchange")
        output._exchange = _no
    output._exchange = wrap(output._exchange)
    try:
        output.write_outputs(files, out)
    except BaseException:       # noqa: BLE001 - report any failure as an exit code
        os._exit(3)
    if count_file:
        with open(count_file, "w") as f:
            f.write(str(calls[0]))
    os._exit(0)


def run_killed(out, files, kill_at=None, count_file=None, no_exchange=False):
    pid = os.fork()
    if pid == 0:            # pragma: no cover - the child never returns
        _child(out, files, kill_at, count_file, no_exchange)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def count_calls(tmp_path, old, no_exchange=False):
    out = tmp_path / "count" / "out"
    if old:
        output.write_outputs(OLD, out)
    assert run_killed(out, NEW, count_file=tmp_path / "n", no_exchange=no_exchange) == 0
    return int((tmp_path / "n").read_text())


@needs_fork
@pytest.mark.parametrize("old", [True, False], ids=["replace", "first-write"])
@pytest.mark.parametrize("no_exchange", [False, True], ids=["exchange", "two-renames"])
def test_kill_at_every_step_leaves_old_or_new(tmp_path, old, no_exchange):
    total = count_calls(tmp_path, old, no_exchange)
    assert total > 10, total        # the child did count the writes
    seen = set()
    for n in range(1, total + 2):       # total + 1: the run that is not killed
        parent = tmp_path / f"k{n}"
        out = parent / "out"
        if old:
            output.write_outputs(OLD, out)
        code = run_killed(out, NEW, kill_at=n, no_exchange=no_exchange)
        assert code == (77 if n <= total else 0), n
        if no_exchange:      # its window (out missing) is closed by the next run's clean-up
            output._clean_leftovers(parent, "out")
        got = tree(out) if out.exists() else None
        want = [OLD if old else None, NEW]
        assert got in want, f"killed before file-system call {n} of {total}: {got}"
        seen.add("old" if got == want[0] else "new")
        output.write_outputs(NEW, out)
        assert tree(out) == NEW
        assert sorted(os.listdir(parent)) == ["out"], f"left behind after kill {n}"
        assert output.is_output_dir(out)
    assert seen == {"old", "new"}


@needs_fork
def test_the_swap_is_one_atomic_exchange(tmp_path):
    """Where the exchange exists (Linux), no kill point leaves out_dir missing."""
    total = count_calls(tmp_path, True)
    for n in range(1, total + 1):
        out = tmp_path / f"k{n}" / "out"
        output.write_outputs(OLD, out)
        run_killed(out, NEW, kill_at=n)
        assert out.is_dir() and tree(out) in (OLD, NEW), n


def test_shell_scripts_are_executable_whatever_the_umask(tmp_path):
    old_mask = os.umask(0o077)
    try:
        output.write_outputs(NEW, tmp_path / "out")
    finally:
        os.umask(old_mask)
    mode = stat.S_IMODE((tmp_path / "out" / "run-qemu.sh").stat().st_mode)
    assert mode == 0o755
    assert not (tmp_path / "out" / "layout.json").stat().st_mode & 0o111


def test_same_files_again_touch_nothing(tmp_path):
    out = tmp_path / "out"
    output.write_outputs(NEW, out)
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*")}
    output.write_outputs(NEW, out)
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*")} == before


def _foreign_with_layout(d):
    (d / "layout.json").write_text(LAYOUT)
    (d / "notes.md").write_text("mine\n")


def _foreign_json(d):
    (d / "layout.json").write_text('{"mine": true}\n')


def _foreign_deep(d):
    (d / "layout.json").write_text(LAYOUT)
    (d / "rpu0").mkdir()
    (d / "rpu0" / "thesis.tex").write_text("mine\n")


def _foreign_link(d):
    (d / "layout.json").write_text(LAYOUT)
    (d / "memory-map.txt").symlink_to("/etc/hostname")


def _foreign_plain(d):
    (d / "keep.txt").write_text("mine\n")


# (case, how the existing directory is made, message after the path)
REFUSED = [
    ("user_folder_with_our_layout_json", _foreign_with_layout,
     (" is not empty and was not written by west amp-config (it holds notes.md); "
     "choose another -o DIR")),
    ("layout_json_not_ours", _foreign_json,
     (" is not empty and was not written by west amp-config (it holds layout.json); "
     "choose another -o DIR")),
    ("user_file_in_a_domain_folder", _foreign_deep,
     (" is not empty and was not written by west amp-config (it holds rpu0/thesis.tex); "
     "choose another -o DIR")),
    ("generated_name_that_is_a_link", _foreign_link,
     (" is not empty and was not written by west amp-config (it holds memory-map.txt); "
     "choose another -o DIR")),
    ("plain_user_folder", _foreign_plain,
     (" is not empty and was not written by west amp-config (it holds keep.txt); "
     "choose another -o DIR")),
]


def _snapshot(root):
    return sorted((p.relative_to(root).as_posix(), p.is_symlink(),
                   p.read_bytes() if p.is_file() and not p.is_symlink() else b"")
                  for p in root.rglob("*"))


@pytest.mark.parametrize("case,make,message", REFUSED, ids=[c[0] for c in REFUSED])
def test_user_folder_is_refused_untouched(tmp_path, case, make, message):
    out = tmp_path / "out"
    out.mkdir()
    make(out)
    before = _snapshot(tmp_path)
    with pytest.raises(OutputError) as e:
        output.write_outputs(NEW, out)
    assert str(e.value) == f"{out}{message}"
    assert e.value.exit_code == 2
    assert _snapshot(tmp_path) == before


def test_symlinked_output_dir_is_refused(tmp_path):
    real = tmp_path / "real"
    output.write_outputs(OLD, real)
    link = tmp_path / "out"
    link.symlink_to(real)
    with pytest.raises(UsageError) as e:
        output.write_outputs(NEW, link)
    assert str(e.value) == (f"{link} is a symbolic link to {real}; amp-config replaces its "
                            "output directory whole and does not follow links; give "
                            f"-o {real} (the directory itself) or another DIR")
    assert link.is_symlink() and tree(real) == OLD
    assert sorted(os.listdir(tmp_path)) == ["out", "real"]


def test_a_file_at_the_output_path_is_refused(tmp_path):
    (tmp_path / "out").write_text("mine\n")
    with pytest.raises(UsageError, match="exists and is not a directory"):
        output.write_outputs(NEW, tmp_path / "out")
    assert (tmp_path / "out").read_text() == "mine\n"


def test_output_of_an_older_amp_config_is_replaced(tmp_path):
    """No marker yet, but our layout.json and only names amp-config writes."""
    out = tmp_path / "out"
    (out / "rpu0").mkdir(parents=True)
    for rel, text in OLD.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text)
    (out / "rpu0" / "resource_table.c").write_text("old table\n")
    output.write_outputs(NEW, out)
    assert tree(out) == NEW and output.is_output_dir(out)


def test_an_older_output_with_the_same_files_gets_the_marker(tmp_path):
    out = tmp_path / "out"
    for rel, text in OLD.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text)
    os.chmod(out / "run-qemu.sh", 0o755)
    output.write_outputs(OLD, out)
    assert tree(out) == OLD and output.is_output_dir(out)


def test_stale_files_in_our_output_go(tmp_path):
    out = tmp_path / "out"
    output.write_outputs(OLD, out)
    (out / "rpu0" / "stale.txt").write_text("left by hand\n")
    output.write_outputs(NEW, out)
    assert tree(out) == NEW


def test_leftovers_of_interrupted_runs_are_cleaned(tmp_path):
    out = tmp_path / "out"
    output.write_outputs(OLD, out)
    # ours: a new run's temp dir, a stranded old copy, the folders of earlier versions
    for name in (".out.amp-tmp-1a2b3c", ".out.amp-old-4d5e6f"):
        (tmp_path / name / output.MARKER).mkdir(parents=True)
    (tmp_path / ".out.old.abcd1234" / "x").mkdir(parents=True)
    (tmp_path / ".out.old.abcd1234" / "x" / "layout.json").write_text(LAYOUT)
    (tmp_path / ".out.k2j3h4g5").mkdir()
    (tmp_path / ".out.q1w2e3r4").mkdir()
    (tmp_path / ".out.q1w2e3r4" / "layout.json").write_text(LAYOUT)
    # not ours: kept
    (tmp_path / ".out.amp-tmp-mine").mkdir()
    (tmp_path / ".out.amp-tmp-mine" / "notes.md").write_text("mine\n")
    (tmp_path / ".out.settings").mkdir()
    (tmp_path / ".out.settings" / "a").write_text("mine\n")
    output.write_outputs(NEW, out)
    assert sorted(os.listdir(tmp_path)) == [".out.amp-tmp-mine", ".out.settings", "out"]
    assert tree(out) == NEW


def test_a_stranded_old_output_is_put_back(tmp_path):
    """The two-rename fallback was killed between its renames: out is missing and
    the old copy sits in .out.amp-old-*; the next run (even a failing one) restores it."""
    output.write_outputs(OLD, tmp_path / "out")
    os.rename(tmp_path / "out", tmp_path / ".out.amp-old-zz9")
    output._clean_leftovers(tmp_path, "out")
    assert tree(tmp_path / "out") == OLD
    assert sorted(os.listdir(tmp_path)) == ["out"]


# (generated path, the message after "refusing to write ")
BAD_PATHS = [
    ("../escape.txt", "'../escape.txt': the file name '..' is not a file name"),
    ("rpu0//amp.conf", "'rpu0//amp.conf': the file name '' is not a file name"),
    ("/etc/passwd", "'/etc/passwd': the file name '' is not a file name"),
    ("rpu0\n/amp.conf", ("'rpu0\\n/amp.conf': the file name holds a path separator or a "
     "control character")),
    ("x" * 256 + ".h", "'" + "x" * 256 + ".h': the file name is longer than 255 bytes"),
    (".zephyr-amp-output", "'.zephyr-amp-output': the file name is the output marker's name"),
]


@pytest.mark.parametrize("rel,message", BAD_PATHS, ids=range(len(BAD_PATHS)))
def test_generated_paths_stay_inside_the_output(tmp_path, rel, message):
    with pytest.raises(AmpError) as e:
        output.write_outputs(dict(NEW, **{rel: "x\n"}), tmp_path / "a" / "out")
    assert str(e.value) == "refusing to write " + message
    assert "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_render_still_exports_write_outputs():
    from zephyr_amp import render
    assert render.write_outputs is output.write_outputs


@pytest.mark.skipif(sys.platform != "linux", reason="renameat2 is Linux's")
def test_exchange_swaps_two_directories(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "in_a").write_text("")
    output._exchange(tmp_path / "a", tmp_path / "b")
    assert os.listdir(tmp_path / "b") == ["in_a"] and os.listdir(tmp_path / "a") == []

"""Zephyr version targeting: which Zephyr the generated files are for.

- The version comes from the workspace's zephyr/VERSION (ZEPHYR_BASE, else the west
  workspace's zephyr project), else from the option, else 4.4; only 4.4 and 3.7 are
  supported, and an unsupported one is one clear error naming where it came from.
- It goes System -> Layout -> render: the resource table follows the target's
  lib/open-amp API (3.7: struct fw_resource_table **; 4.4: void **).
- A link whose kind needs what the target lacks (virtio-mmio native and HVL on 3.7,
  which has no drivers/virtio) is an error at the link's line, before anything is
  written, not a Kconfig abort at build time.
"""

import subprocess
import sys
import textwrap

import pytest

from conftest import REPO
from zephyr_amp import config, zephyr_version
from zephyr_amp.errors import InputError, UsageError

V37 = "VERSION_MAJOR = 3\nVERSION_MINOR = 7\nPATCHLEVEL = 0\nVERSION_TWEAK = 0\nEXTRAVERSION =\n"
V44 = V37.replace("= 3", "= 4").replace("MINOR = 7", "MINOR = 4")


def tree(tmp_path, text, name="zephyr"):
    d = tmp_path / name
    d.mkdir()
    (d / "VERSION").write_text(text)
    return d


def test_version_file_is_read():
    assert zephyr_version.parse_version_file(V37) == "3.7"
    assert zephyr_version.parse_version_file(V44) == "4.4"
    assert zephyr_version.parse_version_file("nothing here\n") is None


def test_workspace_version_wins_over_the_default(tmp_path, monkeypatch):
    monkeypatch.delenv("ZEPHYR_BASE", raising=False)
    assert zephyr_version.target() == "4.4"
    assert zephyr_version.target("3.7") == "3.7"
    assert zephyr_version.target(zephyr_base=str(tree(tmp_path, V37))) == "3.7"
    monkeypatch.setenv("ZEPHYR_BASE", str(tmp_path / "zephyr"))
    assert zephyr_version.target() == "3.7"


def test_west_workspace_zephyr_project(tmp_path, monkeypatch):
    """No ZEPHYR_BASE: the zephyr project of the west workspace at topdir."""
    monkeypatch.delenv("ZEPHYR_BASE", raising=False)
    top = tmp_path / "ws"
    (top / ".west").mkdir(parents=True)
    (top / "manifest").mkdir()
    (top / ".west" / "config").write_text("[manifest]\npath = manifest\nfile = west.yml\n")
    (top / "manifest" / "west.yml").write_text(textwrap.dedent("""\
        manifest:
          projects:
            - name: zephyr
              url: https://example.invalid/zephyr
              revision: main
              path: zephyr
        """))
    tree(top, V37)
    assert zephyr_version.target(topdir=str(top)) == "3.7"


@pytest.mark.parametrize("text, option, message", [
    (V37.replace("MINOR = 7", "MINOR = 6"), None,
     "/VERSION: Zephyr 3.6 is not supported (zephyr-amp generates for Zephyr 4.4 and 3.7)"),
    (None, "4.1", "--zephyr-version: Zephyr 4.1 is not supported"),
    (None, "four", "--zephyr-version: Zephyr four is not supported"),
    (V44, "3.7", "--zephyr-version 3.7: the workspace's Zephyr is 4.4"),
])
def test_unsupported_or_contradicting_versions(tmp_path, monkeypatch, text, option, message):
    monkeypatch.delenv("ZEPHYR_BASE", raising=False)
    base = str(tree(tmp_path, text)) if text else None
    with pytest.raises(UsageError) as e:
        zephyr_version.target(option, zephyr_base=base)
    assert message in str(e.value)


def test_unsupported_version_stops_configure():
    with pytest.raises(UsageError, match="Zephyr 3.6 is not supported"):
        config.configure(REPO / "systems" / "kv260-rpmsg.yaml", zephyr_version="3.6")


def test_version_reaches_the_resource_table():
    sysf = REPO / "systems" / "kv260-rpmsg.yaml"
    new = config.configure(sysf)
    old = config.configure(sysf, zephyr_version="3.7")
    assert new.system.zephyr_version == "4.4" and old.layout.system.zephyr_version == "3.7"
    assert "void rsc_table_get(void **table_ptr, int *length);" in \
        new.files["rpu0/resource_table.h"]
    assert "void rsc_table_get(struct fw_resource_table **table_ptr, int *length);" in \
        old.files["rpu0/resource_table.h"]


@pytest.mark.parametrize("system, key", [("qemu-r5-hvl.yaml", "links[0].transport"),
                                         ("qemu-a53-virtio.yaml", "links[0].transport")])
def test_virtio_on_37_is_an_error_at_the_link(system, key):
    path = REPO / "systems" / system
    lines = path.read_text().splitlines()
    line = next(i for i, x in enumerate(lines, 1) if x.strip().startswith("transport:"))
    with pytest.raises(InputError) as e:
        config.configure(path, zephyr_version="3.7")
    msg = str(e.value)
    assert f"{system}:{line}:" in msg and f"{key}: " in msg, msg
    assert "virtio drivers" in msg and "Zephyr 3.7" in msg and "4.4" in msg, msg
    config.configure(path)          # the default target, 4.4, has them


def test_virtio_on_37_writes_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(InputError):
        config.generate(REPO / "systems" / "qemu-r5-hvl.yaml", out, zephyr_version="3.7")
    assert not out.exists()


def test_rpmsg_and_ivshmem_are_fine_on_37():
    for name in ("kv260-rpmsg.yaml", "kv260-split-rpmsg.yaml", "qemu-a53-ivshmem.yaml"):
        config.configure(REPO / "systems" / name, zephyr_version="3.7")


def test_no_traceback_from_the_library_error():
    """The error is an AmpError (the west command prints str() and exits non-zero)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]);"
            "from zephyr_amp import config;"
            "from zephyr_amp.errors import AmpError\n"
            "try:\n config.configure(sys.argv[2], zephyr_version='3.7')\n"
            "except AmpError as e:\n print(e); sys.exit(e.exit_code)")
    r = subprocess.run([sys.executable, "-c", code, str(REPO / "scripts" / "west_commands"),
                        str(REPO / "systems" / "qemu-r5-hvl.yaml")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert len(r.stdout.strip().splitlines()) == 1, r.stdout


def test_amp_config_zephyr_version_flag(tmp_path):
    """--zephyr-version through the command (outside any Zephyr workspace): 3.7 refuses a
    virtio link at its line and writes nothing; an unsupported version is a usage error;
    3.7 writes the 3.7 resource-table API."""
    import os
    import subprocess
    import sys

    from conftest import REPO

    env = {k: v for k, v in os.environ.items() if k != "ZEPHYR_BASE"}
    env["PYTHONPATH"] = str(REPO / "scripts" / "west_commands")   # this checkout's library

    def amp_config(*args):
        return subprocess.run([sys.executable, "-m", "zephyr_amp", "amp-config", *map(str, args)],
                              cwd=tmp_path, env=env, capture_output=True, text=True)

    hvl = REPO / "systems" / "qemu-r5-hvl.yaml"
    r = amp_config(hvl, "-o", tmp_path / "hvl", "--zephyr-version", "3.7")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "qemu-r5-hvl.yaml:33:16: links[0].transport: link 'hvl0' needs Zephyr's virtio" \
        in r.stderr
    assert not (tmp_path / "hvl").exists()
    r = amp_config(hvl, "--check", "--zephyr-version", "3.6")
    assert r.returncode == 2 and "Zephyr 3.6 is not supported" in r.stderr, r.stderr
    out = tmp_path / "rpmsg"
    r = amp_config(REPO / "systems" / "kv260-rpmsg.yaml", "-o", out, "--zephyr-version", "3.7")
    assert r.returncode == 0, r.stderr
    v37 = (out / "rpu0" / "resource_table.h").read_text()
    r = amp_config(REPO / "systems" / "kv260-rpmsg.yaml", "-o", out, "--zephyr-version", "4.4")
    assert r.returncode == 0, r.stderr
    assert (out / "rpu0" / "resource_table.h").read_text() != v37

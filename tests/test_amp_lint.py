"""west amp-lint on real hand-written files and on files the tests write.

The command runs as a child process through its standalone entry
(python scripts/west_commands/amp_lint.py), the same parser and do_run as
`west amp-lint`. Inputs: OpenAMP's own KV260 pair in ../shared/openamp-sysref
(its Linux overlay reserves a 1 MiB vdev0buffer, its Zephyr overlay declares
512 KiB of zephyr,ipc_shm), files amp-config generates, and edits of both.
"""

import json
import subprocess
import sys

import pytest
from conftest import REPO, ZEPHYR_DTS, need, need_tool

COMMAND = REPO / "scripts" / "west_commands" / "amp_lint.py"
SYSREF = REPO.parent / "shared" / "openamp-sysref" / "examples"
LINUX = SYSREF / "linux" / "dts" / "xilinx" / "zynqmp-openamp.dtso"
ZEPHYR = SYSREF / "zephyr" / "rpmsg_multi_services" / "boards" / "kv260_r5.overlay"


def run(*args, cwd=None):
    return subprocess.run([sys.executable, str(COMMAND), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, check=False)


def findings(r):
    """The finding lines of a run (the summary line starts with 'amp-lint:')."""
    return [ln for ln in r.stdout.splitlines() if not ln.startswith("amp-lint:")]


@pytest.fixture(scope="module")
def sysref():
    need(LINUX.is_file() and ZEPHYR.is_file(), f"OpenAMP's KV260 files not found in {SYSREF}")
    need(ZEPHYR_DTS.is_dir(), f"Zephyr devicetree fixtures not found at {ZEPHYR_DTS}")
    for t in ("cpp", "dtc"):
        need_tool(t)
    return LINUX, ZEPHYR


def test_kv260_pair_reports_the_ipc_shm_disagreement_and_nothing_else(sysref):
    r = run(*sysref, "--zephyr-dts", ZEPHYR_DTS)
    assert r.returncode == 1, r.stderr
    lines = findings(r)
    assert len(lines) == 1, r.stdout
    line = lines[0]
    assert line.startswith(f"{ZEPHYR}:28: SHM-COVER: zephyr,ipc_shm is [0x3ed40000, "
                           "0x3edc0000) (512 KiB), but Linux reserves [0x3ed40000, 0x3ee48000)")
    assert f"see {LINUX}:36" in line                     # vdev0buffer's reg
    assert "vdev0buffer [0x3ed48000, 0x3ee48000) (1 MiB)" in line
    assert "out of Zephyr's reach" in line               # what the driver will do
    assert "fix: make zephyr,ipc_shm (rpu0_ipc_shm) reg = <0x3ed40000 0x108000>" in line
    assert r.stdout.splitlines()[-1] == "amp-lint: 1 finding(s) in 2 file(s)"


def test_json_to_stdout_and_to_a_file(sysref, tmp_path):
    r = run(*sysref, "--zephyr-dts", ZEPHYR_DTS, "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["format"] == "zephyr-amp-lint" and doc["ok"] is False
    (f,) = doc["findings"]
    assert f["check"] == "SHM-COVER"
    assert [(w["file"], w["line"]) for w in f["where"]] == [(str(ZEPHYR), 28), (str(LINUX), 36)]
    assert f["ranges"] == ["[0x3ed40000, 0x3edc0000)", "[0x3ed40000, 0x3ee48000)"]
    out = tmp_path / "lint.json"
    r = run(*sysref, "--zephyr-dts", ZEPHYR_DTS, "--json", out)
    assert r.returncode == 1 and json.loads(out.read_text()) == doc
    assert r.stdout.startswith(f"{ZEPHYR}:28: SHM-COVER")


def test_with_the_board_the_rpu1_mailbox_is_checked_too(sysref):
    """Nothing pairs the overlay's ipi_mailbox_rpu1 (no Zephyr file for RPU1); against
    board kv260 (Zephyr's zynqmp_rpu.dtsi) its buffers are RPU1<->RPU0's."""
    r = run(*sysref, "--zephyr-dts", ZEPHYR_DTS, "--board", "kv260")
    assert r.returncode == 1
    checks = [ln.split(": ")[1] for ln in findings(r)]
    assert checks == ["SHM-COVER", "MBOX-BOARD"], r.stdout
    assert f"{LINUX}:79: MBOX-BOARD: ipi_mailbox_rpu1" in r.stdout
    assert "0xff990080, 0xff9900a0, 0xff990400, 0xff990420" in r.stdout


def test_the_fixed_pair_is_clean(sysref, tmp_path):
    """The same pair with the fix the finding names: no finding, exit 0."""
    z = tmp_path / "kv260_r5.overlay"
    z.write_text(ZEPHYR.read_text().replace("DT_SIZE_K(512)", "0x108000"))
    (tmp_path / "zynqmp_r5_override.dtsi").write_text(
        (ZEPHYR.parent / "zynqmp_r5_override.dtsi").read_text())
    r = run(LINUX, z, "--zephyr-dts", ZEPHYR_DTS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert findings(r) == []
    assert r.stdout == "amp-lint: 2 file(s) agree\n"


@pytest.fixture(scope="module")
def generated_kv260(tmp_path_factory):
    sys.path.insert(0, str(REPO / "scripts" / "west_commands"))
    from zephyr_amp import config
    out = tmp_path_factory.mktemp("lint") / "kv260-split-rpmsg"
    config.generate(REPO / "systems" / "kv260-split-rpmsg.yaml", out)
    return out


def test_generated_files_agree(sysref, generated_kv260):
    g = generated_kv260
    r = run(g / "linux" / "amp.dtso", g / "rpu0" / "amp.overlay", g / "rpu1" / "amp.overlay",
            "--zephyr-dts", ZEPHYR_DTS, "--board", "kv260")
    assert r.returncode == 0, r.stdout + r.stderr


ALL = sorted((REPO / "systems").glob("*.yaml")) + \
    sorted((REPO / "tests" / "data" / "valid").glob("*.yaml"))


@pytest.mark.parametrize("system", ALL, ids=[s.stem for s in ALL])
def test_the_files_amp_config_writes_agree(sysref, system, tmp_path):
    """Every system's generated overlays and a firmware linked with its generated files:
    no finding (a finding here is one that is not wrong)."""
    from test_amp_import import inputs
    from zephyr_amp import config
    root = REPO / "tests" / "data" / "boards"
    lay = config.generate(system, tmp_path / "gen", [root]).layout.to_json()
    files = inputs(tmp_path / "gen", lay, tmp_path)
    r = run(*files, "--board", lay["system"]["board"], "--board-root", root,
            "--zephyr-dts", ZEPHYR_DTS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == f"amp-lint: {len(files)} file(s) agree\n"


def test_overlapping_reservations(sysref, generated_kv260, tmp_path):
    text = (generated_kv260 / "linux" / "amp.dtso").read_text()
    # rpu1's vring0 moved onto rpu0's buffers
    bad = tmp_path / "amp.dtso"
    bad.write_text(text.replace("vdev0vring0@3ed46000", "vdev0vring0@3ed43000")
                   .replace("<0x0 0x3ed46000 0x0 0x1000>", "<0x0 0x3ed43000 0x0 0x1000>"))
    assert bad.read_text() != text
    r = run(bad)
    assert r.returncode == 1
    assert "OVERLAP" in r.stdout and f"{bad}:" in r.stdout, r.stdout


def test_unparsable_dts_names_file_and_line(tmp_path):
    need_tool("dtc")
    bad = tmp_path / "broken.dtso"
    bad.write_text("/dts-v1/;\n/plugin/;\n\n&{/} {\n\treserved-memory {\n\t\treg = <1 2;\n"
                   "\t};\n};\n")
    r = run(bad)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1, r.stderr
    assert f"{bad}:6: " in r.stderr
    assert "Traceback" not in r.stderr


def test_a_file_of_the_wrong_kind(tmp_path):
    yaml = REPO / "systems" / "kv260-rpmsg.yaml"
    r = run(yaml)
    assert r.returncode == 1
    assert f"{yaml}: is not a devicetree source" in r.stderr
    assert "Traceback" not in r.stderr
    r = run(tmp_path / "missing.dts")
    assert r.returncode == 1 and "no such file" in r.stderr


def test_no_zephyr_tree_is_could_not_run(sysref, tmp_path):
    r = subprocess.run([sys.executable, str(COMMAND), str(ZEPHYR)], cwd=tmp_path,
                       capture_output=True, text=True, check=False,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert r.returncode == 2, r.stderr
    assert "--zephyr-dts" in r.stderr

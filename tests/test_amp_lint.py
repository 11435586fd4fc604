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


# -- checks that need the firmware ELF ----------------------------------------------

@pytest.fixture(scope="module")
def kv260_rpmsg(tmp_path_factory):
    """kv260-rpmsg's generated files and a firmware linked with them."""
    from test_amp_import import firmware

    from zephyr_amp import config
    root = tmp_path_factory.mktemp("elf")
    lay = config.generate(REPO / "systems" / "kv260-rpmsg.yaml", root / "gen").layout.to_json()
    return root / "gen", firmware(root / "gen", "rpu0", lay, root / "fw")


def _edited(src, tmp_path, *pairs):
    text = src.read_text()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    out = tmp_path / src.name
    out.write_text(text)
    return out


def test_buffer_pool_too_small_for_the_tables_vrings(sysref, kv260_rpmsg, tmp_path):
    gen, elf = kv260_rpmsg
    dtso = _edited(gen / "linux" / "amp.dtso", tmp_path,
                   ("reg = <0x0 0x3ed42000 0x0 0x2000>", "reg = <0x0 0x3ed42000 0x0 0x1000>"))
    r = run(dtso, elf, "--board", "kv260")
    assert r.returncode == 1
    (line,) = findings(r)
    assert line.startswith(f"{dtso}:35: BUF-SIZE: 8-entry vrings make Linux's "
                           "virtio_rpmsg_bus allocate 0x2000 bytes of buffers")
    assert f"see {elf} (.resource_table entry 0 at +0x18)" in line


def test_vring_pinned_elsewhere_and_too_small(sysref, kv260_rpmsg, tmp_path):
    gen, elf = kv260_rpmsg
    dtso = _edited(gen / "linux" / "amp.dtso", tmp_path,
                   ("reg = <0x0 0x3ed41000 0x0 0x1000>", "reg = <0x0 0x3ed41000 0x0 0x80>"),
                   ("reg = <0x0 0x3ed40000 0x0 0x1000>", "reg = <0x0 0x3ed40800 0x0 0x800>"))
    r = run(dtso, elf)
    assert r.returncode == 1
    checks = sorted(ln.split(": ")[1] for ln in findings(r))
    assert checks == ["VRING-DA", "VRING-SIZE", "VRING-SIZE"], r.stdout
    assert "the table pins vring 0 of vdev 0 at 0x3ed40000, Linux reserves vdev0vring0 " \
           "[0x3ed40800, 0x3ed41000)" in r.stdout


def test_mailbox_that_does_not_pair(sysref, kv260_rpmsg, tmp_path):
    gen, _elf = kv260_rpmsg
    dtso = _edited(gen / "linux" / "amp.dtso", tmp_path,
                   ("xlnx,ipi-id = <1>;", "xlnx,ipi-id = <2>;"))
    r = run(dtso, gen / "rpu0" / "amp.overlay", "--zephyr-dts", ZEPHYR_DTS)
    assert r.returncode == 1
    (line,) = findings(r)
    assert line.startswith(f"{dtso}:83: MBOX-PAIR: /__amp_base__/rproc_lockstep/r5f@0 kicks "
                           "through ipi_mailbox_rpu0 (xlnx,ipi-id 2) but zephyr,ipc "
                           "rpu0_apu_mailbox is IPI agent 1")
    buffers = _edited(gen / "linux" / "amp.dtso", tmp_path,
                      ("<0x0 0xff990200 0x0 0x20>", "<0x0 0xff990400 0x0 0x20>"))
    r = run(buffers, gen / "rpu0" / "amp.overlay", "--zephyr-dts", ZEPHYR_DTS)
    (line,) = findings(r)
    assert "MBOX-PAIR: the message buffers of ipi_mailbox_rpu0 do not mirror zephyr,ipc " \
           "rpu0_apu_mailbox: remote_request_region 0xff990400 vs Zephyr's " \
           "local_request_region 0xff990200" in line


def test_a_vdev_without_its_buffer(sysref, kv260_rpmsg, tmp_path):
    gen, _elf = kv260_rpmsg
    dtso = _edited(gen / "linux" / "amp.dtso", tmp_path,
                   ("memory-region = <&rpu0_vdev0buffer>, ", "memory-region = "))
    r = run(dtso)
    assert r.returncode == 1
    (line,) = findings(r)
    assert "VDEV-PARTS: /__amp_base__/rproc_lockstep/r5f@0 lists vdev0vring0, vdev0vring1 but no " \
           "vdev0buffer" in line


def test_firmware_segment_outside_the_carveout(sysref, tmp_path):
    """kv260-ddr-carveouts runs rpu0 from a 1 MiB DDR carveout; cut it to 4 KiB."""
    from test_amp_import import firmware

    from zephyr_amp import config
    system = REPO / "tests" / "data" / "valid" / "kv260-ddr-carveouts.yaml"
    lay = config.generate(system, tmp_path / "gen").layout.to_json()
    elf = firmware(tmp_path / "gen", "rpu0", lay, tmp_path / "fw")
    dtso = _edited(tmp_path / "gen" / "linux" / "amp.dtso", tmp_path,
                   ("reg = <0x0 0x3ed40000 0x0 0x100000>", "reg = <0x0 0x3ed40000 0x0 0x1000>"))
    r = run(dtso, elf, "--board", "kv260")
    assert r.returncode == 1
    lines = findings(r)
    assert lines and all(": SEG-OUT: " in ln for ln in lines), r.stdout
    assert lines[0].startswith(f"{elf} (PT_LOAD ")
    assert "remoteproc refuses the image (bad phdr da" in lines[0]


def test_a_compiled_overlay_reads_the_same(sysref, tmp_path):
    """OpenAMP's overlay as a .dtbo (dtc -@): same finding, the node path for a line."""
    dtbo = tmp_path / "zynqmp-openamp.dtbo"
    subprocess.run([need_tool("dtc"), "-q", "-@", "-I", "dts", "-O", "dtb", "-o", str(dtbo),
                    str(LINUX)], check=True)
    r = run(dtbo, ZEPHYR, "--zephyr-dts", ZEPHYR_DTS)
    assert r.returncode == 1
    (line,) = findings(r)
    assert line.startswith(f"{ZEPHYR}:28: SHM-COVER: ")
    assert f"see {dtbo} (/fragment@0/__overlay__/reserved-memory/vdev0buffer@3ed48000 reg)" \
        in line


def test_an_unparsable_zephyr_overlay_names_its_line(sysref, tmp_path):
    bad = tmp_path / "kv260_r5.overlay"
    bad.write_text("/ {\n\tchosen {\n\t\tzephyr,ipc_shm = &nowhere;\n\t};\n};\n")
    r = run(bad, "--zephyr-dts", ZEPHYR_DTS)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and f"{bad}:3" in r.stderr, r.stderr
    assert "nowhere" in r.stderr

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


# -- hypervisorless virtio and ivshmem (lint_links.py) ---------------------------------

@pytest.fixture(scope="module")
def kv260_hvl(tmp_path_factory):
    """kv260-hvl's generated files: Linux overlay, device file, Zephyr overlay."""
    from zephyr_amp import config
    out = tmp_path_factory.mktemp("hvl") / "gen"
    config.generate(REPO / "systems" / "kv260-hvl.yaml", out)
    return out


@pytest.fixture(scope="module")
def ivshmem(tmp_path_factory):
    """qemu-a53-ivshmem's generated QEMU, server and header files."""
    from zephyr_amp import config
    out = tmp_path_factory.mktemp("ivshmem") / "gen"
    config.generate(REPO / "systems" / "qemu-a53-ivshmem.yaml", out)
    return out


def _hvl_files(gen, **edits):
    """(amp.dtso, amp.overlay, hvl0.hvl.json) of kv260-hvl, each possibly edited."""
    paths = {"dtso": gen / "linux" / "amp.dtso", "overlay": gen / "rpu0" / "amp.overlay",
             "json": gen / "linux" / "hvl0.hvl.json"}
    return [edits.get(k, p) for k, p in paths.items()]


def _lint_hvl(files):
    return run(*files, "--zephyr-dts", ZEPHYR_DTS, "--board", "kv260")


def test_generated_hvl_files_agree(sysref, kv260_hvl):
    r = _lint_hvl(_hvl_files(kv260_hvl))
    assert r.returncode == 0 and r.stdout == "amp-lint: 3 file(s) agree\n", r.stdout


def test_hvl_pool_in_another_place(sysref, kv260_hvl, tmp_path):
    json_ = _edited(kv260_hvl / "linux" / "hvl0.hvl.json", tmp_path,
                    ('"size": 16740352', '"size": 16736256'))
    r = _lint_hvl(_hvl_files(kv260_hvl, json=json_))
    assert r.returncode == 1
    (line,) = findings(r)
    assert line.startswith(f"{kv260_hvl / 'rpu0' / 'amp.overlay'}:60: HVL-AREA: the pool of "
                           "HVL link hvl0 is [0x37009000, 0x38000000) in the Zephyr overlay, "
                           "[0x37009000, 0x37fff000) in the device file")
    assert f"see {json_} (pool)" in line


def test_hvl_window_that_moved(sysref, kv260_hvl, tmp_path):
    json_ = _edited(kv260_hvl / "linux" / "hvl0.hvl.json", tmp_path,
                    ('"base": 922747392', '"base": 922747904'))
    (line,) = findings(_lint_hvl(_hvl_files(kv260_hvl, json=json_)))
    assert ": HVL-WINDOW: HVL link hvl0: net0 is [0x37000200, 0x37000400) (device ID 1) in " \
        "the Zephyr overlay, [0x37000400, 0x37000600) (device ID 1) in the device file" in line
    assert f"{kv260_hvl / 'rpu0' / 'amp.overlay'}:87: " in line


def test_hvl_kicks_through_another_mailbox(sysref, kv260_hvl, tmp_path):
    json_ = _edited(kv260_hvl / "linux" / "hvl0.hvl.json", tmp_path,
                    ('"zephyr_label": "rpu0_apu_mailbox"', '"zephyr_label": "rpu1_apu_mailbox"'))
    (line,) = findings(_lint_hvl(_hvl_files(kv260_hvl, json=json_)))
    assert ": HVL-IPI: HVL link hvl0: the Zephyr overlay kicks through rpu0_apu_mailbox, " \
        "the device file through rpu1_apu_mailbox" in line


def test_hvl_queues_too_large_for_their_vrings_and_pool(sysref, kv260_hvl, tmp_path):
    json_ = _edited(kv260_hvl / "linux" / "hvl0.hvl.json", tmp_path,
                    ('"queue_size": 256', '"queue_size": 1024'),
                    ('"size": 16740352', '"size": 65536'))
    r = run(kv260_hvl / "linux" / "amp.dtso", json_, "--board", "kv260")
    lines = findings(r)
    assert [ln.split(": ")[1] for ln in lines] == ["HVL-QUEUE"] * 3, r.stdout
    assert lines[0].startswith(f"{json_} (windows[1].queues[0] net0): HVL-QUEUE: HVL link "
                               "hvl0: vring 0 of net0 (1024 descriptors, 0x7006 bytes) at "
                               "0x37003000 does not fit [0x37003000, 0x37006000)")
    assert "the queues' buffers take 0x401000 bytes, the pool [0x37009000, 0x37019000) has " \
        "0x10000" in lines[2]


def test_hvl_region_linux_does_not_reserve_whole(sysref, kv260_hvl, tmp_path):
    dtso = _edited(kv260_hvl / "linux" / "amp.dtso", tmp_path,
                   ("reg = <0x0 0x37000000 0x0 0x1000000>;",
                    "reg = <0x0 0x37000000 0x0 0x800000>;"))
    (line,) = findings(_lint_hvl(_hvl_files(kv260_hvl, dtso=dtso)))
    assert ": HVL-SHM: the pre-shared region of HVL link hvl0 is amp_hvl0_shm [0x37000000, " \
        "0x38000000) (16 MiB) in the Zephyr overlay; Linux reserves shm [0x37000000, " \
        f"0x37800000) (8 MiB) (see {dtso}:22)" in line
    assert "fix: reserve reg = <0x37000000 0x1000000> (no-map)" in line


def _ivshmem_files(gen, **edits):
    paths = {"host": gen / "host" / "qemu.args", "remote": gen / "remote" / "qemu.args",
             "server": gen / "ivshmem0" / "ivshmem-server.args",
             "hhost": gen / "host" / "amp_layout.h", "hremote": gen / "remote" / "amp_layout.h"}
    return [edits.get(k, p) for k, p in paths.items()]


def test_generated_ivshmem_files_agree(ivshmem):
    r = run(*_ivshmem_files(ivshmem))
    assert r.returncode == 0 and r.stdout == "amp-lint: 5 file(s) agree\n", r.stdout


def test_ivshmem_peers_on_other_sockets_and_vectors(ivshmem, tmp_path):
    remote = _edited(ivshmem / "remote" / "qemu.args", tmp_path,
                     ("qemu-a53-ivshmem-ivshmem0.sock", "other.sock"))
    lines = findings(run(*_ivshmem_files(ivshmem, remote=remote)))
    assert [ln.split(": ")[1] for ln in lines] == ["IVSHMEM-PEER"] * 2
    assert lines[0].startswith(f"{remote}:11: IVSHMEM-PEER: ivshmem ivshmem0: doorbell on "
                               "run/qemu-a53-ivshmem-ivshmem0.sock here, doorbell on "
                               "run/other.sock there")
    assert "no ivshmem-server given listens there" in lines[1]
    (tmp_path / "v").mkdir()
    vectors = _edited(ivshmem / "remote" / "qemu.args", tmp_path / "v",
                      ("vectors=2", "vectors=1"))
    (line,) = findings(run(*_ivshmem_files(ivshmem, remote=vectors)))
    assert line.startswith(f"{vectors}:11: IVSHMEM-PEER: ivshmem ivshmem0: the device has "
                           "vectors=1, the server hands out -n 2 (see "
                           f"{ivshmem / 'ivshmem0' / 'ivshmem-server.args'}:9)")


def test_ivshmem_sizes_that_differ(ivshmem, tmp_path):
    server = _edited(ivshmem / "ivshmem0" / "ivshmem-server.args", tmp_path,
                     ("\n4194304\n", "\n2097152\n"))
    (line,) = findings(run(*_ivshmem_files(ivshmem, server=server)))
    assert ": IVSHMEM-SIZE: ivshmem ivshmem0: ivshmem-server -l gives 0x200000 bytes, " \
        "AMP_IVSHMEM0_SIZE 0x400000" in line
    assert f"see {server}:7" in line


def test_ivshmem_headers_that_lay_the_bar_out_differently(ivshmem, tmp_path):
    header = _edited(ivshmem / "remote" / "amp_layout.h", tmp_path,
                     ("AMP_IVSHMEM0_VRING_NUM 16", "AMP_IVSHMEM0_VRING_NUM 8"))
    (line,) = findings(run(*_ivshmem_files(ivshmem, hremote=header)))
    assert line.startswith(f"{header}:51: IVSHMEM-LAYOUT: the two sides lay out ivshmem "
                           "ivshmem0 differently: AMP_IVSHMEM0_VRING_NUM 16 vs 8")


# -- bad input of the new kinds --------------------------------------------------------

def test_a_qemu_args_file_that_is_not_one(tmp_path):
    cases = [("qemu.args", "hello world\n", ":1: is not a command line: its first argument "
              "'hello world' is no option"),
             ("qemu.args", "-device\nivshmem-doorbell,chardev=nope,vectors=2\n",
              ":2: ivshmem-doorbell names chardev=nope, and no -chardev has that id"),
             ("tool.args", "-x\n-y\n", ":1: is not a QEMU command line: none of its options "
              "(-x, -y) is QEMU's"),
             ("ivshmem-server.args", "-F\n-x\n1\n", ":2: '-x' is not an ivshmem-server option"),
             ("run.args", "qemu-system-aarch64 -device 'ivshmem-plain,memdev=m\n",
              ":1: cannot split it into shell words: No closing quotation")]
    for name, text, what in cases:
        bad = tmp_path / name
        bad.write_text(text)
        r = run(bad)
        assert r.returncode == 1, r.stderr
        assert f"{bad}{what}" in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_an_hvl_node_or_device_file_with_missing_properties(sysref, kv260_hvl, tmp_path):
    overlay = kv260_hvl / "rpu0" / "amp.overlay"
    cases = [("ipm = <&rpu0_apu_mailbox>;", "", ":58: the openamp,virtio-hvl node "
              "/hvl@37000000 has no ipm"),
             ('reg-names = "windows", "vrings", "pool";', 'reg-names = "windows", "vrings";',
              ":60: the openamp,virtio-hvl node /hvl@37000000 has no pool in reg / reg-names"),
             ("memory-region = <&amp_hvl0_shm>;", "", ":58: the openamp,virtio-hvl node "
              "/hvl@37000000 has no memory-region")]
    for old, new, what in cases:
        bad = _edited(overlay, tmp_path, (old, new))
        r = run(bad, "--zephyr-dts", ZEPHYR_DTS, "--target", "kv260_r5")
        assert r.returncode == 1, r.stderr
        assert f"{bad}{what}" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    doc = tmp_path / "hvl0.hvl.json"
    doc.write_text('{"format": "zephyr-amp-hvl-device", "link": "hvl0"}\n')
    r = run(doc)
    assert r.returncode == 1 and f"{doc}: the HVL device file has no shm" in r.stderr
    doc.write_text('{"format": \n')
    r = run(doc)
    assert r.returncode == 1 and f"{doc}:2: is not valid JSON" in r.stderr


def test_plain_ivshmem_of_hand_written_command_lines(tmp_path):
    """Two shell command lines, one with QEMU's JSON -object: other memory files and
    other sizes are findings; the same ones are not."""
    a, b = tmp_path / "a.args", tmp_path / "b.args"
    a.write_text("qemu-system-aarch64 -machine virt \\\n  -object memory-backend-file,"
                 "id=m,share=on,mem-path=/dev/shm/amp,size=4M \\\n"
                 "  -device ivshmem-plain,memdev=m,id=iv0\n")
    b.write_text("qemu-system-aarch64 -machine virt \\\n  -object '{\"qom-type\": "
                 "\"memory-backend-file\", \"id\": \"m\", \"share\": true, \"mem-path\": "
                 "\"/dev/shm/other\", \"size\": 8388608}' \\\n"
                 "  -device ivshmem-plain,memdev=m,id=iv0\n")
    lines = findings(run(a, b))
    assert [ln.split(": ")[1] for ln in lines] == ["IVSHMEM-PEER", "IVSHMEM-SIZE"], lines
    assert lines[0].startswith(f"{b}:3: IVSHMEM-PEER: ivshmem iv0: plain on /dev/shm/amp "
                               "here, plain on /dev/shm/other there")
    assert lines[1].startswith(f"{b}:2: IVSHMEM-SIZE: ivshmem iv0: the memory backend of "
                               f"{tmp_path.name}/a.args gives 0x400000 bytes, the memory "
                               f"backend of {tmp_path.name}/b.args 0x800000")
    b.write_text(a.read_text())
    r = run(a, b)
    assert r.returncode == 0 and r.stdout == "amp-lint: 2 file(s) agree\n", r.stdout


def test_hvl_areas_that_overlap_in_one_file(sysref, kv260_hvl, tmp_path):
    overlay = _edited(kv260_hvl / "rpu0" / "amp.overlay", tmp_path,
                      ("<0x37009000 0xff7000>", "<0x37008000 0xff8000>"),
                      ("reg = <0x37000200 0x200>;", "reg = <0x37001000 0x200>;"))
    r = run(kv260_hvl / "linux" / "amp.dtso", overlay, "--zephyr-dts", ZEPHYR_DTS,
            "--board", "kv260")
    assert findings(r) == [
        f"{overlay}:87: HVL-AREA: HVL link hvl0: the window of net0 [0x37001000, 0x37001200) "
        "is not inside the windows area [0x37000000, 0x37001000); its registers lie over the "
        "vrings or the pool, and the rings and buffers overwrite them; fix: put it inside "
        "[0x37000000, 0x37001000)",
        f"{overlay}:60: HVL-AREA: HVL link hvl0: the vrings [0x37001000, 0x37009000) run into "
        "the pool from 0x37008000; rings, windows and bounce buffers overwrite each other; "
        "fix: end the vrings at 0x37008000 or move the pool"], r.stdout

"""The boards as each supported Zephyr declares them (issue 9: v4.4 moved things).

tests/data/zephyr-4.4 turns the v3.7 fixtures into what v4.4's board files declare;
these tests pin that those files say what their README says, and that amp-config
follows the targeted Zephyr where the difference matters: qemu_cortex_r5's RAM
(v3.7: sram0 64 MiB from 0x0; v4.4: 64 MiB from 0x4000000, on a 128 MiB machine).
"""

import pytest

from helpers import board_edt, layout_json

edtlib = pytest.importorskip("devicetree.edtlib")

R5_AT_V44_SRAM = """\
name: r5-at-sram0
board: qemu_cortex_r5
domains:
  - name: rpu0
    os: zephyr
    cores: [r5_0]
    firmware:
      memory: ddr
      base: 0x4000000       # where Zephyr 4.4's qemu_cortex_r5 has sram0
      size: 32M
"""


def _reg(node):
    return (node.regs[0].addr, node.regs[0].size)


@pytest.mark.parametrize("zephyr, sram, soc_memory_0", [
    ("3.7", ("/soc/memory@0", (0x0, 64 << 20)), True),
    ("4.4", ("/memory@4000000", (0x4000000, 64 << 20)), False),
])
def test_qemu_cortex_r5_sram0_is_where_that_zephyr_puts_it(zephyr, sram, soc_memory_0,
                                                            zephyr_dts, tmp_path):
    edt = board_edt(zephyr_dts, "qemu_cortex_r5", [], tmp_path, zephyr)
    node = edt.chosen_node("zephyr,sram")
    assert (node.path, _reg(node)) == sram
    assert "sram0" in node.labels
    assert (edt.get_node("/soc").children.get("memory@0") is not None) == soc_memory_0


@pytest.mark.parametrize("zephyr, count", [("3.7", 0), ("4.4", 32)])
def test_qemu_cortex_a53_declares_the_virtio_transports_of_that_zephyr(zephyr, count,
                                                                      zephyr_dts, tmp_path):
    edt = board_edt(zephyr_dts, "qemu_cortex_a53", [], tmp_path, zephyr)
    nodes = edt.compat2nodes.get("virtio,mmio", [])
    assert len(nodes) == count
    for n, node in enumerate(sorted(nodes, key=lambda x: x.regs[0].addr)):
        assert (node.path, node.labels, node.status) == (
            f"/soc/virtio_mmio@{0xa000000 + n * 0x200:x}", [f"virtio_mmio{n}"], "disabled")
        assert node.interrupts[0].data["irq"] == 16 + n


def test_board_memory_follows_the_targeted_zephyr():
    from zephyr_amp import boards
    board = boards.load_board("qemu_cortex_r5")
    sizes = {v: board.for_zephyr(v).memory_named("ddr_low").size for v in ("3.7", "4.4")}
    assert sizes == {"3.7": 64 << 20, "4.4": 128 << 20}
    assert boards.load_board("kv260").for_zephyr("4.4") == boards.load_board("kv260")


def test_firmware_at_v44_sram0_on_v44(tmp_path, zephyr_dts):
    """Zephyr 4.4's own RAM for qemu_cortex_r5 is a valid firmware home, and the overlay's
    zephyr,sram is the board's sram0 node there (same path), not a second one."""
    from zephyr_amp import config
    system = tmp_path / "r5.yaml"
    system.write_text(R5_AT_V44_SRAM)
    out = tmp_path / "out"
    config.generate(system, out, zephyr_version="4.4")
    dom = layout_json(out)["domains"]["rpu0"]
    edt = board_edt(zephyr_dts, "qemu_cortex_r5", [out / "rpu0" / "amp.overlay"], tmp_path, "4.4")
    node = edt.chosen_node("zephyr,sram")
    assert _reg(node) == (dom["sram"]["address"], dom["sram"]["size"])
    assert node.path == "/memory@4000000"
    assert {"sram0", "amp_rpu0_sram"} <= set(node.labels)


def test_firmware_at_v44_sram0_on_v37_is_outside_its_ram(tmp_path):
    from zephyr_amp import config
    from zephyr_amp.errors import LayoutError
    system = tmp_path / "r5.yaml"
    system.write_text(R5_AT_V44_SRAM)
    with pytest.raises(LayoutError) as e:
        config.generate(system, tmp_path / "out", zephyr_version="3.7")
    assert (e.value.line, e.value.key) == (9, "domains[0].firmware.base")
    assert ("outside ddr_low [0x0, 0x4000000) with Zephyr 3.7's qemu_cortex_r5 "
            "(Zephyr 4.4's has 128 MiB there)") in e.value.what
    assert not (tmp_path / "out").exists()


def test_entropy_gets_the_slot_zephyrs_board_cmake_gives_it(tmp_path):
    """qemu_cortex_a53's board.cmake (Zephyr 4.4) attaches virtio-rng-device to
    virtio-mmio-bus.0 with CONFIG_ENTROPY_VIRTIO=y: an entropy device without a slot gets
    slot 0 even when listed after others, and those others keep out of it."""
    from zephyr_amp import config
    system = tmp_path / "virtio.yaml"
    system.write_text("""\
name: slots
board: qemu_cortex_a53
domains:
  - {name: app, os: zephyr, cores: [a53_0]}
links:
  - name: virtio0
    type: virtio-mmio
    driver: app
    devices:
      - {name: net0, type: net}
      - {name: con0, type: console}
      - {name: rng0, type: entropy}
""")
    layout = config.generate(system, tmp_path / "out").layout.to_json()
    (link,) = layout["links"]
    slots = {d["name"]: (d["slot"], d["qemu"]["bus"]) for d in link["devices"]}
    assert slots == {"net0": (1, "virtio-mmio-bus.1"), "con0": (2, "virtio-mmio-bus.2"),
                     "rng0": (0, "virtio-mmio-bus.0")}
    args = (tmp_path / "out" / "app" / "qemu.args").read_text().splitlines()
    assert "virtio-rng-device,bus=virtio-mmio-bus.0,id=virtio0_rng0" in args


def test_board_facts_say_what_changes_with_the_zephyr():
    from zephyr_amp import boards, describe
    r5 = describe.board_facts(boards.load_board("qemu_cortex_r5"))
    assert "ddr_low  ddr   0x00000000..0x04000000 64M" in r5
    assert "; 128M with Zephyr 4.4" in r5
    a53 = describe.board_facts(boards.load_board("qemu_cortex_a53"))
    assert "  slot 0: entropy devices (Zephyr's board.cmake attaches one there)" in a53

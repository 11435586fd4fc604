"""The KV260's board model knows the base Linux devicetree it is merged into (issue 9).

- boards/kv260.yaml's linux-reserved is exactly the base's /reserved-memory (names,
  labels, ranges; compiled from ../shared/linux-dts as Linux builds the board), and its
  linux-node base-labels and tcm-modes are the base's remoteproc nodes of each mode;
- for a system with a Linux domain the layout allocates around those reservations and
  lists them; one without a Linux domain has none of them;
- a region given a base on a reservation, or a remote with more memory-region entries
  than Linux's binding allows, is one clear error at the line of the YAML;
- the merged tree, checked with every schema loaded (not only -l), gains no dt-validate
  message on any system (the HVL UIO node included).
"""

import json

import pytest
from test_linux_dtvalidate import IDS, SYSTEMS, _reserved, _run, _validate, base, merged  # noqa: F401

from conftest import REPO
from helpers import TEST_BOARDS, generated  # noqa: F401
from zephyr_amp import boards, config
from zephyr_amp.errors import LayoutError

LINUX = "  - name: linux\n    os: linux\n    cores: [a53_0, a53_1, a53_2, a53_3]\n"
RPU0 = "  - name: rpu0\n    os: zephyr\n    cores: [r5_0]\n    mode: split\n"


def _system(tmp_path, body: str, linux: bool = True):
    path = tmp_path / "sys.yaml"
    path.write_text("name: t\nboard: kv260\ndomains:\n" + (LINUX if linux else "") + body)
    return path


def _symbols(dtb):
    """(the decompiled base as dtlib.DT, {label: path})"""
    from devicetree import dtlib
    dts = dtb.parent / "base.dts"
    dts.write_bytes(_run(["dtc", "-I", "dtb", "-O", "dts", dtb])[0])
    dt = dtlib.DT(str(dts))
    return dt, {k: p.to_string() for k, p in dt.get_node("/__symbols__").props.items()}


def test_board_reservations_are_the_bases(base):  # noqa: F811
    board = boards.load_board("kv260")
    dt, symbols = _symbols(base.dtb)
    label_of = {path: label for label, path in symbols.items()}
    got = set()
    for child in dt.get_node("/reserved-memory").nodes.values():
        cells = child.props["reg"].to_nums()
        got.add((child.name.split("@")[0], label_of.get(child.path),
                 cells[0] << 32 | cells[1], cells[2] << 32 | cells[3]))
    assert got == {(r.name, r.label, r.base, r.size) for r in board.linux_reserved}
    # the firmware image a core's base r5f node names is the one the board gives it
    for res in board.linux_reserved:
        if res.core:
            index = int(res.core.split("_")[-1])
            node = dt.get_node(symbols["rproc_lockstep"] + f"/r5f@{index}")
            (ph,) = node.props["memory-region"].to_nums()
            assert dt.phandle2node[ph].path == symbols[res.label]


def test_board_cluster_nodes_are_the_bases(base):  # noqa: F811
    node = boards.load_board("kv260").clusters["rpu"].linux_node
    dt, symbols = _symbols(base.dtb)
    modes = {"split": 0, "lockstep": 1}
    assert set(node.base_labels) == set(modes)
    for mode, label in node.base_labels.items():
        n = dt.get_node(symbols[label])
        assert n.unit_addr == f"{node.address:x}"
        assert n.props["compatible"].to_string() == node.compatible
        assert n.props["xlnx,cluster-mode"].to_num() == modes[mode]
        assert n.props["xlnx,tcm-mode"].to_num() == node.tcm_modes[mode]


def test_layout_allocates_around_and_lists_the_reservations():
    res = config.configure(REPO / "systems" / "kv260-rpmsg.yaml", [TEST_BOARDS])
    regions = json.loads(res.files["layout.json"])["regions"]
    reserved = [r for r in regions if r["kind"] == "reserved"]
    assert [(r["name"], r["dt_name"], r["base"], r["size"]) for r in reserved] == [
        ("linux_rproc_0_fw_image", "memory", 0x3ed00000, 0x40000),
        ("linux_rproc_1_fw_image", "memory", 0x3ef00000, 0x40000),
        ("linux_pmu_region", "pmu", 0x7ff00000, 0x100000)]
    assert all(r["owner"] == "linux" and r["users"] == ["linux"] for r in reserved)
    # allocation starts at the board's alloc-from, 0x3ed00000, and steps over them
    shm = next(r for r in regions if r["name"] == "rpmsg0_shm")
    assert shm["base"] == 0x3ed40000


def test_no_linux_domain_no_reservations(tmp_path):
    path = _system(tmp_path, RPU0 + "    firmware: {memory: ddr, size: 64K}\n", linux=False)
    regions = json.loads(config.configure(path, [TEST_BOARDS]).files["layout.json"])["regions"]
    assert not [r for r in regions if r["kind"] == "reserved"]
    fw = next(r for r in regions if r["kind"] == "firmware")
    assert fw["base"] == 0x3ed00000     # nothing reserves it without Linux


FW_FIX = " (the firmware of r5_0 may be it: base 0x3ed00000, size 0x40000)"


@pytest.mark.parametrize("what,body,line,column,name,span,more", [
    ("firmware", RPU0 + "    firmware: {memory: ddr, base: 0x3ed10000, size: 64K}\n", 11, 15,
     "domains[1].firmware: rpu0_fw [0x3ed10000, 0x3ed20000)",
     "rproc_0_fw_image [0x3ed00000, 0x3ed40000)", FW_FIX),
    ("pool", "shared-memory:\n  - name: ipc\n    base: 0x7ff00000\n    size: 64K\n", 8, 5,
     "shared-memory[0]: ipc [0x7ff00000, 0x7ff10000)", "pmu_region [0x7ff00000, 0x80000000)",
     ""),
])
def test_a_base_on_a_reservation_is_an_error(tmp_path, what, body, line, column, name,
                                             span, more):
    path = _system(tmp_path, body)
    with pytest.raises(LayoutError) as e:
        config.configure(path, [TEST_BOARDS])
    assert str(e.value) == (
        f"{path}:{line}:{column}: {name} overlaps {span}, which the Linux devicetree of "
        "board kv260 reserves already; leave base out to have it allocated around it, or "
        "give a base outside it" + more)


REUSE = RPU0 + ("    firmware: {memory: ddr, base: 0x3ed00000, size: 256K}\n"
                "links:\n  - {name: rp, type: rpmsg, host: linux, remote: rpu0}\n")


def test_firmware_on_its_base_image_is_that_node(tmp_path, base, merged):  # noqa: F811
    """RPU0's firmware given exactly rproc_0_fw_image's range is that node: layout.json
    has one region for it (the firmware, named as the base node), the overlay adds no
    node and references the base's label first, as Linux's binding example does; the
    merged tree validates and its reserved-memory is layout.json's."""
    path = _system(tmp_path, REUSE)
    dtb, layout, _ = merged(path)
    fw = [r for r in layout["regions"] if r["base"] == 0x3ed00000 and r["space"] == "phys"]
    assert [(r["name"], r["kind"], r["dt_name"], r["size"]) for r in fw] == [
        ("rpu0_fw", "firmware", "memory", 0x40000)]
    text = config.configure(path, [TEST_BOARDS]).files["linux/amp.dtso"]
    assert "@3ed00000" not in text
    assert "memory-region = <&rproc_0_fw_image>, <&rpu0_vdev0buffer>, " in text
    assert _validate(base, dtb) == []
    want = sorted((r["dt_name"], r["base"], r["size"]) for r in layout["regions"]
                  if r["dt_name"] and r["space"] == "phys")
    assert _reserved(dtb) == sorted(want, key=lambda r: r[1])


def test_too_many_memory_regions_is_an_error(tmp_path):
    """Linux's xlnx,zynqmp-r5fss binding: at most 8 memory-region entries per r5f; three
    rpmsg links take 9 (buffers and two vrings each)."""
    links = "links:\n" + "".join(f"  - {{name: l{k}, type: rpmsg, host: linux, remote: rpu0}}\n"
                                 for k in range(3))
    path = _system(tmp_path, RPU0 + links)
    with pytest.raises(LayoutError) as e:
        config.configure(path, [TEST_BOARDS])
    msg = str(e.value)
    assert msg.startswith(f"{path}:7:5: domains[1]: Linux maps 9 reserved regions into rpu0 (")
    assert msg.endswith("); the xlnx,zynqmp-r5fss binding allows at most 8 memory-region "
                        "entries per core; use fewer carveouts or rpmsg links (each rpmsg "
                        "link takes three: its buffers and two vrings)")
    two = _system(tmp_path, RPU0 + links.rsplit("  - ", 1)[0])
    config.configure(two, [TEST_BOARDS])     # 6: fine


def _all_schemas(base, dtb):  # noqa: F811
    """dt-validate with every schema loaded (the two bindings and dtschema's own), and
    the compatibles no schema matches (-m); both without the file name."""
    out, err = _run(["dt-validate", "-m", "-s", base.schema, dtb])
    lines = (out.decode() + err).splitlines()
    return {line.split(": ", 1)[1] for line in lines
            if ": " in line and not line.startswith("\t")}


@pytest.mark.parametrize("system", SYSTEMS, ids=IDS)
def test_merged_tree_adds_nothing_any_schema_reports(base, merged, system):  # noqa: F811
    dtb, _, _ = merged(system)
    new = _all_schemas(base, dtb) - _all_schemas(base, base.dtb)
    # Linux has no binding for generic-uio (uio_pdrv_genirq matches it through its
    # of_id= parameter), so -m lists it as unmatched; nothing else may be new
    assert sorted(n for n in new if "generic-uio" not in n) == []

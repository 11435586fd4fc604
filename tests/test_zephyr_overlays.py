"""Every generated Zephyr overlay, built as Zephyr builds it, says what layout.json says.

For every system (systems/*.yaml, and the test-only ones in tests/data/valid)
and every Zephyr domain: cpp the real board DTS plus the generated amp.overlay
(as Zephyr's dts.cmake does), parse the result with Zephyr's edtlib against the
real bindings, and check that the chosen nodes the overlay sets resolve to the
addresses and sizes layout.json gives in that domain's view. Then run dtc on
edtlib's normalized output, as Zephyr's build does (warnings allowed).
"""

import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, need_tool
from helpers import (  # noqa: F401
    ALL_SYSTEMS,
    BOARD_DTS,
    ZEPHYR_SHAPES,
    board_edt,
    generated,
    layout_json,
    region,
    system_id,
    view,
    zephyr_domains,
)

edtlib = pytest.importorskip("devicetree.edtlib")


def _edt(zephyr_root, target, overlay, tmp, zephyr="4.4"):
    return board_edt(zephyr_root, target, [overlay], tmp, zephyr)


def _reg(node):
    assert node.regs, f"{node.path} has no reg"
    return (node.regs[0].addr, node.regs[0].size)


def _domain_links(layout, name):
    return [lk for lk in layout["links"]
            if name in (lk.get("host"), lk.get("remote"), lk.get("driver"), lk.get("device"))
            or name in (lk.get("domains") or [])]


def _check_domain(edt, layout, name):
    dom = layout["domains"][name]
    problems = []

    def expect(what, got, want):
        if got != want:
            problems.append(f"{name}: {what}: overlay gives {got}, layout.json {want}")

    # zephyr,sram: where the image runs from
    sram = edt.chosen_node("zephyr,sram")
    if dom["sram"]:
        expect("zephyr,sram (address, size)", _reg(sram),
               (dom["sram"]["address"], dom["sram"]["size"]))
        expect("zephyr,sram compatible", sram.matching_compat, "mmio-sram")

    # zephyr,ipc_shm: the shared region of the domain's first rpmsg link
    links = [lk for lk in _domain_links(layout, name) if lk.get("shm") and
             lk["type"] == "rpmsg"]
    shm = edt.chosen_node("zephyr,ipc_shm")
    if links:
        r = region(layout, links[0]["shm"])
        assert shm is not None, f"{name}: no chosen zephyr,ipc_shm"
        expect("zephyr,ipc_shm (address, size)", _reg(shm), (view(r, name), r["size"]))
        expect("zephyr,ipc_shm status", shm.status, "okay")

    # zephyr,ipc: the mailbox of the first link that names one (an rpmsg link's
    # mailbox, an HVL link's IPI), enabled along with its IPI parent
    mylinks = _domain_links(layout, name)
    label = next((lk["mailbox"].get("remote_label") if lk.get("mailbox") else
                  lk["ipi"].get("zephyr_label") for lk in mylinks
                  if lk.get("mailbox") or isinstance(lk.get("ipi"), dict)), None)
    ipc = edt.chosen_node("zephyr,ipc")
    if label:
        assert ipc is not None, f"{name}: no chosen zephyr,ipc"
        expect("zephyr,ipc label", label in ipc.labels, True)
        expect("zephyr,ipc status", ipc.status, "okay")
        expect("zephyr,ipc parent status", ipc.parent.status, "okay")
    elif all(lk["type"] == "rpmsg" for lk in mylinks):
        expect("zephyr,ipc", ipc, None)

    # zephyr,ram-console: the trace buffer, as the table's trace entry says
    traces = [r for r in layout["regions"] if r["kind"] == "trace" and r["owner"] == name]
    console = edt.chosen_node("zephyr,ram-console")
    if traces:
        t = traces[0]
        assert console is not None, f"{name}: no chosen zephyr,ram-console"
        expect("zephyr,ram-console (address, size)", _reg(console), (view(t, name), t["size"]))
        table = layout["resource_tables"][name]
        entry = next(e for e in table["entries"] if e["type"] == "trace")
        expect("trace entry (da, len)", (entry["da"], entry["len"]), _reg(console))
    else:
        expect("zephyr,ram-console", console, None)

    # the resource-table slot is reserved, and the table sits inside it
    if dom["resource_table"]:
        rt = dom["resource_table"]
        slot = region(layout, rt["region"])
        node = edt.label2node.get(f"amp_{name}_rsc_table")
        assert node is not None, f"{name}: no amp_{name}_rsc_table node"
        expect("resource table slot (address, size)", _reg(node),
               (view(slot, name), slot["size"]))
        lo, size = _reg(node)
        expect("table inside its slot", lo <= rt["address"] and
               rt["address"] + rt["size"] <= lo + size, True)
        expect("slot parent", node.parent.path, "/reserved-memory")

    # every memory region node the overlay adds has a unique linker region name,
    # and reserved-memory children do not overlap
    names = {}
    for node in edt.nodes:
        if "zephyr,memory-region" in node.props and node.labels and \
                any(lb.startswith("amp_") for lb in node.labels):
            rn = node.props["zephyr,memory-region"].val
            expect(f"{node.path} zephyr,memory-region unique", rn in names, False)
            names[rn] = node.path
    rm = edt.get_node("/reserved-memory")
    spans = sorted(_reg(c) for c in rm.children.values() if c.regs)
    for (a, asz), (b, _) in zip(spans, spans[1:], strict=False):
        expect(f"reserved-memory [{a:#x}, {a + asz:#x}) vs {b:#x} overlap", a + asz > b, False)
    return problems


def _dtc(edt, tmp):
    dtc = need_tool("dtc")
    dts = Path(tmp) / "zephyr.dts"
    dts.write_text(edt.dts_source)
    res = subprocess.run([dtc, "-I", "dts", "-O", "dts", "-o", "/dev/null", "-b", "0",
                          "-E", "unit_address_vs_reg", "-Wno-unique_unit_address",
                          "-Wunique_unit_address_if_enabled", str(dts)],
                         capture_output=True, text=True)
    assert res.returncode == 0, f"dtc rejects the merged devicetree:\n{res.stderr}"
    assert not re.search(r"\bERROR\b", res.stderr), res.stderr


def _generated_for(generated, system, zephyr):  # noqa: F811
    """The files of system for Zephyr zephyr; None when that Zephyr cannot have them
    (virtio links on 3.7), which amp-config must then say at the link's transport."""
    from zephyr_amp.errors import InputError
    try:
        return generated(system, zephyr)
    except InputError as e:
        if zephyr == "4.4" or not e.key.endswith(".transport"):
            raise
        assert f"which Zephyr {zephyr} (the targeted Zephyr) does not have" in str(e)
        return None


@pytest.mark.parametrize("zephyr", ZEPHYR_SHAPES)
@pytest.mark.parametrize("system", ALL_SYSTEMS, ids=system_id)
def test_overlay_parses_and_matches_layout(system, zephyr, generated, zephyr_dts,  # noqa: F811
                                           tmp_path):
    """On the board as the targeted Zephyr declares it (v4.4: tests/data/zephyr-4.4)."""
    out = _generated_for(generated, system, zephyr)
    if out is None:
        return
    layout = layout_json(out)
    domains = zephyr_domains(layout)
    if not domains:
        pytest.skip(f"{system.name} has no Zephyr domain")
    problems = []
    for name in domains:
        target = layout["domains"][name]["target"]
        assert target in BOARD_DTS, f"{name}: no board DTS known for target {target}"
        work = tmp_path / name
        work.mkdir()
        edt = _edt(zephyr_dts, target, out / name / "amp.overlay", work, zephyr)
        problems += _check_domain(edt, layout, name)
        _dtc(edt, work)
    assert not problems, "\n".join(problems)


def test_overlay_check_catches_a_wrong_address(generated, zephyr_dts, tmp_path):  # noqa: F811
    """The comparison above can fail: an overlay with the shm moved by one page is caught."""
    out = generated(REPO / "systems" / "kv260-rpmsg.yaml")
    layout = layout_json(out)
    text = (out / "rpu0" / "amp.overlay").read_text()
    shm = region(layout, layout["links"][0]["shm"])
    wrong = text.replace(f"reg = <{shm['base']:#x} ", f"reg = <{shm['base'] + 0x1000:#x} ")
    assert wrong != text
    bad = tmp_path / "bad.overlay"
    bad.write_text(wrong)
    edt = _edt(zephyr_dts, "kv260_r5", bad, tmp_path)
    problems = _check_domain(edt, layout, "rpu0")
    assert any("zephyr,ipc_shm (address, size)" in p for p in problems), problems


def test_each_remote_uses_its_own_ipi(zephyr_dts, tmp_path):
    """zephyr,ipc must be a mailbox of the domain's own IPI channel (local-ipi-id of its core):
    on a Zephyr-to-Zephyr link RPU0 kicks through rpu0_rpu1_mailbox, RPU1 through
    rpu1_rpu0_mailbox."""
    from zephyr_amp import config

    yaml_text = """\
name: z2z
board: kv260
domains:
  - {name: rpu0, os: zephyr, cores: [r5_0], mode: split}
  - {name: rpu1, os: zephyr, cores: [r5_1], mode: split}
links:
  - {name: z2z, type: rpmsg, host: rpu0, remote: rpu1}
"""
    src = tmp_path / "z2z.yaml"
    src.write_text(yaml_text)
    out = tmp_path / "out"
    config.generate(src, out)
    wrong = []
    for name, ipi_id in (("rpu0", 1), ("rpu1", 2)):
        work = tmp_path / name
        work.mkdir()
        edt = _edt(zephyr_dts, "kv260_r5", out / name / "amp.overlay", work)
        parent = edt.chosen_node("zephyr,ipc").parent
        if parent.props["local-ipi-id"].val != ipi_id:
            wrong.append(f"{name} uses {parent.path}")
    assert not wrong, ", ".join(wrong)

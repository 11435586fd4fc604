"""The Linux overlay (amp.dtso) compiles, and describes the layout remoteproc needs.

Each generated amp.dtso is compiled with `dtc -@ -I dts -O dtb` as a user
would, decompiled again, and read with dtlib: the reserved-memory children
(name@unit, reg) must be exactly the firmware carveouts, vrings and rpmsg
buffers layout.json gives for the host's remotes; each remote core's
memory-region list starts with its firmware and gives every vdev's buffer
before its vrings (the order xlnx_r5_remoteproc registers them in); its TCM
banks and the cluster ranges map local views to global addresses as layout.json
does; and the IPI mailbox is the other end of the one the Zephyr side uses
(same four message buffers, local and remote swapped).
"""

import subprocess
from pathlib import Path

import pytest

from conftest import need_tool
from helpers import (  # noqa: F401
    ALL_SYSTEMS,
    board_edt,
    generated,
    layout_json,
    linux_domains,
    system_id,
    view,
)

dtlib = pytest.importorskip("devicetree.dtlib")
edtlib = pytest.importorskip("devicetree.edtlib")


def _compile(dtso, tmp):
    dtc = need_tool("dtc")
    dtbo = Path(tmp) / (dtso.parent.name + ".dtbo")
    res = subprocess.run([dtc, "-@", "-I", "dts", "-O", "dtb", "-o", str(dtbo), str(dtso)],
                         capture_output=True, text=True)
    assert res.returncode == 0, f"dtc cannot compile {dtso}:\n{res.stderr}"
    assert "ERROR" not in res.stderr, res.stderr
    back = subprocess.run([dtc, "-I", "dtb", "-O", "dts", str(dtbo)], capture_output=True,
                          text=True, check=True).stdout
    dts = Path(tmp) / (dtso.parent.name + ".decompiled.dts")
    dts.write_text(back)
    return dtlib.DT(str(dts))


def _cells(prop, n=2):
    """A property of 32-bit cells as integers, grouped n cells to a number."""
    vals = prop.to_nums()
    out = []
    for i in range(0, len(vals), n):
        v = 0
        for c in vals[i:i + n]:
            v = (v << 32) | c
        out.append(v)
    return out


def _regs(node, na=2, ns=2):
    vals = node.props["reg"].to_nums()
    step = na + ns
    out = []
    for i in range(0, len(vals), step):
        addr = 0
        for c in vals[i:i + na]:
            addr = (addr << 32) | c
        size = 0
        for c in vals[i + na:i + step]:
            size = (size << 32) | c
        out.append((addr, size))
    return out


def _overlay_nodes(dt, name_prefix):
    """Nodes under any fragment's __overlay__ whose name starts with name_prefix."""
    return [n for n in dt.node_iter()
            if "/__overlay__/" in n.path and n.name.startswith(name_prefix)]


def _remotes(layout, host):
    out = []
    for lk in layout["links"]:
        if lk.get("host") == host and lk.get("vdev") and lk["remote"] not in out:
            out.append(lk["remote"])
    return out


def _expected_reserved(layout, host):
    """{(node name, base, size)} of every region the host must reserve, and per remote
    the memory-region names in order."""
    by_name = {r["name"]: r for r in layout["regions"]}
    want, order = set(), {}
    for remote in _remotes(layout, host):
        names = []
        for rn in layout["domains"][remote]["load_regions"]:
            r = by_name[rn]
            if r["kind"] in ("firmware", "carveout"):
                want.add((f"{r['dt_name']}@{r['base']:x}", r["base"], r["size"]))
                names.append(r["dt_name"])
        for lk in layout["links"]:
            if lk.get("host") != host or lk.get("remote") != remote or not lk.get("vdev"):
                continue
            v = lk["vdev"]
            buf = v["buffers"]
            want.add((f"vdev{v['index']}buffer@{buf['base']:x}", buf["base"], buf["size"]))
            names.append(f"vdev{v['index']}buffer")
            for vr in v["vrings"]:
                r = by_name[vr["region"]]
                assert vr["da"] == r["base"] and r["size"] >= vr["size"]
                want.add((f"{vr['name']}@{r['base']:x}", r["base"], r["size"]))
                names.append(vr["name"])
        order[remote] = names
    return want, order


@pytest.mark.parametrize("system", ALL_SYSTEMS, ids=system_id)
def test_linux_overlay_compiles_and_matches_layout(system, generated, tmp_path):  # noqa: F811
    out = generated(system)
    layout = layout_json(out)
    hosts = linux_domains(layout)
    if not hosts:
        pytest.skip(f"{system.name} has no Linux host")
    for host in hosts:
        dt = _compile(out / host / "amp.dtso", tmp_path)
        want, order = _expected_reserved(layout, host)

        rm = _overlay_nodes(dt, "reserved-memory")
        assert len(rm) == 1, [n.path for n in rm]
        got = set()
        for child in rm[0].nodes.values():
            assert "no-map" in child.props, f"{child.path} lacks no-map"
            (base, size), = _regs(child)
            got.add((child.name, base, size))
            assert int(child.unit_addr, 16) == base, child.path
            if child.name.split("@")[0].endswith("buffer"):
                assert child.props["compatible"].to_string() == "shared-dma-pool", child.path
        assert got == want

        # per remote core: memory-region, TCM banks, cluster ranges
        for remote in _remotes(layout, host):
            dom = layout["domains"][remote]
            tcm = [r for r in layout["regions"] if r["kind"] == "tcm" and r["owner"] == remote]
            cores = [n for n in _overlay_nodes(dt, "r5f@")]
            if not cores:       # the board data has no remoteproc node (QEMU's R5 machine)
                continue
            index = int(dom["cores"][0].split("_")[-1])
            core = next(n for n in cores if n.name == f"r5f@{index}")
            targets = [dt.phandle2node[p] for p in core.props["memory-region"].to_nums()]
            names = [t.name.split("@")[0] for t in targets]
            assert names == order[remote]
            if any(r["kind"] == "firmware" for r in layout["regions"] if r["owner"] == remote):
                assert names[0] == "memory", "the firmware carveout must come first"
            for k in range(len([n for n in names if n.endswith("buffer")])):
                assert (names.index(f"vdev{k}buffer") < names.index(f"vdev{k}vring0")
                        < names.index(f"vdev{k}vring1")), names
            regs = set(_regs(core))
            assert regs == {(view(r, remote) | (index << 32), r["size"]) for r in tcm}
            cluster = core.parent
            mode = cluster.props["xlnx,cluster-mode"].to_num()
            assert mode == {"split": 0, "lockstep": 1}[dom["mode"]]
            cells = _cells(cluster.props["ranges"], 1)
            ranges = {(cells[i] << 32 | cells[i + 1], cells[i + 2] << 32 | cells[i + 3],
                       cells[i + 4] << 32 | cells[i + 5]) for i in range(0, len(cells), 6)}
            for r in tcm:
                assert ((index << 32) | view(r, remote), r["base"], r["size"]) in ranges, r
            assert len(core.props["power-domains"].to_nums()) == 2 * (1 + len(tcm))


def _zephyr_mailbox(zephyr_root, layout, remote, out, tmp):
    target = layout["domains"][remote]["target"]
    return board_edt(zephyr_root, target, [out / remote / "amp.overlay"], tmp) \
        .chosen_node("zephyr,ipc")


@pytest.mark.parametrize("system", ALL_SYSTEMS, ids=system_id)
def test_linux_and_zephyr_mailboxes_are_two_ends_of_one_channel(system, generated,  # noqa: F811
                                                                zephyr_dts, tmp_path):
    need_tool("cpp")
    out = generated(system)
    layout = layout_json(out)
    pairs = [*{(lk["host"], lk["remote"]): 0 for lk in layout["links"]
             if lk.get("mailbox") and lk["host"] in linux_domains(layout)}]
    if not pairs:
        pytest.skip(f"{system.name} has no Linux-hosted link with a mailbox")
    trees = {host: _compile(out / host / "amp.dtso", tmp_path) for host, _ in pairs}
    checked = 0
    for host, remote in pairs:
        dt = trees[host]
        index = int(layout["domains"][remote]["cores"][0].split("_")[-1])
        core = next((n for n in _overlay_nodes(dt, "r5f@") if n.name == f"r5f@{index}"), None)
        if core is None:        # no remoteproc node on this board (QEMU's R5 machine)
            continue
        checked += 1
        phandles = core.props["mboxes"].to_nums()
        assert core.props["mbox-names"].to_strings() == ["tx", "rx"]
        assert phandles[0] == phandles[2] and phandles[1:4:2] == [0, 1]
        linux_mb = dt.phandle2node[phandles[0]]
        linux_bufs = [a for a, s in _regs(linux_mb)]
        assert all(s == 0x20 for a, s in _regs(linux_mb))

        work = tmp_path / remote
        work.mkdir()
        zmb = _zephyr_mailbox(zephyr_dts, layout, remote, out, work)
        zephyr_bufs = [r.addr for r in zmb.regs]
        # reg-names order on both sides: local request, local response, remote
        # request, remote response; Linux's local is Zephyr's remote
        assert linux_bufs[:2] == zephyr_bufs[2:] and linux_bufs[2:] == zephyr_bufs[:2], \
            (linux_bufs, zephyr_bufs)
        # Linux addresses the remote's IPI channel, the one Zephyr's side lives on
        assert linux_mb.props["xlnx,ipi-id"].to_num() == \
            zmb.parent.props["local-ipi-id"].val
        assert zmb.props["remote-ipi-id"].val == 0    # the APU's channel
    if not checked:
        pytest.skip(f"{system.name}: no remoteproc node with mailboxes to compare")

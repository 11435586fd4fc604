"""Linux devicetree -> LinuxFacts: reserved-memory, remoteproc cores, IPI mailboxes.

A remote core is a node with a memory-region (the xlnx,zynqmp-r5f children
of an xlnx,zynqmp-r5fss cluster, or any node using the generic
memory-region + mboxes pattern). Reserved regions named vdevNvringM and
vdevNbuffer are what remoteproc matches by name; the first other region a
core lists is its firmware memory, the rest are carveouts.
"""

from pathlib import Path

from .. import facts as F
from . import dts

CLUSTER_COMPATIBLE = "xlnx,zynqmp-r5fss"
CLUSTER_MODES = {0: "split", 1: "lockstep"}     # xlnx,cluster-mode (2: single-cpu)


class Locator:
    """file:line of dtlib nodes and properties, with temporary files renamed to the
    names the user gave."""

    def __init__(self, renames, binary=()):
        self.renames = {str(Path(k)): v for k, v in renames.items()}
        self.binary = set(binary)      # flattened trees: no lines, the node path instead

    def file(self, name):
        return self.renames.get(str(Path(name)), self.renames.get(name, str(Path(name))))

    def node(self, node, prop=None):
        p = node.props.get(prop) if prop else None
        file, line = (p.filename, p.lineno) if p is not None else (node.filename, node.lineno)
        file = self.file(file)
        if file in self.binary:
            return F.Where(file, 0, node.path + (f" {prop}" if p is not None else ""))
        return F.Where(file, line)


def read(dt, loc: Locator, files, merged=False) -> F.LinuxFacts:
    out = F.LinuxFacts(files=list(files), merged=merged)
    _restore_labels(dt)
    by_node = {}
    for node in dt.node_iter():
        if node.name == "reserved-memory":
            for child in node.nodes.values():
                r = _region(child, loc)
                if r:
                    by_node[child.path] = r
                    out.regions.append(r)
    mailboxes = {}
    for node in dt.node_iter():
        if "#mbox-cells" in node.props and "reg" in node.props:
            mb = _mailbox(node, loc)
            mailboxes[node.path] = mb
            out.mailboxes.append(mb)
    for node in dt.node_iter():
        if "memory-region" in node.props and node.name != "reserved-memory":
            remote = _remote(dt, node, loc, by_node, mailboxes)
            if remote is not None:
                out.remotes.append(remote)
    listed = {r.path for rm in out.remotes for r in rm.regions}
    loose = [r for r in out.regions if r.kind in ("vring", "buffer") and r.path not in listed]
    if loose and not out.remotes:
        # vdev reservations and no remoteproc node naming them (a board without one)
        out.remotes.append(F.Remote("reserved-memory", "/reserved-memory", loose[0].where,
                                    regions=loose, implicit=True))
        for r in loose:
            r.owner = "reserved-memory"
    return out


def _restore_labels(dt):
    """A decompiled .dtb has no labels, but dtc -@ kept them in /__symbols__."""
    if not dt.has_node("/__symbols__"):
        return
    for label, prop in dt.get_node("/__symbols__").props.items():
        try:
            path = prop.to_string()
        except dts.DTError:
            continue
        if dt.has_node(path):
            node = dt.get_node(path)
            if label not in node.labels:
                node.labels.append(label)


def _region(node, loc):
    rs = dts.regs(node)
    if not rs:
        return None
    base, size = rs[0]
    name = node.name.split("@")[0]
    m = F.VDEV_NAME.fullmatch(name)
    kind, vdev, ring = "reserved", None, None
    if m:
        vdev = int(m[1])
        kind = "buffer" if m[2] == "buffer" else "vring"
        ring = int(m[3]) if m[3] is not None else None
    return F.Region(name, base, size, kind, loc.node(node, "reg"),
                    label=(node.labels or [None])[0], path=node.path,
                    compatible=tuple(dts.strings(node, "compatible")),
                    no_map="no-map" in node.props, vdev=vdev, ring=ring)


def _mailbox(node, loc):
    names = dts.strings(node, "reg-names")
    rs = dts.regs(node)
    bufs = {n: a for n, (a, _) in zip(names, rs)} if names else {}
    parent_id = dts.num(node.parent, "xlnx,ipi-id") if node.parent else None
    return F.Mailbox((node.labels or [node.name])[0], node.path, loc.node(node),
                     local_id=parent_id, ipi_id=dts.num(node, "xlnx,ipi-id"), buffers=bufs)


def _remote(dt, node, loc, by_node, mailboxes):
    targets = dts.phandles(dt, node, "memory-region")
    regions = [by_node[t.path] for t in targets if t.path in by_node]
    mboxes = [mailboxes[t.path] for t, _ in dts.phandle_args(dt, node, "mboxes", "#mbox-cells")
              if t.path in mailboxes]
    unit = node.unit_addr
    index = int(unit, 16) if unit and all(c in "0123456789abcdefABCDEF" for c in unit) else None
    parent = node.parent
    remote = F.Remote(node.name, node.path, loc.node(node), index=index,
                      label=(node.labels or [None])[0], enabled=dts.status_ok(node),
                      cluster=parent.path if parent is not None else None,
                      compatible=tuple(dts.strings(node, "compatible")),
                      regions=[], mailboxes=mboxes)
    remote.mode, remote.mode_where = _mode(parent, loc)
    owner = remote.label or f"{node.name}"
    fw_seen = False
    for r in regions:
        r = _owned(r, owner)
        if r.kind == "reserved":
            r.kind = "carveout" if fw_seen else "firmware"
            fw_seen = True
        remote.regions.append(r)
    return remote


def _owned(region, owner):
    """The same region as a remote lists it (two cluster nodes may list one node)."""
    if region.owner is None:
        region.owner = owner
        return region
    copy = F.Region(**{k: getattr(region, k) for k in region.__dataclass_fields__})
    copy.owner = owner
    return copy


def _mode(cluster, loc):
    """(split | lockstep | None, where) from xlnx,cluster-mode, or the node name."""
    if cluster is None:
        return None, None
    mode = dts.num(cluster, "xlnx,cluster-mode")
    if mode is not None:
        return CLUSTER_MODES.get(mode), loc.node(cluster, "xlnx,cluster-mode")
    name = cluster.name.split("@")[0]
    labels = " ".join(cluster.labels)
    if "split" in name or "split" in labels:
        return "split", loc.node(cluster)
    if "lockstep" in name or "lockstep" in labels:
        return "lockstep", loc.node(cluster)
    return None, None

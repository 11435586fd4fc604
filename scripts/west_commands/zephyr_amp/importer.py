"""Facts of an existing setup -> a system YAML (what `west amp-import` calls).

The import takes each Linux remoteproc core (and the Zephyr image and
firmware ELF paired with it, lint.pairs) to one Zephyr domain; its firmware
memory, trace buffer, carveouts and rpmsg vdevs to the keys the system
format has; hypervisorless virtio and ivshmem links are importer_links.py's.
Addresses are pinned with base: where the format takes one, sizes are
written where they differ from the derived ones, and every value carries a
comment naming the file and line it came from.

Then the YAML is checked the only way that counts: model + layout run on it,
and every reservation the inputs make is compared with the region the
layout gives. What the format cannot say comes back as a Loss naming the
input, what the format would make of it and why; the import stops on losses
unless the caller accepts them (--lossy). Lint findings stop it too, unless
a side is preferred (--prefer linux|zephyr): then that side's value is taken
and each change is a Change.
"""

import re
from dataclasses import dataclass, field

from . import facts as F
from . import importer_yaml, model, virtio
from . import layout as layout_mod
from . import lint as lint_mod
from .errors import AmpError, InputError
from .importer_check import Checking, Note
from .importer_links import Links
from .importer_yaml import num_align


@dataclass
class Result:
    text: str = ""
    findings: list = field(default_factory=list)   # lint findings
    changes: list = field(default_factory=list)    # [Note] what --prefer changed
    losses: list = field(default_factory=list)     # [Note] what the YAML cannot say
    layout: object = None


class ImportStopped(AmpError):
    """The import cannot write a faithful system: str() is the one-line headline,
    lines() the reasons, one line each (printed before it)."""

    def __init__(self, result, headline, items=()):
        self.result = result
        self.items = list(items)
        super().__init__(headline)

    def lines(self) -> list:
        return [x.line() for x in self.items]


@dataclass
class Spec:
    """One remote core as the inputs describe it."""
    core: str
    name: str
    remote: F.Remote = None
    zephyr: F.ZephyrFacts = None
    elf: F.ElfFacts = None
    mode: str = None
    comments: dict = field(default_factory=dict)
    firmware: dict = None
    trace: int = 0
    trace_name: str = None                         # the table's, when not Zephyr_log
    carveouts: list = field(default_factory=list)
    vdevs: list = field(default_factory=list)      # [dict]
    fw_region: F.Region = None                     # the Linux reservation of its image
    devices: list = field(default_factory=list)    # [(link, device dict)] native virtio


class Importer(Checking, Links):
    def __init__(self, facts, board, name, prefer=None, board_roots=()):
        self.facts, self.board, self.name = facts, board, name
        self.prefer, self.board_roots = prefer, board_roots
        self.page = board.page_size
        self.res = Result()
        self.specs = []
        self.dropped = set()       # region paths of remotes a lock-step remote displaced
        self.pin = False           # links pinned with base: (else allocated, or in pools)
        self.hvl = []              # [importer_links.HvlSpec]
        self.ivshmem = []          # [importer_links.IvshmemSpec]

    # -- public -------------------------------------------------------------

    def run(self, lossy=False) -> Result:
        res = self.res
        res.findings = lint_mod.lint(self.facts, self.board)
        if res.findings and not self.prefer:
            raise ImportStopped(res, f"amp-import: the inputs disagree ({len(res.findings)} "
                                "finding(s)); fix them, or take one side with --prefer "
                                "linux|zephyr", res.findings)
        self._specs()
        if not self.has_other_links() and not any(
                s.remote and s.remote.vdev_regions() or s.zephyr and (
                    s.zephyr.region("zephyr,ipc_shm") or s.zephyr.virtio) for s in self.specs):
            raise InputError(", ".join(self.facts.files()[:3]), 0, 0, "",
                             "no link in these files: no rpmsg vdev (vdevNvringM/vdevNbuffer "
                             "reservation, zephyr,ipc_shm), no enabled virtio,mmio transport, "
                             "no openamp,virtio-hvl node or <link>.hvl.json, no ivshmem "
                             "device in a QEMU command line", "give the files of the setup's "
                             "links too")
        for s in self.specs:
            self._mode(s)
        self._lockstep()
        for s in self.specs:
            self._firmware(s)
            self._carveouts(s)
            self._trace(s)
            self._vdevs(s)
            self._virtio(s)
        self._hvl_links()
        self._ivshmem_links()
        self._orphans()
        pools = self._pools()
        res.text = self._yaml(pools)
        res.layout = self._lay_out(res.text)
        if self._misplaced(res.layout):
            pools = self._pools(force=True)
            res.text = self._yaml(pools)
            res.layout = self._lay_out(res.text)
        if pools is None or self._misplaced(res.layout):
            pools = self._pin_links()
        if self._pin_tables(res.layout):
            self._lay_out_tables(pools)
        self._compare(res.layout)
        self._unresolved()
        res.text = self._yaml(pools)
        if res.losses and not lossy:
            raise ImportStopped(res, "amp-import: the system format cannot express "
                                f"{len(res.losses)} thing(s) the inputs say; nothing written "
                                "(--lossy writes the nearest system and lists them in it)",
                                res.losses)
        return res

    def _orphans(self):
        """Reservations no imported remote lists: a base tree keeps its own; others the
        system format cannot say (it reserves memory for domains only)."""
        listed = {r.path for s in self.specs if s.remote for r in s.remote.regions}
        listed |= {s.fw_region.path for s in self.specs if s.fw_region is not None}
        listed |= self.dropped
        hvl = self.hvl_shm_ranges()
        for lf in self.facts.linux:
            for r in {x.path: x for x in lf.regions}.values():
                if r.path in listed or (r.base, r.size) in hvl:
                    continue
                if (r.name, r.base, r.size) in lf.base_regions:
                    self.res.changes.append(Note(
                        f"{r.title()} is the base tree's and no enabled remote lists it: not "
                        "imported (it stays in the base the generated overlay applies to)",
                        r.where))
                else:
                    self.res.losses.append(Note(
                        f"{r.title()} is reserved but no enabled remote lists it", r.where,
                        "the system format reserves memory for domains and links only"))

    def _unresolved(self):
        """Findings no side can settle: the system takes mailboxes from the board file."""
        for f in self.res.findings:
            if f.check == "MBOX-BOARD":
                self.res.changes.append(Note(
                    f"the generated overlay uses board {self.board.name}'s buffers, not these "
                    "(the system format takes mailboxes from the board file; for others, give "
                    "a board file of your own with --board-root)", f.where[0]))

    # -- remotes ------------------------------------------------------------

    def _specs(self):
        pairs = lint_mod.pairs(self.facts)
        zused, used = set(), set()
        for lf in self.facts.linux:
            for rm in lf.enabled_remotes():
                if not rm.vdev_regions() and not any(r.kind == "firmware" for r in rm.regions):
                    continue
                z = next((p.zephyr for p in pairs if p.remote is rm), None)
                core = self._core_of(rm, z, used)
                zused.add(id(z))
                s = Spec(core, self._name_of(core, rm, z), remote=rm, zephyr=z)
                self._add(s, used)
        for z in self.facts.zephyr:
            if id(z) not in zused:
                self._add(Spec(self._core_of_zephyr(z, used), "", zephyr=z), used)
                self.specs[-1].name = self._name_of(self.specs[-1].core, None, z)
        for e in self.facts.elves:
            rm, _lf = lint_mod._remote_of_elf(self.facts, e, pairs)
            s = next((x for x in self.specs if rm is not None and x.remote is rm),
                     self.specs[0] if len(self.specs) == 1 else None)
            if s is not None:
                s.elf = e

    def _add(self, s, used):
        if s.core in used:
            raise InputError(self._where(s), 0, 0, "", f"two inputs describe core {s.core} "
                             f"of board {self.board.name}", "give the files of one setup")
        used.add(s.core)
        self.specs.append(s)

    def _where(self, s):
        return str(s.remote.where) if s.remote else s.zephyr.name

    def _cluster_cores(self):
        for cl in self.board.clusters.values():
            if cl.linux_node:
                return [c for c in sorted(self.board.cores) if
                        self.board.cores[c].cluster == cl.name]
        return []

    def _core_of(self, rm, z, used):
        cores = self._cluster_cores()
        if rm.index is not None and rm.index < len(cores):
            return cores[rm.index]
        for m in rm.mailboxes:
            ipi = next((i for i in self.board.ipi.values() if i.ipi_id == m.ipi_id), None)
            if ipi and ipi.core:
                return ipi.core
        if z is not None:
            return self._core_of_zephyr(z, used)
        raise InputError(str(rm.where), 0, 0, "", f"board {self.board.name} has no remote "
                         f"core for {rm.path}", "give the --board these files are for")

    def _core_of_zephyr(self, z, used):
        ipc = z.chosen.get("zephyr,ipc")
        if isinstance(ipc, F.Mailbox):
            mb = next((m for m in self.board.mailboxes if m.zephyr_label == ipc.label), None)
            if mb and mb.between[0] in self.board.cores:
                return mb.between[0]
        for c in sorted(self.board.cores):
            core = self.board.cores[c]
            if core.zephyr_target == z.target and "zephyr" in core.os and c not in used:
                return c
        raise InputError(z.name, 0, 0, "", f"board {self.board.name} has no free core for "
                         f"Zephyr target {z.target}", "give the --board these files are for")

    def _name_of(self, core, rm, z):
        for r in (rm.vdev_regions() if rm else []):
            if r.label:
                hint = r.label[:r.label.find("vdev")].rstrip("_")
                if hint and re.fullmatch(r"[a-z][a-z0-9_]*", hint):
                    return hint
        sram = z.region("zephyr,sram") if z else None
        if sram and sram.label and sram.label.startswith("amp_") and \
                sram.label.endswith("_sram"):
            return sram.label[4:-5]
        ipi = next((i for i in self.board.ipi.values() if i.core == core), None)
        return ipi.name if ipi else core

    # -- per remote -----------------------------------------------------------

    def _mode(self, s):
        cl = self.board.clusters.get(self.board.cores[s.core].cluster)
        if not cl or not cl.modes:
            return
        lmode = s.remote.mode if s.remote else None
        zmode = self._zephyr_mode(s, cl)
        s.mode = lmode or zmode or cl.default_mode
        if s.remote and lmode:
            s.comments["mode"] = f"{s.remote.mode_where}: the enabled cluster node"
        elif zmode:
            s.comments["mode"] = f"{s.zephyr.region('zephyr,sram').where}: zephyr,sram " \
                "fits only this mode's TCM"
        if lmode and zmode and lmode != zmode:
            sram = s.zephyr.region("zephyr,sram")
            note = (f"Linux runs the cluster in {lmode} mode ({s.remote.mode_where}), "
                    f"Zephyr's zephyr,sram {sram.span()} ({sram.where}) is {zmode} TCM")
            if self.prefer == "zephyr":
                s.mode = zmode
                s.comments["mode"] = f"{sram.where}: zephyr,sram is {zmode} TCM " \
                    "(--prefer zephyr)"
            self.res.changes.append(Note(f"mode {s.mode}: {note}", sram.where))
            if not self.prefer:
                raise ImportStopped(self.res, "amp-import: " + note +
                                    "; take one side with --prefer linux|zephyr")

    def _lockstep(self):
        """A lock-step remote takes its whole cluster: drop the other cores' remotes."""
        for s in [x for x in self.specs if x.mode == "lockstep"]:
            cluster = self.board.cores[s.core].cluster
            for other in [x for x in self.specs if x is not s and
                          self.board.cores[x.core].cluster == cluster]:
                self.specs.remove(other)
                self.dropped |= {r.path for r in (other.remote.regions if other.remote else [])}
                where = other.remote.where if other.remote else F.Where(other.zephyr.name)
                self.res.changes.append(Note(
                    f"{other.remote.path if other.remote else other.zephyr.name} "
                    f"({other.core}) is not imported: in lock-step mode {s.name} takes the "
                    "whole cluster", where))

    def _banks(self, cl, mode, core):
        return cl.modes.get(mode, {}).get(core, [])

    def _zephyr_mode(self, s, cl):
        sram = s.zephyr.region("zephyr,sram") if s.zephyr else None
        if sram is None:
            return None
        fits = [m for m in cl.modes if _covered(sram, self._banks(cl, m, s.core))]
        return fits[0] if len(fits) == 1 else None

    def _in_tcm(self, s, region):
        cl = self.board.clusters.get(self.board.cores[s.core].cluster)
        return bool(cl and cl.modes and any(_covered(region, self._banks(cl, m, s.core))
                                            for m in cl.modes))

    def _firmware(self, s):
        lfw = next((r for r in s.remote.regions if r.kind == "firmware"), None) \
            if s.remote else None
        sram = s.zephyr.region("zephyr,sram") if s.zephyr else None
        ztcm = sram is not None and self._in_tcm(s, sram)
        if lfw is None and sram is not None and not ztcm:
            # a board without remoteproc node: the Linux reservation holding the image
            lfw = next((r for lf in self.facts.linux for r in lf.regions
                        if r.kind in ("reserved", "firmware") and r.base <= sram.base
                        and sram.end <= r.end), None)
        if lfw and sram is not None and ztcm:
            if self.prefer == "linux":
                self.res.changes.append(Note(
                    f"firmware of {s.name} in DDR {lfw.span()} as Linux reserves it; "
                    f"Zephyr's zephyr,sram {sram.span()} (TCM, {sram.where}) becomes that DDR",
                    lfw.where))
            else:
                self._mapped_only(s, lfw, sram)
                s.firmware = {"memory": "tcm"}
                return
        if lfw:
            s.fw_region = lfw
            s.firmware = {"memory": "ddr", "base": lfw.base, "size": lfw.size}
            s.comments["firmware"] = f"{lfw.where}: {lfw.label or lfw.name}"
        elif sram is not None and not ztcm:
            shm = s.zephyr.region("zephyr,ipc_shm")
            end = max([sram.end] + [r.end for r in s.zephyr.regions
                                    if sram.end <= r.base < sram.end + 0x10000
                                    and (shm is None or r.path != shm.path)])
            size = layout_mod.align_up(end, 0x1000) - sram.base
            s.firmware = {"memory": "ddr", "base": sram.base, "size": size}
            s.comments["firmware"] = f"{sram.where}: zephyr,sram and the slot above it"
        else:
            s.firmware = {"memory": "tcm"}
            if sram is not None:
                s.comments["firmware"] = f"{sram.where}: zephyr,sram is TCM"

    def _mapped_only(self, s, lfw, sram):
        """A DDR memory-region beside TCM firmware: a carveout Linux maps that the
        resource table does not list (carveouts[].dt-name, in-table: false)."""
        name = _carveout_name(lfw, s.name)
        if name is None or model._DT_NAME.fullmatch(lfw.name) is None:
            self.res.losses.append(Note(
                f"Linux reserves {lfw.title()} as the first memory-region of "
                f"{s.remote.path} while Zephyr runs from TCM {sram.span()} ({sram.where})",
                lfw.where, f"its node name '{lfw.name}' is not one a carveout's dt-name "
                "takes (lowercase, digits, '_', '-')"))
            return
        s.fw_region = lfw
        s.carveouts.append((lfw, name, False, f"Linux maps it; Zephyr runs from TCM "
                            f"{sram.span()} ({sram.where})"))

    def _carveouts(self, s):
        hvl = self.hvl_shm_ranges()
        for r in (s.remote.regions if s.remote else []):
            if r.kind != "carveout" or (r.base, r.size) in hvl:
                continue
            if re.fullmatch(r"[a-z][a-z0-9_]*", r.name) and \
                    not model._RESERVED_CARVEOUT.fullmatch(r.name):
                s.carveouts.append((r, r.name, True, None))
                continue
            name = _carveout_name(r, s.name)
            if name is None or model._DT_NAME.fullmatch(r.name) is None:
                self.res.losses.append(Note(
                    f"carveout {r.title()} of {s.remote.path}", r.where,
                    f"the node name '{r.name}' is not one a carveout's name or dt-name "
                    "takes (lowercase, digits, '_', '-'; not vdevN...)"))
                continue
            s.carveouts.append((r, name, True, None))

    def _trace(self, s):
        tr = s.zephyr.region("zephyr,ram-console") if s.zephyr else None
        if tr is not None:
            s.trace = tr.size
            s.comments["trace"] = f"{tr.where}: zephyr,ram-console"
        elif s.elf and s.elf.trace():
            t = s.elf.trace()
            s.trace = t.fields["len"]
            s.comments["trace"] = f"{t.where}: trace entry"
        t = s.elf.trace() if s.elf else None
        if t is not None and t.fields["name"] != model.TRACE_NAME and \
                model._TRACE_NAME.fullmatch(t.fields["name"]):
            s.trace_name = t.fields["name"]
            s.comments["trace"] = s.comments.get("trace", "") + \
                f"; {t.where}: the trace entry's name"

    def _vdevs(self, s):
        by = {}
        for r in (s.remote.vdev_regions() if s.remote else []):
            by.setdefault(r.vdev, {})["buffer" if r.kind == "buffer" else r.ring] = r
        table = s.elf.vdevs() if s.elf else []
        for k in sorted(by):
            parts = by[k]
            if not all(x in parts for x in (0, 1, "buffer")):
                continue
            v = {"index": k, "vring0": parts[0], "vring1": parts[1], "buffer": parts["buffer"],
                 "num": None, "align": None, "from": None}
            if k < len(table) and table[k].vrings:
                ring = table[k].vrings[0]
                v.update(num=ring["num"], align=ring["align"], src=table[k].where)
            s.vdevs.append(v)
        if not s.vdevs and s.zephyr and s.zephyr.region("zephyr,ipc_shm"):
            shm = s.zephyr.region("zephyr,ipc_shm")
            s.vdevs.append({"index": 0, "shm": shm, "num": None, "align": None})
        self._prefer_zephyr_shm(s)

    def _virtio(self, s):
        """Native virtio-mmio devices: the board's transport slot each enabled
        virtio,mmio node sits in, the device type its child's virtio,deviceN names."""
        vm = self.board.virtio_mmio
        for t in (s.zephyr.virtio if s.zephyr else []):
            slot, off = divmod(t.base - vm.base, vm.stride) if vm else (None, 1)
            kind = next((x for x in virtio.TYPES.values() if x.id == t.device_id), None)
            if off or not 0 <= slot < vm.slots or kind is None:
                self.res.losses.append(Note(
                    f"virtio,mmio transport {F.span(t.base, t.size)} (device ID "
                    f"{t.device_id})", t.where, f"board {self.board.name} has no virtio-mmio "
                    "slot there, or the device type is unknown; HVL windows are not "
                    "imported yet"))
                continue
            link, dev = f"virtio_{s.name}", f"{kind.name}{slot}"
            if t.label and t.label.startswith("amp_") and "_" in t.label[4:]:
                link, dev = t.label[4:].rsplit("_", 1)
            s.devices.append((link, {"name": dev, "type": kind.name, "slot": slot,
                                     "where": t.where}))

    def _prefer_zephyr_shm(self, s):
        shm = s.zephyr.region("zephyr,ipc_shm") if s.zephyr else None
        if shm is None or not s.vdevs or "buffer" not in s.vdevs[0]:
            return
        lo = min(v["vring0"].base for v in s.vdevs)
        hi = max(v["buffer"].end for v in s.vdevs)
        if (lo, hi) == (shm.base, shm.end):
            return
        if self.prefer == "zephyr" and len(s.vdevs) == 1:
            for key in ("vring0", "vring1", "buffer"):
                del s.vdevs[0][key]
            s.vdevs[0]["shm"] = shm
            self.res.changes.append(Note(
                f"the vrings and buffers of {s.name} in zephyr,ipc_shm {shm.span()}; "
                f"Linux's reservations {F.span(lo, hi - lo)} shrink to it", shm.where))
        elif self.prefer == "linux":
            self.res.changes.append(Note(
                f"zephyr,ipc_shm of {s.name} becomes {F.span(lo, hi - lo)}, what Linux "
                f"reserves (it was {shm.span()})", shm.where))

    # -- links and pools ------------------------------------------------------

    def links(self):
        out = []
        total = sum(len(s.vdevs) for s in self.specs)
        for s in self.specs:
            for v in s.vdevs:
                name = "rpmsg0" if total == 1 else f"rpmsg_{s.name}" + \
                    (f"_{v['index']}" if v["index"] else "")
                out.append((self._label_name(s, v) or name, s, v))
        return out

    def _label_name(self, s, v):
        """The link name a generated Zephyr overlay keeps in its label amp_<link>_shm."""
        shm = s.zephyr.region("zephyr,ipc_shm") if s.zephyr else None
        label = shm.label if shm else None
        if not (label and label.startswith("amp_") and label.endswith("_shm")):
            return None
        first = v.get("vring0") or v.get("shm")
        return label[4:-4] if first is not None and first.base == shm.base else None

    def _block(self, s, v):
        """(base, size) of the link's vrings and buffers as the inputs place them."""
        if "shm" in v:
            return v["shm"].base, v["shm"].size
        parts = (v["vring0"], v["vring1"], v["buffer"])
        lo = min(r.base for r in parts)
        return lo, max(r.end for r in parts) - lo

    def _pools(self, force=False):
        """None: no pool (links allocated); else [(name, base, size, [link names])]."""
        links = self.links()
        if not force:
            return None
        blocks = sorted(((*self._block(s, v), name) for name, s, v in links))
        pools = []
        for base, size, name in blocks:
            if pools and pools[-1][1] + pools[-1][2] == base:
                pools[-1][2] += size
                pools[-1][3].append(name)
            else:
                pools.append([None, base, size, [name]])
        for k, p in enumerate(pools):
            p[0] = "ipc" if len(pools) == 1 else f"ipc{k}"
        return pools

    def _pin_links(self):
        """Pin every link with base: (or per-part bases) where the inputs put it: the
        allocation amp-config happens to make today is no promise."""
        self.pin = True
        self.res.text = self._yaml(None)
        self.res.layout = self._lay_out(self.res.text)
        return None

    def _yaml(self, pools):
        return importer_yaml.system_text(self, pools)

    def _num_align(self, v):
        return num_align(v)

def _carveout_name(r, domain):
    """A carveout name for a reservation whose node name the format does not take
    as one: its label (less the <domain>_ amp-config puts before it), else its node
    name, made lowercase with '_' for others."""
    for text in (r.label, r.name):
        name = re.sub(r"[^a-z0-9_]", "_", (text or "").lower())
        name = name[len(domain) + 1:] if name.startswith(f"{domain}_") else name
        if re.fullmatch(r"[a-z][a-z0-9_]*", name) and \
                not model._RESERVED_CARVEOUT.fullmatch(name):
            return name
    return None


def _covered(region, banks):
    """Whether [base, end) is covered by banks' views without a hole."""
    pos = region.base
    for b in sorted(banks, key=lambda b: b.view):
        if b.view <= pos < b.view + b.size:
            pos = b.view + b.size
    return pos >= region.end


def import_system(facts, board, name, prefer=None, lossy=False, board_roots=()) -> Result:
    return Importer(facts, board, name, prefer, board_roots).run(lossy)


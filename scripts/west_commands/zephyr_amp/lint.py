"""Cross-check the facts of hand-written AMP files (what `west amp-lint` calls).

Each check compares what two files say about the same thing and reports only
disagreements that make a loader or driver do something other than what one
of the files means: the Zephyr side's zephyr,ipc_shm against what Linux
reserves for that remote, reservations that overlap, firmware segments
outside the memory Linux lets remoteproc load, mailboxes that do not pair,
and vrings and buffer pools too small for the resource table's num/align;
for hypervisorless virtio and ivshmem links, lint_links.py.

A Zephyr image is paired with the Linux remoteproc core whose vdev
reservations its zephyr,ipc_shm overlaps (or, without one, whose mailbox has
the IPI ID of the Zephyr side's zephyr,ipc); a firmware ELF with the Linux
core whose memory or vrings it uses.
"""

from dataclasses import dataclass, field

from . import facts as F
from .layout import align_up, vring_size

FW_RSC_ADDR_ANY = 0xFFFFFFFF
MAX_RPMSG_NUM_BUFS = 512
RPMSG_BUF_SIZE = 512
PAGE = 0x1000
MAILBOX_PAIRS = (("local_request_region", "remote_request_region"),
                 ("local_response_region", "remote_response_region"),
                 ("remote_request_region", "local_request_region"),
                 ("remote_response_region", "local_response_region"))


@dataclass
class Finding:
    """One disagreement: check ID, what, where (first = the line to change), the ranges
    involved, what the loader or driver will do, and the fix."""
    check: str
    what: str
    where: list
    effect: str
    fix: str
    ranges: list = field(default_factory=list)

    def line(self) -> str:
        others = "; ".join(f"see {w}" for w in self.where[1:])
        text = f"{self.where[0]}: {self.check}: {self.what}"
        if others:
            text += f" ({others})"
        return f"{text}; {self.effect}; fix: {self.fix}"

    def to_json(self):
        return {"check": self.check, "what": self.what,
                "where": [w.to_json() for w in self.where],
                "ranges": self.ranges, "effect": self.effect, "fix": self.fix,
                "line": self.line()}


@dataclass
class Pair:
    zephyr: F.ZephyrFacts
    linux: F.LinuxFacts
    remote: F.Remote


def pairs(facts: F.Facts) -> list:
    """(Zephyr image, Linux remote) that describe the same remote core."""
    out = []
    for z in facts.zephyr:
        shm = z.region("zephyr,ipc_shm")
        ipc = z.chosen.get("zephyr,ipc")
        best = None
        for lf in facts.linux:
            for rm in lf.enabled_remotes():
                vdev = rm.vdev_regions()
                score = 0
                if shm and any(r.overlaps(shm) for r in vdev):
                    score += 2
                if isinstance(ipc, F.Mailbox) and any(m.ipi_id == ipc.local_id
                                                      for m in rm.mailboxes):
                    score += 1
                if score and (best is None or score > best[0]):
                    best = (score, lf, rm)
        if best:
            out.append(Pair(z, best[1], best[2]))
    return out


def lint(facts: F.Facts, board=None) -> list:
    """Every finding, in a stable order."""
    found = []
    page = board.page_size if board else PAGE
    ps = pairs(facts)
    for p in ps:
        found += _shm_cover(p)
        found += _mailbox_pair(p)
    for lf in facts.linux:
        found += _vdev_parts(lf)
        found += _linux_overlaps(lf)
    found += _zephyr_overlaps(facts, ps)
    for e in facts.elves:
        rm, lf = _remote_of_elf(facts, e, ps)
        if rm is not None:
            if not rm.implicit:
                found += _segments(e, rm, board)
            found += _vrings(e, rm, page)
    if board is not None:
        for lf in facts.linux:
            found += _mailbox_board(lf, board, ps)
    from . import lint_links  # it uses Finding
    found += lint_links.hvl(facts) + lint_links.ivshmem(facts)
    seen, out = set(), []
    for f in found:
        if f.line() not in seen:
            seen.add(f.line())
            out.append(f)
    return out


# -- checks ---------------------------------------------------------------------

def _shm_cover(p: Pair):
    shm = p.zephyr.region("zephyr,ipc_shm")
    groups = {}
    for r in p.remote.vdev_regions():
        groups.setdefault(r.vdev, []).append(r)
    if shm is None or not groups:
        return []
    # OpenAMP on Zephyr runs one vdev in zephyr,ipc_shm: the one it overlaps (else vdev0)
    vdev = next((g for _k, g in sorted(groups.items()) if any(r.overlaps(shm) for r in g)),
                groups[min(groups)])
    lo = min(r.base for r in vdev)
    hi = max(r.end for r in vdev)
    if (shm.base, shm.end) == (lo, hi):
        return []
    parts = ", ".join(f"{r.name} {r.span()} ({F.size_text(r.size)})" for r in vdev)
    last = max(vdev, key=lambda r: r.end)
    what = (f"zephyr,ipc_shm is {shm.span()} ({F.size_text(shm.size)}), but Linux reserves "
            f"{F.span(lo, hi - lo)} ({F.size_text(hi - lo)}) for {p.remote.path}: {parts}")
    outside = []
    if hi > shm.end:
        outside.append(F.span(max(shm.end, lo), hi - max(shm.end, lo)))
    if lo < shm.base:
        outside.append(F.span(lo, min(shm.base, hi) - lo))
    if outside:
        effect = (f"Linux's virtio_rpmsg_bus takes vrings and rpmsg buffers from anywhere in "
                  f"these reservations (the buffers with dma_alloc_coherent from the "
                  f"shared-dma-pool {last.name}), while OpenAMP on Zephyr maps only "
                  f"zephyr,ipc_shm (its metal_io region): anything Linux places in "
                  f"{' and '.join(outside)} is out of Zephyr's reach, and the rpmsg "
                  "messages in it are lost")
    else:
        extra = F.span(hi, shm.end - hi) if shm.end > hi else F.span(shm.base, lo - shm.base)
        effect = (f"Zephyr uses {shm.span()} as shared memory although Linux does not "
                  f"reserve {extra} "
                  "for this remote: Linux may hand that memory to anything else")
    fix = (f"make zephyr,ipc_shm ({shm.label or shm.path}) reg = <{lo:#x} {hi - lo:#x}> "
           "(what Linux reserves)")
    if last.base == max(r.base for r in vdev) and lo == shm.base and shm.end > last.base \
            and hi > shm.end:
        fix += (f", or shrink {last.name} to {shm.end - last.base:#x} bytes so that it "
                f"ends at {shm.end:#x}")
    return [Finding("SHM-COVER", what, [shm.where, last.where], effect, fix,
                    [shm.span(), F.span(lo, hi - lo)])]


def _mailbox_pair(p: Pair):
    zm = p.zephyr.chosen.get("zephyr,ipc")
    if not isinstance(zm, F.Mailbox) or not p.remote.mailboxes:
        return []
    lm = p.remote.mailboxes[0]
    out = []
    if lm.ipi_id is not None and zm.local_id is not None and lm.ipi_id != zm.local_id:
        out.append(Finding(
            "MBOX-PAIR", f"{p.remote.path} kicks through {lm.label} (xlnx,ipi-id {lm.ipi_id}) "
            f"but zephyr,ipc {zm.label} is IPI agent {zm.local_id}",
            [lm.where, zm.where], f"Linux raises IPI {lm.ipi_id} while Zephyr listens on "
            f"{zm.local_id}: vring notifications are never seen",
            f"use the mailbox whose xlnx,ipi-id is {zm.local_id}"))
        return out
    bad = [(a, b) for a, b in MAILBOX_PAIRS
           if a in lm.buffers and b in zm.buffers and lm.buffers[a] != zm.buffers[b]]
    if bad:
        detail = ", ".join(f"{a} {lm.buffers[a]:#x} vs Zephyr's {b} {zm.buffers[b]:#x}"
                           for a, b in bad)
        want = ", ".join(f"{zm.buffers[b]:#x}" for _a, b in MAILBOX_PAIRS if b in zm.buffers)
        out.append(Finding(
            "MBOX-PAIR", f"the message buffers of {lm.label} do not mirror zephyr,ipc "
            f"{zm.label}: {detail}", [lm.where, zm.where],
            "the zynqmp-ipi mailbox driver writes each kick's vring index into its local "
            "request buffer, which Zephyr's side does not read as the request from Linux",
            f"give {lm.label} reg = {want} (Zephyr's remote, then local buffers)"))
    return out


def _mailbox_board(lf, board, ps):
    """Linux mailboxes of remotes no Zephyr file describes, against the board's facts."""
    paired = {m.label for p in ps for m in p.remote.mailboxes}
    out = []
    for lm in lf.mailboxes:
        if lm.label in paired or lm.ipi_id is None:
            continue
        agent = next((i for i in board.ipi.values() if i.ipi_id == lm.ipi_id), None)
        mb = next((m for m in board.mailboxes if m.linux and agent
                   and m.linux.remote == agent.name), None)
        if mb is None or not mb.linux.buffers:
            continue
        want = list(mb.linux.buffers)
        names = [a for a, _b in MAILBOX_PAIRS]
        got = [lm.buffers.get(n) for n in names]
        if got != want and None not in got:
            out.append(Finding(
                "MBOX-BOARD", f"{lm.label} (IPI agent {agent.name}, xlnx,ipi-id {lm.ipi_id}) "
                f"has message buffers {', '.join(f'{a:#x}' for a in got)}; board "
                f"{board.name}'s mailbox {mb.name} has {', '.join(f'{a:#x}' for a in want)}",
                [lm.where, F.Where(str(board.path), 0, f"mailboxes: {mb.name}")],
                f"Linux writes the kicks for {agent.name} into buffers that belong to other "
                "agents (Zephyr's zynqmp_rpu.dtsi pairs the board's ones)",
                f"give {lm.label} reg = {', '.join(f'{a:#x}' for a in want)}"))
    return out


def _vdev_parts(lf):
    out = []
    for rm in lf.enabled_remotes():
        by = {}
        for r in rm.vdev_regions():
            by.setdefault(r.vdev, {})[("buffer" if r.kind == "buffer" else f"vring{r.ring}")] = r
        for k, parts in sorted(by.items()):
            missing = [n for n in ("vring0", "vring1", "buffer") if n not in parts]
            if missing:
                some = next(iter(parts.values()))
                out.append(Finding(
                    "VDEV-PARTS", f"{rm.path} lists {', '.join(f'vdev{k}{n}' for n in parts)} "
                    f"but no {', '.join(f'vdev{k}{n}' for n in missing)}",
                    [rm.where, some.where],
                    "remoteproc then allocates the missing vring or buffer from the "
                    "remote's default DMA memory, at an address the remote does not know",
                    f"add the vdev{k}{missing[0]} reservation to its memory-region"))
    return out


def _linux_overlaps(lf):
    regs = sorted({r.path: r for r in lf.regions}.values(), key=lambda r: (r.base, r.name))
    out = []
    for i, a in enumerate(regs):
        hit = [b for b in regs[i + 1:] if b.base < a.end]
        if hit:
            out.append(_overlap(a, hit, "Linux reserves both, and remoteproc then gives the "
                                "same bytes to two uses (the remote's image or buffers are "
                                "overwritten)"))
    return out


def _zephyr_overlaps(facts, ps):
    """Zephyr reservations against Linux ones that are not the same memory: a region
    both sides reserve with the same range is shared, and what lies inside a region
    of the remote the Zephyr image is paired with (its firmware memory, its vdevs) is
    that remote's own."""
    mine = {id(p.zephyr): p.remote.regions for p in ps}
    hvl = {(h.shm.base, h.shm.size) for h in facts.hvl_links()}     # HVL-SHM's
    out = []
    for z in facts.zephyr:
        shm = z.region("zephyr,ipc_shm")
        zregs = [r for r in z.regions if (shm is None or r.path != shm.path)
                 and (r.base, r.size) not in hvl]
        zregs += [shm] if shm else []
        own = list(mine.get(id(z), []))
        sram = z.region("zephyr,sram")
        if sram is not None:      # the Linux region holding the image is its firmware memory
            own += [r for lf in facts.linux for r in lf.regions if _inside(sram, r)]
        for zr in zregs:
            if zr.base < 0x100000 or _covered(zr, own) or \
                    (zr is shm and own and any(r.overlaps(zr) for r in own
                                               if r.kind in ("vring", "buffer"))):
                continue
            for lf in facts.linux:
                hit = [lr for lr in {r.path: r for r in lf.regions}.values()
                       if zr.overlaps(lr) and (lr.base, lr.size) != (zr.base, zr.size)]
                if hit:
                    out.append(_overlap(zr, hit, "both sides use these bytes, each for "
                                        "its own purpose"))
    return out


def _inside(a, b):
    return b.base <= a.base and a.end <= b.end


def _covered(a, regions):
    """Whether regions cover [a.base, a.end) without a hole."""
    pos = a.base
    for r in sorted(regions, key=lambda r: r.base):
        if r.base <= pos < r.end:
            pos = r.end
    return pos >= a.end


def _overlap(a, hits, effect):
    names = ", ".join(f"{b.name} {b.span()}" for b in hits)
    return Finding("OVERLAP", f"{a.title()} overlaps {names}", [a.where] + [b.where
                   for b in hits], effect, "move or shrink one of them, or delete the "
                   "reservation nothing uses", [a.span()] + [b.span() for b in hits])


def _remote_of_elf(facts, e, ps):
    cands = []
    for lf in facts.linux:
        for rm in lf.enabled_remotes():
            score = sum(1 for s in e.segments for r in rm.regions
                        if r.kind in ("firmware", "carveout") and r.overlaps(s))
            for v in e.vdevs():
                for ring in v.vrings:
                    score += sum(2 for r in rm.vdev_regions() if r.base == ring["da"])
            cands.append((score, rm, lf))
    cands.sort(key=lambda c: -c[0])
    if cands and (cands[0][0] > 0 or len(cands) == 1 or len(ps) == 1):
        if cands[0][0] == 0 and len(ps) == 1:
            return ps[0].remote, ps[0].linux
        return cands[0][1], cands[0][2]
    return None, None


def _tcm_banks(rm, board):
    if board is None or rm.index is None:
        return []
    for cl in board.clusters.values():
        if not cl.modes:
            continue
        mode = rm.mode or cl.default_mode
        cores = [c for c in board.cores.values() if c.cluster == cl.name]
        if rm.index < len(cores):
            return cl.modes.get(mode, {}).get(cores[rm.index].name, [])
    return []


def _segments(e, rm, board):
    allowed = [r for r in rm.regions if r.kind in ("firmware", "carveout")]
    banks = _tcm_banks(rm, board)
    out = []
    for s in e.segments:
        if any(r.base <= s.base and s.end <= r.end for r in allowed):
            continue
        if any(b.view <= s.base and s.end <= b.view + b.size for b in banks):
            continue
        if not banks and s.base < 0x100000:
            continue        # core-local memory (TCM) of a board we were not told
        where = [s.where] + ([allowed[0].where] if allowed else [rm.where])
        names = ", ".join(f"{r.name} {r.span()}" for r in allowed) or "none"
        tcm = ", ".join(f"{b.name} {F.span(b.view, b.size)}" for b in banks)
        out.append(Finding(
            "SEG-OUT", f"{s.name} {s.span()} of the firmware is not inside one memory "
            f"{rm.path} can load: carveouts {names}" + (f"; TCM {tcm}" if tcm else ""),
            where, f"remoteproc refuses the image (bad phdr da {s.base:#x} mem {s.size:#x})",
            "link the image into the remote's firmware memory, or reserve that memory "
            "for it in memory-region", [s.span()]))
    return out


def _vrings(e, rm, page):
    by = {(r.vdev, "buffer" if r.kind == "buffer" else r.ring): r for r in rm.vdev_regions()}
    out = []
    for k, v in enumerate(e.vdevs()):
        if v.fields.get("id") != 7:
            continue
        nums = []
        for j, ring in enumerate(v.vrings):
            nums.append(ring["num"])
            r = by.get((k, j))
            if r is None:
                continue
            need = align_up(vring_size(ring["num"], ring["align"] or 1), page)
            if need > r.size:
                out.append(Finding(
                    "VRING-SIZE", f"vring {j} of vdev {k} (num {ring['num']}, align "
                    f"{ring['align']}) needs {need:#x} bytes, {r.title()} is smaller",
                    [r.where, v.where], "remoteproc rejects the carveout "
                    "(rproc_check_carveout_da) and the vdev does not start",
                    f"reserve {need:#x} bytes for {r.name}, or use a smaller num",
                    [r.span()]))
            if ring["da"] not in (FW_RSC_ADDR_ANY, r.base):
                out.append(Finding(
                    "VRING-DA", f"the table pins vring {j} of vdev {k} at {ring['da']:#x}, "
                    f"Linux reserves {r.title()}", [v.where, r.where],
                    "remoteproc fails rproc_check_carveout_da (the vring is not where its "
                    "carveout is)", f"set its da to {r.base:#x} or to FW_RSC_ADDR_ANY",
                    [r.span()]))
        buf = by.get((k, "buffer"))
        if buf is not None and nums:
            need = min(2 * nums[0], MAX_RPMSG_NUM_BUFS) * RPMSG_BUF_SIZE
            if need > buf.size:
                out.append(Finding(
                    "BUF-SIZE", f"{nums[0]}-entry vrings make Linux's virtio_rpmsg_bus "
                    f"allocate {need:#x} bytes of buffers; {buf.title()} is smaller",
                    [buf.where, v.where], "the rpmsg probe fails (dma_alloc_coherent "
                    "returns NULL) and no channel appears", f"reserve at least {need:#x} "
                    f"bytes for {buf.name}", [buf.span()]))
    return out

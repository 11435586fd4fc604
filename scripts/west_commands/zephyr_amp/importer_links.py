"""amp-import's hypervisorless virtio and ivshmem links: facts -> link decisions, their
YAML text, and the check of the layout against the inputs. A mixin of
importer.Importer (self is one), kept apart for size.

HVL: one virtio-mmio link (transport hvl) per link name an openamp,virtio-hvl node
or a <link>.hvl.json states; the pre-shared region is a shared-memory entry pinned
with base: (its name from the device file), the devices from the windows (type by
device ID, queue-size and buffer-size from the device file).
ivshmem: one link per ivshmem device id of the QEMU command lines; size from the
ivshmem-server's -l (doorbell) or the memory backend (plain), the BAR layout
(vring num/align, buffers) from the layout header (amp_layout.h), host and remote
from the headers' AMP_DOMAIN_NAME / AMP_<LINK>_IS_HOST.
"""

from dataclasses import dataclass, field

from . import facts as F
from . import virtio
from .errors import InputError
from .importer_check import Note
from .importer_yaml import fmt_size
from .layout import align_up, vring_size
from .links.ivshmem import MIN_SIZE, VECTORS
from .links.rpmsg import buffer_count
from .links.virtio_mmio import VRING_ALIGN, WINDOW, cname


@dataclass
class HvlSpec:
    name: str
    driver: object                 # importer.Spec
    main: F.HvlLink                # the Zephyr node, else the device file
    device_file: F.HvlLink = None
    pool_name: str = None
    memory: str = None
    ipi: str = None                # board mailbox name
    devices: list = field(default_factory=list)    # [dict]


@dataclass
class IvshmemSpec:
    name: str
    host: str
    remote: str
    doorbell: bool
    where: F.Where
    size: int = None
    size_where: F.Where = None
    vectors: int = None
    role_where: str = None
    header: F.HeaderFacts = None
    num: int = None
    align: int = None
    count: int = None
    buf_size: int = None


class Links:
    """The Importer methods for HVL and ivshmem links."""

    def input_error(self, where, what, fix) -> InputError:
        return InputError(where.file, where.line, 0, "", what, fix)

    def has_other_links(self) -> bool:
        return bool(self.facts.hvl_links() or any(q.ivshmem for q in self.facts.qemu) or
                    any(z.ivshmem for z in self.facts.zephyr))

    def hvl_shm_ranges(self) -> set:
        return {(h.shm.base, h.shm.size) for h in self.facts.hvl_links()}

    # -- HVL ----------------------------------------------------------------------

    def _hvl_links(self):
        by = {}
        for h in self.facts.hvl_links():
            by.setdefault(h.link, []).append(h)
        for name, hs in by.items():
            z = next((h for h in hs if h.side == "zephyr"), None)
            d = next((h for h in hs if h.side == "device"), None)
            driver = next((s for s in self.specs if z is not None and s.zephyr is not None
                           and z in s.zephyr.hvl), None) or \
                next((s for s in self.specs if d is not None and s.name == d.driver), None)
            if driver is None:
                main = z or d
                raise self.input_error(main.where, f"no Zephyr domain drives HVL link {name}",
                                       "give the driver's Zephyr overlay too")
            spec = HvlSpec(name, driver, z or d, d)
            spec.pool_name = d.shm_name if d is not None and d.shm_name else f"{name}_shm"
            spec.memory = self._memory_at(spec.main.shm)
            spec.ipi = self._hvl_ipi(spec)
            spec.devices = [self._hvl_device(spec, dev) for dev in spec.main.devices]
            self.hvl.append(spec)

    def _memory_at(self, r):
        mem = next((m for m in self.board.memory if m.shared and m.base <= r.base
                    and r.end <= m.end), None)
        if mem is None:
            raise self.input_error(r.where, f"the HVL region {r.span()} is in no shared "
                                   f"memory of board {self.board.name}",
                                   "check --board, or the region's address")
        return mem.name

    def _hvl_ipi(self, spec):
        label = spec.main.ipi or (spec.device_file.ipi if spec.device_file else None)
        mb = next((m for m in self.board.mailboxes if m.zephyr_label == label), None)
        if mb is None:
            self.res.losses.append(Note(f"the kicks of HVL link {spec.name} go through {label}",
                                        spec.main.ipi_where or spec.main.where,
                                        f"it is no mailbox of board {self.board.name}"))
        return mb.name if mb else None

    def _hvl_device(self, spec, dev):
        t = next((x for x in virtio.TYPES.values() if x.id == dev.device_id), None)
        if t is None:
            self.res.losses.append(Note(f"HVL device {dev.name} {dev.span()} has device ID "
                                        f"{dev.device_id}", dev.where, "the system format "
                                        "knows " + ", ".join(virtio.known_names())))
        other = next((x for x in spec.device_file.devices if x.name == dev.name), None) \
            if spec.device_file is not None and spec.device_file is not spec.main else \
            (dev if spec.main.side == "device" else None)
        out = {"name": dev.name, "type": t.name if t else "entropy", "where": dev.where,
               "queue_size": virtio.DEFAULT_QUEUE_SIZE, "queues": len(t.queues) if t else 1,
               "buffer_size": t.buffer_size if t else 64, "known": other is not None}
        if other is not None:
            out.update(queue_size=other.queue_size, buffer_size=other.buffer_size,
                       queues=len(other.queues) or out["queues"], src=other.where)
        return out

    def _hvl_derived(self, spec):
        """(region size, pool need) amp-config derives for the devices."""
        step = max(self.page, VRING_ALIGN)
        windows = align_up(len(spec.devices) * WINDOW, step)
        vrings = sum(d["queues"] * align_up(vring_size(d["queue_size"], VRING_ALIGN), step)
                     for d in spec.devices)
        need = sum(d["queues"] * d["queue_size"] * d["buffer_size"] for d in spec.devices)
        return windows + vrings + align_up(need, self.page), need

    def hvl_pool_text(self) -> list:
        out = []
        for spec in self.hvl:
            shm, d = spec.main.shm, spec.device_file
            src = f"{d.where.file} (shm.name)" if d and d.shm_name else \
                "not in the inputs (no <link>.hvl.json): the link's name"
            out += [f"  - name: {spec.pool_name}    # {src}",
                    f"    memory: {spec.memory}    # board {self.board.name}'s memory that "
                    "holds it",
                    f"    base: {shm.base:#x}    # {shm.where}: {shm.label or shm.name}"]
            derived, _need = self._hvl_derived(spec)
            if shm.size != derived or self._hvl_pool(spec) is not None:
                out.append(f"    size: {fmt_size(shm.size)}    # explicit: the devices "
                           f"derive {derived:#x}")
        return out

    def _hvl_pool(self, spec):
        """pool: SIZE when the inputs' pool does not run to the end of the region."""
        base, size = spec.main.pool
        return None if base + size == spec.main.shm.end else size

    def hvl_link_text(self) -> list:
        out = []
        for spec in self.hvl:
            m = spec.main
            device = (spec.device_file.device if spec.device_file else None) or "linux"
            out += [f"  - name: {spec.name}    # {m.where}", "    type: virtio-mmio",
                    "    transport: hvl", f"    driver: {spec.driver.name}",
                    f"    device: {device}", f"    shm: {spec.pool_name}"]
            if spec.ipi:
                out.append(f"    ipi: {spec.ipi}    # {m.ipi_where or m.where}: {m.ipi}")
            pool = self._hvl_pool(spec)
            if pool is not None:
                out.append(f"    pool: {fmt_size(pool)}    # {m.where}: the pool ends before "
                           "the region does")
            out.append("    devices:")
            for d in spec.devices:
                t = virtio.device_type(d["type"])
                keys = [f"name: {d['name']}", f"type: {d['type']}",
                        f"queue-size: {d['queue_size']}"]
                if t and d["queues"] != len(t.queues):
                    keys.append(f"queues: {d['queues']}")
                if t and d["buffer_size"] != t.buffer_size:
                    keys.append(f"buffer-size: {d['buffer_size']}")
                src = f"{d['src']}: queue_size, buffer_size" if d["known"] else \
                    "queue-size not in the inputs (no <link>.hvl.json): the default"
                out.append(f"      - {{{', '.join(keys)}}}    # {d['where']}; {src}")
            out.append("")
        return out

    def _compare_hvl(self, lay):
        for spec in self.hvl:
            lk = next((x for x in lay.links if x.link.name == spec.name), None)
            if lk is None:
                continue
            m = spec.main
            got = {"region": (lk.shm.base, lk.shm.size), "windows": lk.windows,
                   "vrings": lk.vrings, "pool": (lk.pool.base, lk.pool.size)}
            want = {"region": (m.shm.base, m.shm.size), **m.areas()}
            why = "the layout puts the windows (0x200 each, page aligned) at the start of " \
                "the region, then one vring per queue, then the pool"
            if not all(d["known"] for d in spec.devices):
                why = "the queue sizes are in no input, and the defaults' vrings take " \
                    "other room: give the device side's <link>.hvl.json too"
            for key, value in want.items():
                if value is not None and tuple(value) != tuple(got[key]):
                    self.res.losses.append(Note(
                        f"the {key} of HVL link {spec.name}: the inputs say "
                        f"{F.span(*value)}, the system gives {F.span(*got[key])}", m.where,
                        why))
            self._compare_hvl_devices(spec, lk)

    def _compare_hvl_devices(self, spec, lk):
        by = {d.device.name: d for d in lk.devices}
        files = [spec.main] + ([spec.device_file] if spec.device_file not in
                               (None, spec.main) else [])
        for h in files:
            for dev in h.devices:
                dl = by.get(dev.name)
                if dl is None:
                    continue
                if (dl.window.base, dl.window.size) != (dev.base, dev.size):
                    self.res.losses.append(Note(
                        f"the window of {dev.name} is {dev.span()}, the system gives "
                        f"{dl.window.span()}", dev.where, "windows follow each other, "
                        "0x200 each, in the order of their addresses"))
                for q in dev.queues:
                    ql = next((x for x in dl.queues if x.index == q.index), None)
                    if ql is not None and ql.region.base != q.base:
                        self.res.losses.append(Note(
                            f"vring {q.index} of {dev.name} is at {q.base:#x}, the system "
                            f"puts it at {ql.region.base:#x}", q.where, "the vrings follow "
                            "each other, each page aligned, in the devices' order"))

    # -- ivshmem --------------------------------------------------------------------

    def _ivshmem_links(self):
        by = {}
        for q in self.facts.qemu:
            for dev in q.ivshmem:
                by.setdefault(dev.id, []).append(dev)
        node = next((n for z in self.facts.zephyr for n in z.ivshmem), None)
        if not by and node is not None:
            raise self.input_error(node.where, f"qemu,ivshmem node {node.label}: an ivshmem "
                                   "link's size, doorbell and peers are in the QEMU command "
                                   "lines, and none is given", "give both domains' "
                                   "qemu.args (and the ivshmem-server.args)")
        for name, devs in by.items():
            header = next((h for h in self.facts.headers
                           if f"AMP_{cname(name)}_VRING0_OFFSET" in h.defines), None)
            host, remote, why = self._ivshmem_roles(name)
            dev = devs[0]
            spec = IvshmemSpec(name, host, remote, dev.kind == "doorbell", dev.where,
                               role_where=why, header=header)
            self._ivshmem_size(spec, devs)
            if spec.doorbell:
                spec.vectors = dev.vectors
            if header is not None:
                pre = f"AMP_{cname(name)}_"
                spec.num, spec.align = header.get(pre + "VRING_NUM"), header.get(pre +
                                                                                  "VRING_ALIGN")
                spec.count, spec.buf_size = header.get(pre + "BUF_COUNT"), \
                    header.get(pre + "BUF_SIZE")
            self.ivshmem.append(spec)

    def _ivshmem_roles(self, name):
        pre = f"AMP_{cname(name)}_IS_HOST"
        names = {s.name for s in self.specs}
        roles = {}
        for h in self.facts.headers:
            dom = h.get("AMP_DOMAIN_NAME")
            if dom in names and h.get(pre) is not None:
                roles["host" if h.get(pre) else "remote"] = (dom, h.where(pre))
        zs = [s.name for s in self.specs if s.zephyr is not None and s.zephyr.ivshmem]
        if len(roles) == 2:
            return roles["host"][0], roles["remote"][0], \
                f"{roles['host'][1]}: {pre} (and {roles['remote'][1]})"
        if len(zs) != 2:
            raise self.input_error(F.Where(self.facts.files()[0]), f"ivshmem link {name} "
                                   "joins two Zephyr domains, and the inputs give "
                                   f"{len(zs)} with a qemu,ivshmem node",
                                   "give both domains' Zephyr overlays")
        return zs[0], zs[1], "not in the inputs (no layout header): the first overlay's " \
            "domain is the host"

    def _ivshmem_size(self, spec, devs):
        for dev in devs:
            if dev.kind == "plain" and dev.size is not None:
                spec.size, spec.size_where = dev.size, dev.size_where
                return
        dev = devs[0]
        server = next((s for s in self.facts.servers if s.socket == dev.socket),
                      self.facts.servers[0] if len(self.facts.servers) == 1 else None)
        if server is not None:
            spec.size, spec.size_where = server.size, server.at("l")
        elif spec.header is not None:
            pre = f"AMP_{cname(spec.name)}_SIZE"
            spec.size, spec.size_where = spec.header.get(pre), spec.header.where(pre)

    def ivshmem_link_text(self) -> list:
        out = []
        for s in self.ivshmem:
            out += [f"  - name: {s.name}    # {s.where}: the device's id", "    type: ivshmem",
                    f"    host: {s.host}    # {s.role_where}", f"    remote: {s.remote}"]
            if s.doorbell:
                out.append(f"    doorbell: true    # {s.where}: ivshmem-doorbell")
                if s.vectors != VECTORS:
                    out.append(f"    vectors: {s.vectors}    # {s.where}: vectors=")
            num, align = s.num or 8, s.align or 16
            count = buffer_count(num)
            need = 0x1000 + 2 * align_up(vring_size(num, align), self.page) + \
                align_up((s.count or count) * (s.buf_size or 512), self.page)
            derived = max(MIN_SIZE, 1 << max(need - 1, 1).bit_length())
            if s.size is not None and s.size != derived:
                out.append(f"    size: {fmt_size(s.size)}    # {s.size_where}: the shared "
                           f"memory (the layout derives {derived:#x})")
            h = s.header
            pre = f"AMP_{cname(s.name)}_"
            if h is None:
                out.append("    # vring and buffers: not in the inputs (no layout header "
                           "amp_layout.h): the defaults")
            else:
                out.append(f"    vring: {{num: {num}, align: {align}}}    # "
                           f"{h.where(pre + 'VRING_NUM')}: {pre}VRING_NUM, _ALIGN")
                keys = []
                if s.count is not None and s.count != count:
                    keys.append(f"count: {s.count}")
                if s.buf_size is not None and s.buf_size != 512:
                    keys.append(f"size: {s.buf_size}")
                if keys:
                    out.append(f"    buffers: {{{', '.join(keys)}}}    # "
                               f"{h.where(pre + 'BUF_COUNT')}: {pre}BUF_COUNT, _SIZE")
            out.append("")
        return out

    def _compare_ivshmem(self, lay):
        for s in self.ivshmem:
            lk = next((x for x in lay.links if x.link.name == s.name), None)
            if lk is None:
                continue
            if s.size is not None and lk.shm.size != s.size:
                self.res.losses.append(Note(f"the shared memory of {s.name} is {s.size:#x} "
                                            f"bytes, the system gives {lk.shm.size:#x}",
                                            s.size_where or s.where))
            if s.header is None:
                continue
            pre = f"AMP_{cname(s.name)}_"
            got = {"STATUS_SIZE": lk.status.size, "VRING0_OFFSET": lk.vrings[0].region.base,
                   "VRING1_OFFSET": lk.vrings[1].region.base, "BUFFERS_OFFSET":
                   lk.buffers.base, "BUFFERS_SIZE": lk.buffers.size}
            for key, value in got.items():
                want = s.header.get(pre + key)
                if want is not None and want != value:
                    self.res.losses.append(Note(
                        f"{pre}{key} is {want:#x}, the system gives {value:#x}",
                        s.header.where(pre + key), "the layout puts a page of status, "
                        "vring0, vring1 (each page aligned), then the buffers at the start "
                        "of the BAR"))

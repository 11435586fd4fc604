"""Rules on the table's entries: carveouts, trace, vdevs and their vrings
(ENT-02/03, TRACE-02, VDEV-04, VRING-xx)."""

from .rules import OPENAMP, RULES, Act
from .util import (
    ADDR_ANY,
    RSC_CARVEOUT,
    RSC_DEVMEM,
    RSC_TRACE,
    RSC_VDEV,
    TYPE_NAMES,
    U32_END,
    VIRTIO_ID_RPMSG,
    XLNX_R5,
    hexr,
    is_pow2,
    overlapping,
    vring_size,
)

# ENT-02 on xlnx, a carveout named after no devicetree region (remoteproc_core.c).
_ELSEWHERE = Act('corrupt', "Allocated carveout doesn't fit device address request",
                 'dma_alloc_coherent() gives memory elsewhere and the remote uses the wrong one')


class EntryRules:
    """Mixin of Checker: what the entries say, alone and against the layout."""

    def entry_rules(self, entries):
        """ENT-03, TRACE-02, VDEV-04 and the VRING rules over the parsed entries."""
        out = []
        t = self.target
        check_layout = self.layout_checks
        notify = []
        vrings = []                     # (start, end, label)
        vdev_index = 0
        wide = self.wide_fields(entries)
        out += wide
        # What VRING-10 reported cannot be placed: no ENT-02/TRACE-02/VRING-04/05 on it.
        unplaceable = {f.obj.split(' field ')[0] for f in wide}
        for e in entries:
            f = e.fields
            if e.type == RSC_DEVMEM and check_layout and t.platform == XLNX_R5:
                out.append(self.finding('ENT-03', 'devmem entry on ZynqMP: xlnx_r5_remoteproc '
                                        'has no IOMMU and fails the whole boot', e.label,
                                   [(f['da'], f['da'] + f['len'])] if f else []))
            elif e.type == RSC_CARVEOUT and f and check_layout and e.label not in unplaceable:
                out += self.carveout_rules(e)
            elif e.type == RSC_TRACE and f and e.label not in unplaceable:
                out += self.trace_rules(e, entries)
            elif e.type == RSC_VDEV and f:
                notify.append((f['notifyid'], e.label + ' field notifyid'))
                expected = t.vdevs.get(vdev_index) if check_layout else None
                for j, v in enumerate(f['vrings']):
                    notify.append((v['notifyid'], f'{e.label} vring {j} field notifyid'))
                    here = None if f'{e.label} vring {j}' in unplaceable else expected
                    o, span = self.vring_rules(e, j, v, here, vdev_index)
                    out += o
                    if span:
                        vrings.append(span + (f'vdev{vdev_index}/vring{j}',))
                out += self.rpmsg_sizing(e, expected, vdev_index)
                vdev_index += 1
        out += self.notify_ids(notify)
        out += self.vring_overlaps(vrings, entries)
        return out

    def wide_fields(self, entries):
        """VRING-10: the table's da/pa/len fields are u32. The layout may put a
        vring (by its da, or its region when da is ANY) or a carveout/trace
        field at or above 4 GiB; a 64-bit image may hold an address cast to
        u32 (a value outside the image whose 4 GiB alias is inside it)."""
        out = []
        t = self.target
        vdev_index = 0
        for e in entries:
            f = e.fields
            if not f:
                continue
            if e.type == RSC_VDEV:
                expected = t.vdevs.get(vdev_index) if self.layout_checks else None
                for j, v in enumerate(f['vrings']):
                    name = f'vdev{vdev_index}/vring{j}'
                    obj = f'{e.label} vring {j} field da'
                    w = ((expected or {}).get('vrings') or [])[j:j + 1]
                    region = t.area(w[0].get('region')) if w else None
                    at = w[0].get('da', ADDR_ANY) if w else ADDR_ANY
                    if at == ADDR_ANY and region is not None:
                        at = region.start
                    if at != ADDR_ANY and at >= U32_END:
                        out.append(self.finding('VRING-10',
                                                f'the layout puts {name} at {at:#x}; its '
                                           'u32 da cannot hold an address at or above 4 GiB',
                                           obj, [(at, at + 1)],
                                           region.name if region is not None else None))
                    else:
                        out += self.truncated(name + ' da', v['da'], obj)
                vdev_index += 1
                continue
            w = self.matches.get(e.index, {})
            for key in ('da', 'pa', 'len'):
                value = w.get(key)
                obj = f'{e.label} field {key}'
                if isinstance(value, int) and value >= U32_END:
                    out.append(self.finding('VRING-10',
                                            f'the layout says {key} {value:#x}; the u32 '
                                       f'{key} of a {TYPE_NAMES.get(e.type)} entry cannot hold '
                                       'it', obj, [] if key == 'len' else [(value, value + 1)]))
                elif key != 'len' and key in f:
                    out += self.truncated(f'{TYPE_NAMES.get(e.type)} {key}', f[key], obj)
        return out

    def truncated(self, what, value, obj):
        """VRING-10 for a 64-bit image: ``value`` lies in no PT_LOAD but its
        alias 4 GiB (or a multiple) higher lies in one, or in a vring section:
        an address the table's u32 field cut short."""
        if self.image.ehdr.elfclass != 64 or value == ADDR_ANY:
            return []
        if self._high is None:
            spans = [(s, s + p.p_memsz, self.label(p)) for p in self.loads if p.p_memsz
                     for s in {p.p_paddr, p.p_vaddr}]
            spans += [(s.sh_addr, s.sh_addr + s.sh_size, s.name) for s in self.image.shdrs or ()
                      if 'vring' in s.name and s.sh_size]
            self._high = spans
        if any(s <= value < e for s, e, _ in self._high):
            return []
        for s, e, where in self._high:
            if e <= U32_END:
                continue
            alias = (max(s, U32_END) & ~0xFFFFFFFF) | value
            if alias < s:
                alias += U32_END
            if alias < e:
                return [self.finding('VRING-10', f'{what} {value:#x} is the low 32 bits of '
                                f'{alias:#x} ({where}): the u32 field cannot hold the address',
                                obj, [(alias, alias + 1)])]
        return []

    def carveout_rules(self, e) -> list:
        """ENT-02: a carveout lies inside a region of this domain; on xlnx its
        name is the region's devicetree node name."""
        f = e.fields
        t = self.target
        if f['da'] == ADDR_ANY:
            return []
        start, end = f['da'], f['da'] + f['len']
        named = [a for a in t.areas if a.dt_name == f['name']]
        if t.platform == XLNX_R5 and not named:
            return [self.finding('ENT-02', f'no region has the devicetree node name '
                                 f'{f["name"]!r}; Linux allocates a new carveout elsewhere',
                                 e.label + ' field name', [(start, end)], linux=_ELSEWHERE)]
        home = named[0] if named else t.load_area_holding(start, end)
        mine = [a for a in t.areas if a.owner == t.name] + t.load
        if home is None or not (home.start <= start and end <= home.end):
            where = home.title if home is not None else ', '.join(a.title for a in mine)
            return [self.finding('ENT-02', f'carveout {hexr(start, end)} is outside '
                                 f'{where or "every region of " + t.name}', e.label + ' field da',
                                 [(start, end)], home.name if home else None)]
        return []

    def trace_rules(self, e, entries) -> list:
        """TRACE-02: the buffer exists and lies in loaded memory, a carveout or
        (layout) a load region; without a layout, a buffer in none of the first
        two is a warning: only the layout says what the host can map."""
        f = e.fields
        obj = e.label
        if f['len'] == 0:
            return [self.finding('TRACE-02', 'trace buffer len is 0', obj + ' field len')]
        if f['da'] == ADDR_ANY:
            return [self.finding('TRACE-02', 'trace buffer da is ANY (0xffffffff)',
                                 obj + ' field da')]
        start, end = f['da'], f['da'] + f['len']
        spans = [(p.p_vaddr, p.p_vaddr + p.p_memsz) for p in self.loads]
        spans += [(p.p_paddr, p.p_paddr + p.p_memsz) for p in self.loads]
        spans += [(c.fields['da'], c.fields['da'] + c.fields['len']) for c in entries
                  if c.type == RSC_CARVEOUT and c.fields]
        if self.target is not None:
            spans += [(a.start, a.end) for a in self.target.load]
        if any(s <= start and end <= x for s, x in spans):
            return []
        what = f'trace buffer {hexr(start, end)} is not inside a PT_LOAD segment or a carveout'
        if self.target is None:
            return [self.finding('TRACE-02', f'{what}; whether the host can map it there (a TCM '
                                 'bank, a memory-region of the core) needs the layout: pass '
                                 '--system or --layout', obj + ' field da', [(start, end)],
                                 severity='warning')]
        return [self.finding('TRACE-02', f'{what} or a load region of {self.target.name}',
                             obj + ' field da', [(start, end)],
                             ', '.join(a.name for a in self.target.load) or None)]

    def vring_rules(self, e, j: int, v: dict, expected, vdev_index: int):
        """VRING-01/02/03/06 on the entry, VRING-04/05 against the layout,
        VRING-07. Returns (findings, (start, end) of the ring or None)."""
        obj = f'{e.label} vring {j}'
        ring = f'vdev{vdev_index}/vring{j}'
        out = self.vring_fields(v, obj)
        valid = not any(f.rule in ('VRING-01', 'VRING-02', 'VRING-03') for f in out)
        want = (expected or {}).get('vrings') or []
        want = want[j] if j < len(want) else None
        region = self.target.area(want.get('region')) if want else None
        where = v['da']
        if want is not None and where == ADDR_ANY:
            where = want.get('da', ADDR_ANY)
            if where == ADDR_ANY and region is not None:
                where = region.start
        if region is not None:
            out += self.vring_region(v, want, region, where, valid, obj, ring)
        if where == ADDR_ANY or not valid:
            return out, None
        span = (where, where + vring_size(v['num'], v['align']))
        for p in self.loads:
            if p.p_memsz and p.p_paddr < span[1] and span[0] < p.p_paddr + p.p_memsz:
                out.append(self.finding('VRING-07', f'{ring} {hexr(*span)} overlaps '
                                        f'{self.label(p)}', obj,
                                        [span, (p.p_paddr, p.p_paddr + p.p_memsz)]))
        return out, span

    def vring_fields(self, v: dict, obj: str) -> list:
        """VRING-01/02/03/06: what one vring entry says by itself."""
        out = []
        num, align, da = v['num'], v['align'], v['da']
        if num == 0:
            out.append(self.finding('VRING-01', 'vring num is 0', obj + ' field num'))
        elif not is_pow2(num) or num > 32768:
            out.append(self.finding('VRING-02', f'vring num {num} is not a power of two <= 32768',
                                    obj + ' field num'))
        if not is_pow2(align):
            out.append(self.finding('VRING-03', f'vring align {align:#x} is not a power of two',
                                    obj + ' field align',
                                    linux=RULES['VRING-01'].linux if align == 0 else None))
        if da != ADDR_ANY:
            if da % 16:
                out.append(self.finding('VRING-06', f'vring da {da:#x} is not 16-byte aligned',
                                        obj + ' field da', [(da, da + 1)]))
            elif is_pow2(align) and da % align:
                out.append(self.finding('VRING-06', f'vring da {da:#x} is not aligned to align '
                                        f'{align:#x}', obj + ' field da', [(da, da + 1)],
                                        severity='warning'))
        return out

    def vring_region(self, v, want, region, where, valid, obj, ring) -> list:
        """VRING-05: the ring's da where the layout has it; VRING-04: it fits
        its region (page-rounded under Linux)."""
        da = v['da']
        wanted = want.get('da', ADDR_ANY)
        if da != ADDR_ANY and (not region.start <= da < region.end
                               or wanted not in (ADDR_ANY, da)):
            exp = f'{wanted:#x}' if wanted != ADDR_ANY else f'inside {region.title}'
            return [self.finding('VRING-05', f'{ring} da is {da:#x}, the layout expects {exp} '
                                 f'(or ANY) in {region.title}', obj + ' field da',
                                 [(da, da + 1), (region.start, region.end)], region.name,
                                 names=(ring,))]
        if not valid:
            return []
        need = vring_size(v['num'], v['align'])
        if self.loader != OPENAMP:
            page = self.target.page_size
            need = (need + page - 1) // page * page
        room = region.end - (where if region.start <= where < region.end else region.start)
        if need <= room:
            return []
        return [self.finding('VRING-04', f'{ring} needs {need:#x} bytes (num {v["num"]}, align '
                             f'{v["align"]:#x}), region {region.title} has {room:#x}', obj,
                             [(where, where + need)], region.name, names=(ring,))]

    def rpmsg_sizing(self, e, expected, vdev_index):
        """VRING-09: symmetric rpmsg vrings and a buffer pool that holds them."""
        f = e.fields
        rings = f['vrings']
        if f['id'] != VIRTIO_ID_RPMSG or len(rings) != 2:
            return []
        if rings[0]['num'] != rings[1]['num']:
            return [self.finding('VRING-09', f'rpmsg vrings have num {rings[0]["num"]} and '
                            f'{rings[1]["num"]}; Linux expects symmetric vrings',
                            e.label + ' vring 1 field num')]
        pool = (expected or {}).get('buffers')
        num = rings[0]['num']
        if pool and is_pow2(num):
            need = min(2 * num, 512) * 512
            if pool.get('size', need) < need:
                return [self.finding('VRING-09', f'vdev{vdev_index} with num {num} needs a '
                                f'{need:#x}-byte buffer pool, {self.title(pool.get("region"))} is '
                                f'{pool["size"]:#x}', e.label, region=pool.get('region'))]
        return []

    def notify_ids(self, notify: list) -> list:
        """VDEV-04: notify IDs unique and below 32 (ANY is the host's choice)."""
        out = []
        seen = {}
        severity = 'error' if self.loader == OPENAMP else None
        note = self.unless_openamp()
        for nid, obj in notify:
            if nid == ADDR_ANY:
                continue
            if nid >= 32:
                out.append(self.finding('VDEV-04', f'notify ID {nid} is not below 32{note}', obj,
                                        severity=severity))
            elif nid in seen:
                out.append(self.finding('VDEV-04', f'notify ID {nid} is also used by '
                                        f'{seen[nid]}{note}', obj, severity=severity))
            seen.setdefault(nid, obj)
        return out

    def vring_overlaps(self, vrings, entries):
        """VRING-08: rings against rings, buffer pools and carveouts."""
        items = [(s, e, ('vring', name)) for s, e, name in vrings]
        if not items:
            return []
        items += [(c.fields['da'], c.fields['da'] + c.fields['len'], ('carveout', c.label))
                  for c in entries if c.type == RSC_CARVEOUT and c.fields
                  and c.fields['da'] != ADDR_ANY]
        if self.layout_checks:
            items += [(b['base'], b['base'] + b['size'], ('buffers', f'vdev{i} buffers'))
                      for i, v in self.target.vdevs.items()
                      for b in [v.get('buffers')] if b and 'base' in b and 'size' in b]
        out = []
        for a, b in overlapping(items):
            if a[2][0] != 'vring' and b[2][0] != 'vring':
                continue
            out.append(self.finding('VRING-08', f'{b[2][1]} {hexr(b[0], b[1])} overlaps {a[2][1]} '
                               f'{hexr(a[0], a[1])}', b[2][1], [a[:2], b[:2]]))
        return out

    # Layout comparisons ----------------------------------------------------

    def title(self, region: str) -> str:
        """A layout region as messages name it (devicetree name, layout name)."""
        area = self.target.area(region) if self.target is not None else None
        return area.title if area is not None else str(region)

"""Where .resource_table and its Xilinx attach metadata are (RSC-xx, PLAT-01/02)."""

from ..elfread import SHF_ALLOC
from .rules import Act
from .util import XAMP, XAMP_MAGIC, XLNX_R5, ZEPHYR_SECTIONS, ZEPHYR_SYMBOL, hexr

# The magic is right: xlnx_r5_remoteproc attaches, silently, with the wrong table.
_WRONG_ATTACH = Act('corrupt', None, 'attaching to the running R5 maps the wrong table; loading '
                    'the ELF is unaffected')


class PlacementRules:
    """Mixin of Checker: the table's section and the attach metadata."""

    # C. table placement ----------------------------------------------------

    def table(self, loaded):
        image = self.image
        tables = image.sections_named('.resource_table')
        if not tables:
            prefixed = [s.name for s in image.shdrs if s.name.startswith('.resource_table')]
            if prefixed:
                return [self.finding('RSC-02', f'no section named exactly .resource_table, only '
                                f'{", ".join(prefixed)}; the loaders look for the exact name '
                                '(KEEP(*(.resource_table*)) in the linker script)')]
            t = self.target
            uses_vdev = t is None or bool(t.vdevs or t.table or t.table_place)
            what = 'rpmsg cannot start' if uses_vdev else 'the layout declares no vdev'
            return [self.finding('RSC-01', f'no .resource_table section; {what}',
                            severity=None if uses_vdev else 'info')]
        sec = tables[0]
        out = []
        if len(tables) > 1:
            out.append(self.finding('RSC-02', f'{len(tables)} sections named .resource_table; the '
                               f'loaders use the first (section {sec.index})',
                               severity='warning'))
        obj = '.resource_table'
        rng = [(sec.sh_addr, sec.sh_addr + sec.sh_size)]
        if sec.sh_type != 'SHT_PROGBITS' or sec.sh_offset + sec.sh_size > image.size:
            what = (f'is {sec.sh_type}' if sec.sh_type != 'SHT_PROGBITS'
                    else f'ends at file offset {sec.sh_offset + sec.sh_size:#x}, file is '
                    f'{image.size:#x} bytes')
            return out + [self.finding('RSC-03', f'.resource_table {what}; the table is read from '
                                  'the file bytes', obj, rng)]
        if loaded:
            out += self.table_placement(sec, obj, rng)
        data = image.read(sec.sh_offset, sec.sh_size)
        out += self.table_contents(data, sec)
        return out

    def table_placement(self, sec, obj: str, rng: list) -> list:
        """RSC-04/05/06, then (layout) RSC-07 and PLAT-02."""
        out = []
        seg = self.table_segment(sec)
        moved = False
        if seg is None:
            why = '' if sec.sh_flags & SHF_ALLOC else ' (not SHF_ALLOC)'
            out.append(self.finding('RSC-04', f'.resource_table (sh_addr {sec.sh_addr:#x}){why} '
                                    'is not in any PT_LOAD', obj, rng))
        else:
            loads_at = seg.p_vaddr + sec.sh_offset - seg.p_offset
            moved = loads_at != sec.sh_addr
            if moved:
                out.append(self.moved_table(sec, seg, loads_at, obj, rng))
            elif seg.p_paddr != seg.p_vaddr:
                lma = sec.sh_addr - seg.p_vaddr + seg.p_paddr
                out.append(self.finding('RSC-05', f'.resource_table is loaded at {lma:#x} (LMA) '
                                        f'but linked at {sec.sh_addr:#x} (VMA); the host updates '
                                        'the VMA', obj, rng + [(lma, lma + sec.sh_size)]))
        if sec.sh_addr % 8:
            out.append(self.finding('RSC-06', f'.resource_table sh_addr {sec.sh_addr:#x} is not '
                                    '8-byte aligned', obj, rng))
        if self.layout_checks and seg is not None:
            out += self.table_region(rng, address=not moved)
        if self.layout_checks and seg is not None and not moved:
            out += self.zephyr_placement(sec, obj)
        return out

    def table_segment(self, sec):
        """The PT_LOAD whose file bytes hold the table's, or None (not
        SHF_ALLOC, or no segment loads those bytes)."""
        if not sec.sh_flags & SHF_ALLOC:
            return None
        return next((p for p in self.loads
                     if p.p_offset <= sec.sh_offset
                     and sec.sh_offset + sec.sh_size <= p.p_offset + p.p_filesz), None)

    def moved_table(self, sec, seg, loads_at: int, obj: str, rng: list):
        """RSC-04: sh_addr is not where the segment puts the table's bytes."""
        paddr = loads_at - seg.p_vaddr + seg.p_paddr
        where = f'{loads_at:#x}' + (f' (LMA {paddr:#x})' if paddr != loads_at else '')
        writes = Act('corrupt', None, 'writes the updated table at sh_addr, where the firmware '
                     'never reads it; the table the firmware reads keeps the unset vring addresses')
        return self.finding(
            'RSC-04', f'.resource_table sh_addr is {sec.sh_addr:#x} but its bytes (file offset '
            f'{sec.sh_offset:#x}) load at {where} in {self.label(seg)}', obj,
            rng + [(loads_at, loads_at + sec.sh_size)], linux=writes, openamp=writes)

    def table_region(self, rng: list, address: bool = True) -> list:
        """RSC-07: in a region of this domain the host can write and map, and
        (``address``) where the layout puts the table."""
        t = self.target
        start, end = rng[0]
        home = t.load_area_holding(start, end)
        if home is None or home.kind in ('rom', 'flash'):
            where = ('outside every load region' if home is None
                     else f'in {home.kind} {home.title}')
            return [self.finding('RSC-07', f'.resource_table {hexr(start, end)} is {where} of '
                                 f'{t.name}; the host must write it', '.resource_table', rng,
                                 ', '.join(a.name for a in t.load) or None)]
        want = (t.table_place or {}).get('address', (t.table or {}).get('address'))
        if not address or want is None or want == start:
            return []
        both = Act('none', None, 'writes the updated table at sh_addr, where the firmware reads '
                   'it; the place the layout reserved for it stays unused')
        return [self.finding('RSC-07', f'.resource_table is at {start:#x}, the layout puts it '
                             f'at {want:#x}', '.resource_table',
                             rng + [(want, want + (end - start))],
                             (t.table_place or {}).get('region'), severity='warning',
                             linux=both, openamp=both)]

    # H. platform specifics -----------------------------------------------

    def zephyr_placement(self, sec, obj: str) -> list:
        """PLAT-02: a Zephyr image whose table is not where the layout reserved
        it was linked without the generated amp_sections.ld; say how to add it.
        RSC-04/RSC-07 report what the placement breaks, this only the cause."""
        t = self.target
        want = (t.table_place or {}).get('address', (t.table or {}).get('address'))
        if want is None or sec.sh_addr == want or not self.is_zephyr():
            return []
        orphan = ('; Zephyr\'s ZynqMP RPU script has no rule for the table, ld places it as '
                  'an orphan' if t.platform == XLNX_R5 else '')
        gen = f'<amp-config output>/{t.name}'
        return [self.finding('PLAT-02',
                             f'Zephyr image not linked with the generated amp_sections.ld '
                        f'(or with a stale one){orphan}: build with -DAMP_CMAKE={gen}/amp.cmake '
                        f'or add zephyr_linker_sources(SECTIONS {gen}/amp_sections.ld)', obj,
                        region=(t.table_place or {}).get('region'))]

    def is_zephyr(self):
        image = self.image
        return (any(s.name in ZEPHYR_SECTIONS for s in image.shdrs or ())
                or image.symbol(ZEPHYR_SYMBOL) is not None)

    def attach_metadata(self):
        """PLAT-01: the Xilinx attach metadata, when the image has it: magic,
        ~magic, the table's address and size and (layout, xlnx) its place at
        the start of the domain's firmware region."""
        image = self.image
        metas = image.sections_named('.resource_table_metadata')
        if not metas:
            return []
        meta = metas[0]
        obj = '.resource_table_metadata'
        rng = [(meta.sh_addr, meta.sh_addr + meta.sh_size)]
        ptr = 8 if image.ehdr.elfclass == 64 else 4
        need = XAMP.size + ptr
        nobits = meta.sh_type == 'SHT_NOBITS'
        data = b'' if nobits else image.read(meta.sh_offset, min(meta.sh_size, need))
        if len(data) < need:
            what = 'is SHT_NOBITS' if nobits else f'has {len(data)} bytes'
            return [self.finding('PLAT-01', f'{obj} {what}; the attach metadata is {need} bytes '
                            '(version, magic, ~magic, table size, table address)', obj, rng)]
        _, magic, comp, size = XAMP.unpack_from(data)
        addr = int.from_bytes(data[XAMP.size:need], 'little')
        out = []
        if magic != XAMP_MAGIC:
            out.append(self.finding('PLAT-01',
                                    f'magic is {magic:#x}, not {XAMP_MAGIC:#x} (\'xamp\'): '
                               'xlnx_r5_remoteproc will not attach', obj + ' field magic', rng))
        if comp != XAMP_MAGIC ^ 0xFFFFFFFF:
            out.append(self.finding('PLAT-01', f'comp_magic is {comp:#x}, not ~magic '
                               f'{XAMP_MAGIC ^ 0xFFFFFFFF:#x}: xlnx_r5_remoteproc will not attach',
                               obj + ' field comp_magic', rng))
        tables = image.sections_named('.resource_table')
        if tables:                      # else RSC-01/02 say what is missing
            sec = tables[0]
            if addr != sec.sh_addr:
                out.append(self.finding('PLAT-01', f'rsc_tbl is {addr:#x}, .resource_table is at '
                                   f'{sec.sh_addr:#x}: an attach would use the wrong table',
                                   obj + ' field rsc_tbl', [(addr, addr + 1)],
                                   linux=_WRONG_ATTACH))
            if size != sec.sh_size:
                out.append(self.finding('PLAT-01', f'rsc_tbl_size is {size}, .resource_table is '
                                   f'{sec.sh_size} bytes: an attach would map the wrong size',
                                   obj + ' field rsc_tbl_size', linux=_WRONG_ATTACH))
        if self.layout_checks and self.target.platform == XLNX_R5:
            out += self.metadata_place(meta, obj, rng)
        return out

    def metadata_place(self, meta, obj: str, rng: list) -> list:
        """PLAT-01 (xlnx): the metadata at the start of the domain's firmware region."""
        t = self.target
        out = []
        # The driver reads the metadata at the base of memory-region 0, the
        # domain's firmware region (a carveout when it has none).
        home = (next((a for a in t.load if a.kind == 'firmware'), None)
                or next((a for a in t.load if a.kind == 'carveout'), None))
        if home is None:
            out.append(self.finding('PLAT-01', f'{t.name} has no firmware or carveout region; '
                               'xlnx_r5_remoteproc reads the metadata at the start of its '
                               'first memory-region', obj, rng))
        elif meta.sh_addr != home.start or not meta.sh_flags & SHF_ALLOC:
            where = (f'is at {meta.sh_addr:#x}' if meta.sh_flags & SHF_ALLOC
                     else 'is not SHF_ALLOC (never loaded)')
            out.append(self.finding('PLAT-01', f'{obj} {where}; xlnx_r5_remoteproc reads it at '
                               f'the start of {home.title} ({home.start:#x})', obj,
                               rng + [(home.start, home.end)], home.name))
        return out

"""Rules on the ELF container and its loadable segments (ELF-0x, SEG-xx)."""

import bisect

from ..elfread import MACHINE_TITLES, PF_X, SHF_ALLOC, SHF_EXECINSTR
from .rules import OPENAMP, Act
from .util import R5_HIVEC_THRESHOLD, XLNX_R5, hexr, overlapping


class SegmentRules:
    """Mixin of Checker: container, segments and their placement."""

    def container(self) -> list:
        h = self.image.ehdr
        out = []
        if h.e_type == 'ET_DYN':
            out.append(self.finding('ELF-06', 'e_type is ET_DYN; remoteproc never relocates, '
                               'link an ET_EXEC', severity='warning'))
        elif h.e_type != 'ET_EXEC':
            out.append(self.finding('ELF-06', f'e_type is {h.e_type}; remoteproc loads ET_EXEC '
                               'images only'))
        if not any(p.p_memsz for p in self.loads) and h.e_type != 'ET_REL':
            none = h.e_phnum == 0
            out.append(self.finding('ELF-08', 'no PT_LOAD segment with p_memsz > 0: nothing would '
                                    'be loaded', 'ELF header',
                                    linux=Act('fail', 'No loadable segments', 'the load fails')
                                    if none else None))
        return out

    def core_mismatch(self):
        """ELF-05: class and machine are what the domain's core runs."""
        want = self.target.elf
        if not want:
            return []
        h = self.image.ehdr
        if h.elfclass == want.get('class') and h.e_machine == want.get('machine'):
            return []

        def title(cls, machine):
            return f'ELF{cls}/{MACHINE_TITLES.get(machine, machine)}'

        return [self.finding('ELF-05', f'ELF is {title(h.elfclass, h.e_machine)} but core '
                        f'{self.target.core} needs {title(want.get("class"), want.get("machine"))}',
                        obj='ELF header')]

    # B. segments -----------------------------------------------------------

    def label(self, p):
        """'segment 1 (.text .rodata)': the ALLOC sections inside the segment."""
        if self._label_index is None:
            secs = sorted((s.sh_addr, s.name) for s in self.image.shdrs or ()
                          if s.sh_flags & SHF_ALLOC and s.sh_size and s.name)
            self._label_index = ([a for a, _ in secs], [n for _, n in secs])
        addrs, names = self._label_index
        lo = bisect.bisect_left(addrs, p.p_vaddr)
        hi = bisect.bisect_left(addrs, p.p_vaddr + max(p.p_memsz, 1))
        inside = names[lo:min(hi, lo + 6)] + (['...'] if hi - lo > 6 else [])
        return f'segment {p.index}' + (f' ({" ".join(inside)})' if inside else '')

    def segments(self):
        h = self.image.ehdr
        out = []
        openamp = self.loader == OPENAMP
        for p in self.loads:
            span = [(p.p_paddr, p.p_paddr + p.p_memsz)]
            if p.p_filesz > p.p_memsz:
                out.append(self.finding('SEG-01',
                                        f'p_filesz {p.p_filesz:#x} is larger than p_memsz '
                                   f'{p.p_memsz:#x}', self.label(p), span))
            if p.p_offset + p.p_filesz > self.image.size:
                out.append(self.finding('SEG-02', f'segment bytes end at file offset '
                                   f'{p.p_offset + p.p_filesz:#x}, file is '
                                   f'{self.image.size:#x} bytes', self.label(p),
                                   [(p.p_offset, p.p_offset + p.p_filesz)], file_ranges=True))
            if p.p_paddr != p.p_vaddr:
                out.append(self.finding('SEG-03',
                                        f'p_paddr {p.p_paddr:#x} != p_vaddr {p.p_vaddr:#x}:'
                                   ' the loaders place the bytes at p_paddr', self.label(p), span))
            if p.p_memsz == 0:
                out.append(self.finding('SEG-05', 'PT_LOAD with p_memsz 0' + self.unless_openamp(),
                                        self.label(p), severity='error' if openamp else None))
        for a, b in overlapping([(p.p_paddr, p.p_paddr + p.p_memsz, p) for p in self.loads]):
            out.append(self.finding('SEG-06', f'{self.label(b[2])} {hexr(b[0], b[1])} overlaps '
                               f'{self.label(a[2])} {hexr(a[0], a[1])}', self.label(b[2]),
                               [a[:2], b[:2]]))
        entry = h.e_entry
        if self.loads and not any(p.p_flags & PF_X and (
                p.p_vaddr <= entry < p.p_vaddr + p.p_memsz
                or p.p_paddr <= entry < p.p_paddr + p.p_memsz) for p in self.loads):
            out.append(self.finding('SEG-10', f'e_entry {entry:#x} is not inside an executable '
                               'PT_LOAD segment', 'ELF header', [(entry, entry + 1)]))
        return out

    def placement(self):
        """SEG-04/07/08/09/11 against the domain's memory."""
        t = self.target
        out = []
        for p in self.loads:
            if not p.p_memsz:
                continue
            start, end = p.p_paddr, p.p_paddr + p.p_memsz
            home = t.load_area_holding(start, end)
            if home is not None:
                out += self.foreign(p, start, end, home)
                continue
            alias = next((a for a in t.areas if a.kind == 'tcm' and a.start != a.base
                          and a.base <= start < a.base + (a.end - a.start)), None)
            if alias is not None:
                local = start - alias.base + alias.start
                out.append(self.finding('SEG-08',
                                        f'segment at {start:#x} uses the global TCM alias '
                                   f'of {alias.title}; link it at the R5-local address '
                                   f'{local:#x}', self.label(p), [(start, end)], alias.name))
                continue
            run = self.contiguous_cover(start, end)
            if run:
                out.append(self.finding('SEG-11', f'segment {hexr(start, end)} straddles '
                                   f'{" and ".join(a.title for a in run)}; each is its own '
                                   'carveout', self.label(p), [(start, end)],
                                   ', '.join(a.name for a in run)))
                continue
            hit = self.foreign(p, start, end, None)
            if hit:
                out += hit
                continue
            out.append(self.finding('SEG-04', f'segment {hexr(start, end)} is outside every memory '
                               f'region of {t.core}', self.label(p), [(start, end)],
                               ', '.join(a.name for a in t.load) or None))
        if t.platform == XLNX_R5 and t.boot:
            out += self.reset_vector()
        return out

    def contiguous_cover(self, start, end):
        """The load regions that together (back to back) cover [start, end), or []."""
        run = []
        at = start
        for a in sorted(self.target.load, key=lambda a: a.start):
            if a.start <= at < a.end:
                run.append(a)
                at = a.end
                if at >= end:
                    return run
        return []

    def foreign(self, p, start, end, home):
        """SEG-07: regions owned by someone else that [start, end) touches,
        ignoring regions that contain the segment's own load region."""
        t = self.target
        mine = {a.name for a in t.load}
        spaces = {a.space for a in t.load} or {'phys'}
        out = []
        for a in t.areas:
            if (a.owner == t.name or a.name in mine or a.space not in spaces
                    or not (a.start < end and start < a.end)):
                continue
            if home is not None and a.start <= home.start and home.end <= a.end:
                continue
            owner = a.owner if a.owner and a.owner != 'shared' else 'shared memory'
            out.append(self.finding('SEG-07', f'segment {hexr(start, end)} overlaps {a.title} '
                               f'({owner})', self.label(p), [(start, end), (a.start, a.end)],
                               a.name))
        return out

    def reset_vector(self):
        """SEG-09: xlnx_r5_remoteproc boots the R5 at LOVEC or HIVEC, not e_entry."""
        boot = self.target.boot
        entry = self.image.ehdr.e_entry
        hivec = entry >= R5_HIVEC_THRESHOLD
        vec = boot.get('hivec') if hivec else boot.get('lovec')
        if vec is None:
            return []
        name = 'HIVEC' if hivec else 'LOVEC'
        unused = f'e_entry {entry:#x} is not used by xlnx_r5_remoteproc'
        seg = next((p for p in self.loads if p.p_paddr <= vec < p.p_paddr + p.p_filesz), None)
        if seg is None:
            return [self.finding('SEG-09', f'no PT_LOAD covers the R5 {name} reset vector at '
                            f'{vec:#x} ({unused})', 'ELF header', [(vec, vec + 4)])]
        # The segment may cover it with nothing but the ELF headers ld loaded there.
        vaddr = vec - seg.p_paddr + seg.p_vaddr
        if self.image.shdrs and not any(
                s.sh_flags & SHF_ALLOC and s.sh_flags & SHF_EXECINSTR
                and s.sh_addr <= vaddr < s.sh_addr + s.sh_size for s in self.image.shdrs):
            return [self.finding('SEG-09',
                                 f'{self.label(seg)} covers the R5 {name} reset vector at '
                            f'{vec:#x} with no code section there ({unused})', self.label(seg),
                            [(vec, vec + 4)])]
        if entry not in (boot.get('lovec'), boot.get('hivec')):
            return [self.finding('SEG-09',
                                 f'{unused}; the R5 boots at {name} {vec:#x}', 'ELF header',
                            [(entry, entry + 1)], severity='warning')]
        return []

    # C. table placement ----------------------------------------------------


    def unless_openamp(self) -> str:
        """For the rules whose severity is the loader's: say so when no loader is known."""
        if self.loader is None:
            return ' (an error if the loader is OpenAMP: pass --loader or --system)'
        return ''

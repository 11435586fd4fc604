"""ELF checks for remote-core firmware: will this image load, and load where the system says?

``check_elf(path, layout=None, domain=None, loader=None)`` applies the rule
catalogue of ../shared/docs/loader-rules.md (rule IDs, default severities,
messages) to one ELF and returns a ``Report`` of ``Finding``s:

- always: the container rules (ELF-01..04, 06..08), the segment rules
  (SEG-01..03, 05, 06, 10), the placement of ``.resource_table`` (RSC-01..06),
  its header (HDR-01..06) and its entries (ENT-01, TRACE-01/02, VDEV-01..04,
  VRING-01/02/03/06/07/08 and the symmetric half of VRING-09), VRING-10 for
  a 64-bit image's addresses cut to 32 bits, and PLAT-01 (the Xilinx attach
  metadata, when the image has ``.resource_table_metadata``);
- with a layout (the dict of a layout.json, docs/layout-json.md) and a domain:
  ELF-05, SEG-04, SEG-07, SEG-08, SEG-09, SEG-11, RSC-07, ENT-02, ENT-03,
  VRING-04/05, the vrings the host allocates (``da`` ANY) placed where the
  layout puts them for VRING-07/08, the buffer pool of VRING-09, VRING-10 for
  what the layout puts at or above 4 GiB, the place of the attach metadata
  (PLAT-01, xlnx), PLAT-02 (a Zephyr image whose table is not where the
  layout reserved it: how to link amp_sections.ld), LAY-01 (the table's
  entries equal the layout's, field by field) and HVL-01 (the HVL pool
  symbols and ``.shared.vring`` sections).

LAY-01 and HVL-01 are this checker's own IDs: loader-rules.md has no rule that
compares the image with a layout. A damaged file ends in findings (ELF-0x),
never in an exception; ``ElfCheckError`` means the check could not run at all
(the file cannot be opened, the domain is not in the layout).
"""

import bisect
import struct
from dataclasses import dataclass, field

from .elfread import MACHINE_TITLES, PF_X, SHF_ALLOC, SHF_EXECINSTR, ElfImage
from .errors import UsageError

ADDR_ANY = 0xFFFFFFFF
U32_END = 1 << 32                   # resource-table addresses and lengths are u32 (VRING-10)
RSC_CARVEOUT, RSC_DEVMEM, RSC_TRACE, RSC_VDEV = 0, 1, 2, 3
RSC_VENDOR_START, RSC_VENDOR_END = 128, 512
VIRTIO_ID_RPMSG = 7
TYPE_NAMES = {RSC_CARVEOUT: 'carveout', RSC_DEVMEM: 'devmem', RSC_TRACE: 'trace',
              RSC_VDEV: 'vdev'}
XLNX_R5 = 'xlnx-zynqmp-r5'
OPENAMP = 'openamp'
R5_HIVEC_THRESHOLD = 0xFFFC0000      # xlnx_r5_remoteproc: bootaddr >= this -> HIVEC
XAMP_MAGIC = 0x78616D70              # 'xamp', .resource_table_metadata (formats.md 2.6.2)
# Every Zephyr image has these output sections (include/zephyr/linker/common-rom/) and
# this kernel function; PLAT-02 looks at the names first (free), the symbol table last.
ZEPHYR_SECTIONS = ('initlevel', 'device_area')
ZEPHYR_SYMBOL = 'z_cstart'


class ElfCheckError(UsageError):
    """The check could not run: unreadable file, unknown domain, bad layout."""


@dataclass(frozen=True)
class Rule:
    """One catalogue rule: default severity, what the loaders do (``consequence``
    is 'fail', 'ignore' or 'corrupt'; 'none' for advice) and how, in ``effect``."""

    id: str
    severity: str
    consequence: str
    effect: str


RULES = {r.id: r for r in (
    Rule('ELF-01', 'error', 'fail', 'Linux: "bad magic"; OpenAMP: "failed to get store ops"'),
    Rule('ELF-02', 'error', 'fail', 'Linux: "Image is too small"; OpenAMP: load fails'),
    Rule('ELF-03', 'error', 'fail', 'Linux: "Unsupported class"; OpenAMP parses it as ELF32'),
    Rule('ELF-04', 'error', 'fail', 'Linux: "Unsupported firmware endianness"; '
         'OpenAMP reads garbage'),
    Rule('ELF-05', 'error', 'corrupt', 'no loader checks it: the image is loaded and the core '
         'crashes'),
    Rule('ELF-06', 'error', 'corrupt', 'no loader checks it: the image is never relocated'),
    Rule('ELF-07', 'error', 'fail', 'Linux: "Image is too small"; OpenAMP: "load header failed"'),
    Rule('ELF-08', 'error', 'corrupt', 'Linux loads nothing and starts the core anyway'),
    Rule('SEG-01', 'error', 'fail', 'Linux: "bad phdr filesz"; OpenAMP copies past the mapping'),
    Rule('SEG-02', 'error', 'fail', 'Linux: "truncated fw"; OpenAMP: "load data failed"'),
    Rule('SEG-03', 'warning', 'none', 'the bytes are loaded at p_paddr; start-up code must copy '
         'them to p_vaddr'),
    Rule('SEG-04', 'error', 'fail', 'Linux: "bad phdr da"; OpenAMP: "no mapping"'),
    Rule('SEG-05', 'warning', 'none', 'OpenAMP: "load failed, no mapping"; Linux accepts it'),
    Rule('SEG-06', 'error', 'corrupt', 'the later segment silently overwrites the earlier one'),
    Rule('SEG-07', 'error', 'corrupt', 'Linux loads it and the owner\'s memory is overwritten'),
    Rule('SEG-08', 'error', 'fail', 'Linux: "bad phdr da" (TCM carveouts use the R5-local '
         'address)'),
    Rule('SEG-09', 'error', 'corrupt', 'the R5 boots from its reset vector into zeroed TCM'),
    Rule('SEG-10', 'error', 'corrupt', 'the core starts outside its code'),
    Rule('SEG-11', 'error', 'fail', 'Linux: "bad phdr da" (one carveout per segment); OpenAMP: '
         '"no mapping"'),
    Rule('RSC-01', 'error', 'ignore', 'xlnx: "no resource table found.", the core boots '
         'without IPC'),
    Rule('RSC-02', 'error', 'ignore', 'both loaders take the first section named exactly '
         '.resource_table'),
    Rule('RSC-03', 'error', 'ignore', 'Linux: "resource table truncated"; no IPC'),
    Rule('RSC-04', 'error', 'corrupt', 'Linux never writes the updated table back (silent) or '
         'writes it over what sits at sh_addr'),
    Rule('RSC-05', 'error', 'corrupt', 'the firmware\'s copy-down overwrites the host\'s '
         'updated table'),
    Rule('RSC-06', 'warning', 'corrupt', 'the host memcpy into write-combined memory may fault'),
    Rule('RSC-07', 'error', 'ignore', 'the host cannot write the table; the remote never sees '
         'the vring addresses'),
    Rule('HDR-01', 'error', 'ignore', 'Linux: "header-less resource table"; no IPC'),
    Rule('HDR-02', 'error', 'ignore', 'Linux: "unsupported fw ver", the table is ignored and the '
         'core boots without IPC'),
    Rule('HDR-03', 'error', 'ignore', 'Linux: "non zero reserved bytes", the table is ignored'),
    Rule('HDR-04', 'error', 'ignore', 'Linux: "resource table incomplete", the table is '
         'ignored'),
    Rule('HDR-05', 'error', 'fail', 'Linux: "rsc table is truncated", boot fails; OpenAMP reads '
         'past the table'),
    Rule('HDR-06', 'warning', 'ignore', 'Linux: "unsupported resource", the entry is skipped'),
    Rule('ENT-01', 'error', 'fail', 'Linux: "carveout rsc is truncated" / "non zero reserved '
         'bytes", boot fails'),
    Rule('ENT-02', 'error', 'fail', 'Linux: "Registered carveout doesn\'t fit" or allocates '
         'elsewhere'),
    Rule('ENT-03', 'error', 'fail', 'Linux without IOMMU: "Failed to process resources: -22"'),
    Rule('TRACE-01', 'error', 'fail', 'Linux: "trace rsc is truncated", boot fails'),
    Rule('TRACE-02', 'error', 'ignore', 'Linux creates trace0 empty or unreadable; OpenAMP '
         'ignores it'),
    Rule('VDEV-01', 'error', 'fail', 'Linux: "vdev rsc is truncated", boot fails'),
    Rule('VDEV-02', 'error', 'ignore', 'the rpmsg probe fails: no /dev/rpmsg*'),
    Rule('VDEV-03', 'warning', 'ignore', 'the remote may see a stale status'),
    Rule('VDEV-04', 'warning', 'none', 'Linux assigns its own IDs; an OpenAMP host fails'),
    Rule('VRING-01', 'error', 'ignore', 'Linux: "invalid qsz", the vdev probe fails (no rpmsg)'),
    Rule('VRING-02', 'error', 'ignore', 'OpenAMP rejects it; Linux lays the ring out wrongly'),
    Rule('VRING-03', 'error', 'ignore', 'Linux: "invalid alignment" for 0; both sides disagree '
         'on the ring otherwise'),
    Rule('VRING-04', 'error', 'ignore', 'Linux: "Registered carveout doesn\'t fit len request", '
         'vdev missing'),
    Rule('VRING-05', 'error', 'ignore', 'Linux: "Registered carveout doesn\'t fit da request", '
         'vdev missing'),
    Rule('VRING-06', 'error', 'corrupt', 'the rings are misaligned for one side'),
    Rule('VRING-07', 'error', 'corrupt', 'the host zeroes the ring over the loaded image'),
    Rule('VRING-08', 'error', 'corrupt', 'two users write the same memory'),
    Rule('VRING-09', 'warning', 'ignore', 'Linux: WARN_ON, or rpmsg runs out of buffers'),
    Rule('VRING-10', 'error', 'corrupt', 'Linux: "DMA (or Physical) address cast in 32bit to '
         'fit resource table format"; the remote uses the truncated address'),
    Rule('PLAT-01', 'warning', 'fail', 'attaching to the running R5 fails (xlnx_r5_remoteproc: '
         '"invalid magic number, won\'t attach") or maps the wrong table; loading the ELF is '
         'unaffected'),
    Rule('PLAT-02', 'info', 'none', 'ld decides where the table goes; RSC-04/RSC-07 say whether '
         'the loaders can still use it'),
    Rule('LAY-01', 'error', 'corrupt', 'host and remote disagree about the shared memory'),
    Rule('HVL-01', 'error', 'corrupt', 'the HVL driver uses memory the layout does not give it'),
)}

CONSEQUENCE_TEXT = {'fail': 'loader fails', 'ignore': 'ignored in silence',
                    'corrupt': 'corrupts', 'none': 'advice'}


@dataclass
class Finding:
    """One broken rule.

    rule: catalogue ID ('SEG-04'); severity: 'error' | 'warning' | 'info';
    message: one sentence; obj: the ELF object ('segment 1 (.text .rodata)',
    'rsc entry 0 (vdev) field da'); ranges: [(start, end)] address or file
    ranges, end exclusive; region: the layout region it was checked against,
    or None; consequence: what Linux/OpenAMP do: 'fail', 'ignore' (in
    silence), 'corrupt', or 'none'.
    """

    rule: str
    severity: str
    message: str
    obj: str = ''
    ranges: list = field(default_factory=list)
    region: str = None
    consequence: str = 'none'

    @property
    def effect(self):
        """What the loaders print or do, from the catalogue."""
        return RULES[self.rule].effect

    def to_json(self):
        return {'rule': self.rule, 'severity': self.severity, 'message': self.message,
                'object': self.obj or None,
                'ranges': [{'start': s, 'end': e} for s, e in self.ranges],
                'region': self.region, 'consequence': self.consequence,
                'effect': self.effect}

    def __str__(self):
        parts = [f'{self.severity:<7}', self.rule]
        if self.obj:
            parts.append(self.obj)
        if self.ranges:
            parts.append(' '.join(f'[{s:#x},{e:#x})' for s, e in self.ranges))
        if self.region:
            parts.append(f'vs {self.region}')
        text = ' '.join(parts) + f': {self.message}'
        if self.consequence != 'none':
            text += f' => {CONSEQUENCE_TEXT[self.consequence]}: {self.effect}'
        return text


@dataclass
class Report:
    """The findings for one ELF, in the order the checks ran."""

    path: str
    domain: str = None
    findings: list = field(default_factory=list)
    parser: str = 'pyelftools'

    @property
    def errors(self):
        return [f for f in self.findings if f.severity == 'error']

    @property
    def warnings(self):
        return [f for f in self.findings if f.severity == 'warning']

    def ok(self, werror=False):
        """True when nothing would stop the image (nor any warning, with werror)."""
        return not self.errors and not (werror and self.warnings)

    def verdict(self, werror=False):
        """One line: OK/FAIL, the counts and what it was checked against."""
        against = f'domain {self.domain}' if self.domain else 'the rules that need no layout'
        return (f'{"OK" if self.ok(werror) else "FAIL"}: {len(self.errors)} error(s), '
                f'{len(self.warnings)} warning(s), checked against {against}')

    def to_json(self, werror=False):
        return {'path': str(self.path), 'domain': self.domain, 'ok': self.ok(werror),
                'errors': len(self.errors), 'warnings': len(self.warnings),
                'findings': [f.to_json() for f in self.findings]}


def finding(rule, message, obj='', ranges=(), region=None, severity=None, consequence=None):
    """A Finding with the catalogue's default severity and consequence."""
    r = RULES[rule]
    return Finding(rule, severity or r.severity, message, obj, list(ranges), region,
                   consequence or r.consequence)


def check_elf(path, layout=None, domain=None, loader=None):
    """Check the ELF at ``path``; with ``layout`` and ``domain`` also against
    the system. ``loader`` ('linux-remoteproc' | 'openamp') overrides the
    domain's loader for the severities that depend on it (SEG-05, VDEV-04)."""
    target = Target.from_layout(layout, domain) if layout is not None else None
    if target is None and domain is not None:
        raise ElfCheckError(f'domain {domain!r} given without a layout; '
                            'pass --system or --layout as well')
    if loader is None and target is not None:
        loader = target.loader
    try:
        image = ElfImage.open(path)
    except OSError as e:
        raise ElfCheckError(f'{path}: cannot read the ELF: {e.strerror or e}') from e
    with image:
        findings = Checker(image, target, loader).run()
    return Report(str(path), domain, findings, image.parser)


# ---------------------------------------------------------------------------
# The layout, seen from one domain


@dataclass(frozen=True)
class Area:
    """A layout region as one domain addresses it: [start, end) in its view."""

    name: str
    start: int
    end: int
    kind: str
    owner: str
    base: int
    dt_name: str = None
    space: str = 'phys'


@dataclass
class Target:
    """What the layout says about one domain, in that domain's address view."""

    name: str
    core: str
    elf: dict
    loader: str
    platform: str
    boot: dict
    page_size: int
    load: list          # [Area] the loader can map, one carveout each
    areas: list         # [Area] every region of the system
    table: dict         # layout["resource_tables"][domain] or None
    table_place: dict   # domain["resource_table"] or None
    vdevs: dict         # vdev index -> link["vdev"]
    hvl: list           # HVL links of this domain

    @classmethod
    def from_layout(cls, layout, domain):
        if not isinstance(layout, dict) or not isinstance(layout.get('domains'), dict):
            raise ElfCheckError('the layout has no "domains" object; is it a layout.json?')
        domains = layout['domains']
        if domain is None or domain not in domains:
            names = ', '.join(sorted(domains)) or 'none'
            what = 'no domain given' if domain is None else f'no domain {domain!r} in the layout'
            raise ElfCheckError(f'{what}; choose --domain from: {names}')
        dom = domains[domain]
        try:
            areas = [Area(r['name'], view, view + r['size'], r.get('kind'), r.get('owner'),
                          r['base'], r.get('dt_name'), r.get('space', 'phys'))
                     for r in layout.get('regions', ())
                     for view in [(r.get('views') or {}).get(domain, r['base'])]]
            by_name = {a.name: a for a in areas}
            load = [by_name[n] for n in dom.get('load_regions') or ()]
        except (KeyError, TypeError) as e:
            raise ElfCheckError(f'layout is malformed: {e!r} in regions or load_regions') from e
        links = [ln for ln in layout.get('links') or ()
                 if domain in (ln.get('remote'), ln.get('host'))
                 or domain in (ln.get('domains') or ())]
        vdevs = {ln['vdev'].get('index', 0): dict(ln['vdev'], link=ln.get('name'))
                 for ln in links if ln.get('vdev') and ln.get('remote', domain) == domain}
        return cls(name=domain, core=(dom.get('cores') or [domain])[0], elf=dom.get('elf'),
                   loader=dom.get('loader'), platform=dom.get('platform'),
                   boot=dom.get('boot'), page_size=layout.get('page_size') or 4096,
                   load=load, areas=areas,
                   table=(layout.get('resource_tables') or {}).get(domain),
                   table_place=dom.get('resource_table'), vdevs=vdevs,
                   hvl=[ln for ln in links if ln.get('transport') == 'hvl'
                        and ln.get('driver', domain) == domain])

    def area(self, name):
        return next((a for a in self.areas if a.name == name), None)

    def load_area_holding(self, start, end):
        """The one load region that holds [start, end), or None."""
        return next((a for a in self.load if a.start <= start and end <= a.end), None)


# ---------------------------------------------------------------------------
# Small helpers


def hexr(start, end):
    return f'[{start:#x},+{end - start:#x})'


def overlapping(items):
    """Pairs (a, b) of overlapping (start, end, obj) items, sorted by start;
    each item is compared with the earlier one reaching furthest (n log n)."""
    pairs = []
    reach = None
    for item in sorted((i for i in items if i[1] > i[0]), key=lambda i: (i[0], i[1])):
        if reach is not None and item[0] < reach[1]:
            pairs.append((reach, item))
        if reach is None or item[1] > reach[1]:
            reach = item
    return pairs


def vring_size(num, align):
    """Bytes of a split virtqueue (formats.md section 3). Deliberately not
    layout.vring_size: the checker re-derives what it verifies."""
    return ((18 * num + 6 + align - 1) & ~(align - 1)) + 8 * num + 6


def is_pow2(n):
    return n > 0 and n & (n - 1) == 0


def c_name(raw):
    return raw.split(b'\0', 1)[0].decode('ascii', 'replace')


# ---------------------------------------------------------------------------
# The resource table as parsed from the section bytes


@dataclass
class Entry:
    """One resource-table entry: its index, offset, type, and the fields read
    (spec names; vdev entries carry 'vrings', a list of dicts)."""

    index: int
    offset: int
    type: int
    fields: dict = field(default_factory=dict)
    size: int = 4

    @property
    def label(self):
        return f'rsc entry {self.index} ({TYPE_NAMES.get(self.type, f"type {self.type}")})'


_U32 = struct.Struct('<I')
_CARVEOUT = struct.Struct('<IIIIII32s')    # type da pa len flags reserved name
_TRACE = struct.Struct('<IIII32s')         # type da len reserved name
_VDEV = struct.Struct('<IIIIIIBB2s')       # type id notifyid dfeatures gfeatures config_len ...
_VRING = struct.Struct('<IIIII')           # da align num notifyid reserved
_XAMP = struct.Struct('<iIII')             # version magic comp_magic rsc_tbl_size; then
                                           # rsc_tbl, a uintptr_t (4 or 8 bytes)


class Checker:
    """Runs the rule phases over one image; each phase returns findings."""

    def __init__(self, image, target, loader):
        self.image = image
        self.target = target
        self.loader = loader
        self.loads = []
        self.layout_checks = False
        self._label_index = None
        self._high = None               # spans VRING-10 looks for cut addresses in

    def run(self):
        image = self.image
        out = [finding(d.rule, d.message, ranges=d.ranges) for d in image.damage]
        if image.ehdr is None:
            return out
        self.loads = [p for p in image.phdrs if p.p_type == 'PT_LOAD']
        out += self.container()
        loaded = any(p.p_memsz for p in self.loads)   # else ELF-08 says it all
        if self.target is not None:
            wrong_core = self.core_mismatch()
            out += wrong_core
            # An image for another core: placement findings would only repeat ELF-05.
            self.layout_checks = not wrong_core
        out += self.segments()
        if self.layout_checks and loaded:
            out += self.placement()
        if image.shdrs is None:
            return out                  # ELF-07 said why; nothing section-based can run
        out += self.table(loaded)
        out += self.attach_metadata()
        if self.layout_checks:
            out += self.hvl()
        return out

    # A. container ----------------------------------------------------------

    def container(self):
        h = self.image.ehdr
        out = []
        if h.e_type == 'ET_DYN':
            out.append(finding('ELF-06', 'e_type is ET_DYN; remoteproc never relocates, '
                               'link an ET_EXEC', severity='warning'))
        elif h.e_type != 'ET_EXEC':
            out.append(finding('ELF-06', f'e_type is {h.e_type}; remoteproc loads ET_EXEC '
                               'images only'))
        if not any(p.p_memsz for p in self.loads) and h.e_type != 'ET_REL':
            out.append(finding('ELF-08', 'no PT_LOAD segment with p_memsz > 0: nothing would '
                               'be loaded'))
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

        return [finding('ELF-05', f'ELF is {title(h.elfclass, h.e_machine)} but core '
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
                out.append(finding('SEG-01', f'p_filesz {p.p_filesz:#x} is larger than p_memsz '
                                   f'{p.p_memsz:#x}', self.label(p), span))
            if p.p_offset + p.p_filesz > self.image.size:
                out.append(finding('SEG-02', f'segment bytes end at file offset '
                                   f'{p.p_offset + p.p_filesz:#x}, file is '
                                   f'{self.image.size:#x} bytes', self.label(p),
                                   [(p.p_offset, p.p_offset + p.p_filesz)]))
            if p.p_paddr != p.p_vaddr:
                out.append(finding('SEG-03', f'p_paddr {p.p_paddr:#x} != p_vaddr {p.p_vaddr:#x}:'
                                   ' the loaders place the bytes at p_paddr', self.label(p), span))
            if p.p_memsz == 0:
                out.append(finding('SEG-05', 'PT_LOAD with p_memsz 0', self.label(p),
                                   severity='error' if openamp else None,
                                   consequence='fail' if openamp else None))
        for a, b in overlapping([(p.p_paddr, p.p_paddr + p.p_memsz, p) for p in self.loads]):
            out.append(finding('SEG-06', f'{self.label(b[2])} {hexr(b[0], b[1])} overlaps '
                               f'{self.label(a[2])} {hexr(a[0], a[1])}', self.label(b[2]),
                               [a[:2], b[:2]]))
        entry = h.e_entry
        if self.loads and not any(p.p_flags & PF_X and (
                p.p_vaddr <= entry < p.p_vaddr + p.p_memsz
                or p.p_paddr <= entry < p.p_paddr + p.p_memsz) for p in self.loads):
            out.append(finding('SEG-10', f'e_entry {entry:#x} is not inside an executable '
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
                out.append(finding('SEG-08', f'segment at {start:#x} uses the global TCM alias '
                                   f'of {alias.name}; link it at the R5-local address '
                                   f'{local:#x}', self.label(p), [(start, end)], alias.name))
                continue
            run = self.contiguous_cover(start, end)
            if run:
                out.append(finding('SEG-11', f'segment {hexr(start, end)} straddles '
                                   f'{" and ".join(a.name for a in run)}; each is its own '
                                   'carveout', self.label(p), [(start, end)],
                                   ', '.join(a.name for a in run)))
                continue
            hit = self.foreign(p, start, end, None)
            if hit:
                out += hit
                continue
            out.append(finding('SEG-04', f'segment {hexr(start, end)} is outside every memory '
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
            out.append(finding('SEG-07', f'segment {hexr(start, end)} overlaps {a.name} '
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
            return [finding('SEG-09', f'no PT_LOAD covers the R5 {name} reset vector at '
                            f'{vec:#x} ({unused})', 'ELF header', [(vec, vec + 4)])]
        # The segment may cover it with nothing but the ELF headers ld loaded there.
        vaddr = vec - seg.p_paddr + seg.p_vaddr
        if self.image.shdrs and not any(
                s.sh_flags & SHF_ALLOC and s.sh_flags & SHF_EXECINSTR
                and s.sh_addr <= vaddr < s.sh_addr + s.sh_size for s in self.image.shdrs):
            return [finding('SEG-09', f'{self.label(seg)} covers the R5 {name} reset vector at '
                            f'{vec:#x} with no code section there ({unused})', self.label(seg),
                            [(vec, vec + 4)])]
        if entry not in (boot.get('lovec'), boot.get('hivec')):
            return [finding('SEG-09', f'{unused}; the R5 boots at {name} {vec:#x}', 'ELF header',
                            [(entry, entry + 1)], severity='warning')]
        return []

    # C. table placement ----------------------------------------------------

    def table(self, loaded):
        image = self.image
        tables = image.sections_named('.resource_table')
        if not tables:
            prefixed = [s.name for s in image.shdrs if s.name.startswith('.resource_table')]
            if prefixed:
                return [finding('RSC-02', f'no section named exactly .resource_table, only '
                                f'{", ".join(prefixed)}; the loaders look for the exact name '
                                '(KEEP(*(.resource_table*)) in the linker script)')]
            t = self.target
            uses_vdev = t is None or bool(t.vdevs or t.table or t.table_place)
            what = 'rpmsg cannot start' if uses_vdev else 'the layout declares no vdev'
            return [finding('RSC-01', f'no .resource_table section; {what}',
                            severity=None if uses_vdev else 'info')]
        sec = tables[0]
        out = []
        if len(tables) > 1:
            out.append(finding('RSC-02', f'{len(tables)} sections named .resource_table; the '
                               f'loaders use the first (section {sec.index})',
                               severity='warning'))
        obj = '.resource_table'
        rng = [(sec.sh_addr, sec.sh_addr + sec.sh_size)]
        if sec.sh_type != 'SHT_PROGBITS' or sec.sh_offset + sec.sh_size > image.size:
            what = (f'is {sec.sh_type}' if sec.sh_type != 'SHT_PROGBITS'
                    else f'ends at file offset {sec.sh_offset + sec.sh_size:#x}, file is '
                    f'{image.size:#x} bytes')
            return out + [finding('RSC-03', f'.resource_table {what}; the table is read from '
                                  'the file bytes', obj, rng)]
        if loaded:
            out += self.table_placement(sec, obj, rng)
        data = image.read(sec.sh_offset, sec.sh_size)
        out += self.table_contents(data, sec)
        return out

    def table_placement(self, sec, obj, rng):
        out = []
        seg = None
        if sec.sh_flags & SHF_ALLOC:
            seg = next((p for p in self.loads
                        if p.p_offset <= sec.sh_offset
                        and sec.sh_offset + sec.sh_size <= p.p_offset + p.p_filesz
                        and p.p_vaddr <= sec.sh_addr
                        and sec.sh_addr + sec.sh_size <= p.p_vaddr + p.p_memsz), None)
        if seg is None:
            why = '' if sec.sh_flags & SHF_ALLOC else ' (not SHF_ALLOC)'
            out.append(finding('RSC-04', f'.resource_table (sh_addr {sec.sh_addr:#x}){why} is '
                               'not in any PT_LOAD', obj, rng))
        elif seg.p_paddr != seg.p_vaddr:
            lma = sec.sh_addr - seg.p_vaddr + seg.p_paddr
            out.append(finding('RSC-05', f'.resource_table is loaded at {lma:#x} (LMA) but '
                               f'linked at {sec.sh_addr:#x} (VMA); the host updates the VMA',
                               obj, rng + [(lma, lma + sec.sh_size)]))
        if sec.sh_addr % 8:
            out.append(finding('RSC-06', f'.resource_table sh_addr {sec.sh_addr:#x} is not '
                               '8-byte aligned', obj, rng))
        if self.layout_checks and seg is not None:
            out += self.table_region(sec, obj, rng)
        if self.layout_checks:
            out += self.zephyr_placement(sec, obj)
        return out

    def table_region(self, sec, obj, rng):
        """RSC-07: in a region of this domain the host can write and map, and
        where the layout puts the table."""
        t = self.target
        start, end = rng[0]
        home = t.load_area_holding(start, end)
        if home is None or home.kind in ('rom', 'flash'):
            where = 'outside every load region' if home is None else f'in {home.kind} {home.name}'
            return [finding('RSC-07', f'.resource_table {hexr(start, end)} is {where} of '
                            f'{t.name}; the host must write it', obj, rng,
                            ', '.join(a.name for a in t.load) or None)]
        want = (t.table_place or {}).get('address', (t.table or {}).get('address'))
        if want is not None and want != start:
            return [finding('RSC-07', f'.resource_table is at {start:#x}, the layout puts it '
                            f'at {want:#x}', obj, rng + [(want, want + (end - start))],
                            (t.table_place or {}).get('region'),
                            severity='warning' if t.loader == 'linux-remoteproc' else None)]
        return []

    # H. platform specifics -----------------------------------------------

    def zephyr_placement(self, sec, obj):
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
        return [finding('PLAT-02', f'Zephyr image not linked with the generated amp_sections.ld '
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
        need = _XAMP.size + ptr
        nobits = meta.sh_type == 'SHT_NOBITS'
        data = b'' if nobits else image.read(meta.sh_offset, min(meta.sh_size, need))
        if len(data) < need:
            what = 'is SHT_NOBITS' if nobits else f'has {len(data)} bytes'
            return [finding('PLAT-01', f'{obj} {what}; the attach metadata is {need} bytes '
                            '(version, magic, ~magic, table size, table address)', obj, rng)]
        _, magic, comp, size = _XAMP.unpack_from(data)
        addr = int.from_bytes(data[_XAMP.size:need], 'little')
        out = []
        if magic != XAMP_MAGIC:
            out.append(finding('PLAT-01', f'magic is {magic:#x}, not {XAMP_MAGIC:#x} (\'xamp\'): '
                               'xlnx_r5_remoteproc will not attach', obj + ' field magic', rng))
        if comp != XAMP_MAGIC ^ 0xFFFFFFFF:
            out.append(finding('PLAT-01', f'comp_magic is {comp:#x}, not ~magic '
                               f'{XAMP_MAGIC ^ 0xFFFFFFFF:#x}: xlnx_r5_remoteproc will not attach',
                               obj + ' field comp_magic', rng))
        tables = image.sections_named('.resource_table')
        if tables:                      # else RSC-01/02 say what is missing
            sec = tables[0]
            if addr != sec.sh_addr:
                out.append(finding('PLAT-01', f'rsc_tbl is {addr:#x}, .resource_table is at '
                                   f'{sec.sh_addr:#x}: an attach would use the wrong table',
                                   obj + ' field rsc_tbl', [(addr, addr + 1)],
                                   consequence='corrupt'))
            if size != sec.sh_size:
                out.append(finding('PLAT-01', f'rsc_tbl_size is {size}, .resource_table is '
                                   f'{sec.sh_size} bytes: an attach would map the wrong size',
                                   obj + ' field rsc_tbl_size',
                                   consequence='corrupt'))
        t = self.target
        if self.layout_checks and t.platform == XLNX_R5:
            # The driver reads the metadata at the base of memory-region 0, the
            # domain's firmware region (a carveout when it has none).
            home = (next((a for a in t.load if a.kind == 'firmware'), None)
                    or next((a for a in t.load if a.kind == 'carveout'), None))
            if home is None:
                out.append(finding('PLAT-01', f'{t.name} has no firmware or carveout region; '
                                   'xlnx_r5_remoteproc reads the metadata at the start of its '
                                   'first memory-region', obj, rng))
            elif meta.sh_addr != home.start or not meta.sh_flags & SHF_ALLOC:
                where = (f'is at {meta.sh_addr:#x}' if meta.sh_flags & SHF_ALLOC
                         else 'is not SHF_ALLOC (never loaded)')
                out.append(finding('PLAT-01', f'{obj} {where}; xlnx_r5_remoteproc reads it at '
                                   f'the start of {home.name} ({home.start:#x})', obj,
                                   rng + [(home.start, home.end)], home.name))
        return out

    # D-G. table contents ---------------------------------------------------

    def table_contents(self, data, sec):
        size = len(data)
        obj = '.resource_table header'
        if size < 16:
            return [finding('HDR-01', f'.resource_table is {size} bytes, a header needs 16', obj)]
        ver, num, r0, r1 = struct.unpack_from('<IIII', data)
        out = []
        if ver != 1:
            out.append(finding('HDR-02', f'resource table ver is {ver}, loaders accept 1',
                               obj + ' field ver'))
        if r0 or r1:
            out.append(finding('HDR-03', f'reserved words are {r0:#x}, {r1:#x}; must be 0',
                               obj + ' field reserved'))
        need = 16 + 4 * num
        if need > size:
            return out + [finding('HDR-04', f'num = {num} needs {need} bytes of header, '
                                  f'section is {size}', obj + ' field num')]
        entries = []
        for i in range(num):
            off = _U32.unpack_from(data, 16 + 4 * i)[0]
            bad = []
            if off < need:
                bad.append(f'points into the header (below {need})')
            if off + 4 > size:
                bad.append(f'leaves no room for an entry (section is {size} bytes)')
            if off % 4:
                bad.append('is not 4-byte aligned')
            if bad:
                out.append(finding('HDR-05', f'offset[{i}] = {off} ' + ' and '.join(bad),
                                   f'rsc entry {i} offset'))
                continue
            entry, found = self.parse_entry(i, off, data)
            out += found
            entries.append(entry)
        for a, b in overlapping([(e.offset, e.offset + e.size, e) for e in entries]):
            out.append(finding('HDR-05', f'{b[2].label} at offset {b[0]} overlaps '
                               f'{a[2].label} [{a[0]},{a[1]})', b[2].label))
        out += self.entry_rules(entries)
        if self.layout_checks and self.target.table:
            reported = {f.obj for f in out}
            out += [f for f in self.layout_table(entries, num, size)
                    if not any(f.obj == o or f.obj.startswith(o + ' ') for o in reported)]
        return out

    def parse_entry(self, i, off, data):
        """One entry and its well-formedness findings (ENT-01, TRACE-01,
        VDEV-01/02, HDR-06)."""
        rtype = _U32.unpack_from(data, off)[0]
        e = Entry(i, off, rtype)
        avail = len(data) - off
        out = []
        if rtype in (RSC_CARVEOUT, RSC_DEVMEM):
            if avail < _CARVEOUT.size:
                return e, [finding('ENT-01', f'{e.label} needs {_CARVEOUT.size} bytes, '
                                   f'{avail} left in the table', e.label)]
            _, da, pa, length, flags, reserved, name = _CARVEOUT.unpack_from(data, off)
            e.fields = {'da': da, 'pa': pa, 'len': length, 'flags': flags,
                        'reserved': reserved, 'name': c_name(name)}
            e.size = _CARVEOUT.size
            if reserved:
                out.append(finding('ENT-01', f'reserved is {reserved:#x}, must be 0',
                                   e.label + ' field reserved'))
            if rtype == RSC_CARVEOUT and length == 0:
                out.append(finding('ENT-01', 'len is 0', e.label + ' field len'))
            if b'\0' not in name:
                out.append(finding('ENT-01', 'name is not NUL-terminated', e.label + ' field name'))
        elif rtype == RSC_TRACE:
            if avail < _TRACE.size:
                return e, [finding('TRACE-01', f'{e.label} needs {_TRACE.size} bytes, '
                                   f'{avail} left in the table', e.label)]
            _, da, length, reserved, name = _TRACE.unpack_from(data, off)
            e.fields = {'da': da, 'len': length, 'reserved': reserved, 'name': c_name(name)}
            e.size = _TRACE.size
            if reserved:
                out.append(finding('TRACE-01', f'reserved is {reserved:#x}, must be 0',
                                   e.label + ' field reserved'))
            if b'\0' not in name:
                out.append(finding('TRACE-01', 'name is not NUL-terminated',
                                   e.label + ' field name'))
        elif rtype == RSC_VDEV:
            out += self.parse_vdev(e, data)
        elif not RSC_VENDOR_START <= rtype <= RSC_VENDOR_END:
            out.append(finding('HDR-06', f'unknown resource type {rtype}; the loaders skip it',
                               e.label))
        return e, out

    def parse_vdev(self, e, data):
        off = e.offset
        avail = len(data) - off
        if avail < _VDEV.size:
            return [finding('VDEV-01', f'{e.label} needs {_VDEV.size} bytes, {avail} left in '
                            'the table', e.label)]
        (_, vid, notifyid, dfeatures, gfeatures, config_len, status, nvr,
         reserved) = _VDEV.unpack_from(data, off)
        e.fields = {'id': vid, 'notifyid': notifyid, 'dfeatures': dfeatures,
                    'gfeatures': gfeatures, 'config_len': config_len, 'status': status,
                    'num_of_vrings': nvr, 'vrings': []}
        need = _VDEV.size + _VRING.size * nvr + config_len
        e.size = min(need, avail)
        out = []
        if need > avail:
            out.append(finding('VDEV-01', f'{e.label} with {nvr} vrings and config_len '
                               f'{config_len} needs {need} bytes, {avail} left in the table',
                               e.label))
        if reserved != b'\0\0':
            out.append(finding('VDEV-01', 'reserved bytes are not 0', e.label + ' field reserved'))
        if nvr > 2:
            out.append(finding('VDEV-02', f'num_of_vrings is {nvr}; Linux supports at most 2',
                               e.label + ' field num_of_vrings'))
        elif vid == VIRTIO_ID_RPMSG and nvr != 2:
            out.append(finding('VDEV-02', f'rpmsg needs exactly 2 vrings, num_of_vrings is {nvr}',
                               e.label + ' field num_of_vrings'))
        if status or gfeatures:
            out.append(finding('VDEV-03', f'status {status:#x} and gfeatures {gfeatures:#x} '
                               'must start at 0; the host writes them',
                               e.label + ' field ' + ('status' if status else 'gfeatures')))
        for j in range(min(nvr, (avail - _VDEV.size) // _VRING.size)):
            da, align, num, vnotify, _ = _VRING.unpack_from(data, off + _VDEV.size + 20 * j)
            e.fields['vrings'].append({'da': da, 'align': align, 'num': num, 'notifyid': vnotify})
        return out

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
                out.append(finding('ENT-03', 'devmem entry on ZynqMP: xlnx_r5_remoteproc has no '
                                   'IOMMU and fails the whole boot', e.label,
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
        want = ((t.table or {}).get('entries') or []) if self.layout_checks else []
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
                        out.append(finding('VRING-10', f'the layout puts {name} at {at:#x}; its '
                                           'u32 da cannot hold an address at or above 4 GiB',
                                           obj, [(at, at + 1)],
                                           region.name if region is not None else None))
                    else:
                        out += self.truncated(name + ' da', v['da'], obj)
                vdev_index += 1
                continue
            w = want[e.index] if e.index < len(want) else {}
            if w.get('type') != TYPE_NAMES.get(e.type):
                w = {}
            for key in ('da', 'pa', 'len'):
                value = w.get(key)
                obj = f'{e.label} field {key}'
                if isinstance(value, int) and value >= U32_END:
                    out.append(finding('VRING-10', f'the layout says {key} {value:#x}; the u32 '
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
                return [finding('VRING-10', f'{what} {value:#x} is the low 32 bits of '
                                f'{alias:#x} ({where}): the u32 field cannot hold the address',
                                obj, [(alias, alias + 1)])]
        return []

    def carveout_rules(self, e):
        """ENT-02: a carveout lies inside a region of this domain; on xlnx its
        name is the region's devicetree node name."""
        f = e.fields
        t = self.target
        if f['da'] == ADDR_ANY:
            return []
        start, end = f['da'], f['da'] + f['len']
        named = [a for a in t.areas if a.dt_name == f['name']]
        if t.platform == XLNX_R5 and not named:
            return [finding('ENT-02', f'no region has the devicetree node name {f["name"]!r}; '
                            'Linux allocates a new carveout elsewhere', e.label + ' field name',
                            [(start, end)])]
        home = named[0] if named else t.load_area_holding(start, end)
        mine = [a for a in t.areas if a.owner == t.name] + t.load
        if home is None or not (home.start <= start and end <= home.end):
            where = home.name if home is not None else ', '.join(a.name for a in mine)
            return [finding('ENT-02', f'carveout {hexr(start, end)} is outside '
                            f'{where or "every region of " + t.name}', e.label + ' field da',
                            [(start, end)], home.name if home else None)]
        return []

    def trace_rules(self, e, entries):
        """TRACE-02: the buffer exists and lies in loaded memory or a carveout."""
        f = e.fields
        obj = e.label
        if f['len'] == 0:
            return [finding('TRACE-02', 'trace buffer len is 0', obj + ' field len')]
        if f['da'] == ADDR_ANY:
            return [finding('TRACE-02', 'trace buffer da is ANY (0xffffffff)', obj + ' field da')]
        start, end = f['da'], f['da'] + f['len']
        spans = [(p.p_vaddr, p.p_vaddr + p.p_memsz) for p in self.loads]
        spans += [(p.p_paddr, p.p_paddr + p.p_memsz) for p in self.loads]
        spans += [(c.fields['da'], c.fields['da'] + c.fields['len']) for c in entries
                  if c.type == RSC_CARVEOUT and c.fields]
        if self.target is not None:
            spans += [(a.start, a.end) for a in self.target.load]
        if any(s <= start and end <= x for s, x in spans):
            return []
        return [finding('TRACE-02', f'trace buffer {hexr(start, end)} is not inside a PT_LOAD '
                        'segment or a carveout', obj + ' field da', [(start, end)])]

    def vring_rules(self, e, j, v, expected, vdev_index):
        """VRING-01/02/03/06 on the entry, VRING-04/05 against the layout.
        Returns (findings, (start, end) of the ring or None)."""
        obj = f'{e.label} vring {j}'
        out = []
        num, align, da = v['num'], v['align'], v['da']
        if num == 0:
            out.append(finding('VRING-01', 'vring num is 0', obj + ' field num'))
        elif not is_pow2(num) or num > 32768:
            out.append(finding('VRING-02', f'vring num {num} is not a power of two <= 32768',
                               obj + ' field num'))
        if not is_pow2(align):
            out.append(finding('VRING-03', f'vring align {align:#x} is not a power of two',
                               obj + ' field align'))
        valid = not out
        if da != ADDR_ANY:
            if da % 16:
                out.append(finding('VRING-06', f'vring da {da:#x} is not 16-byte aligned',
                                   obj + ' field da', [(da, da + 1)]))
            elif is_pow2(align) and da % align:
                out.append(finding('VRING-06', f'vring da {da:#x} is not aligned to align '
                                   f'{align:#x}', obj + ' field da', [(da, da + 1)],
                                   severity='warning'))
        want = (expected or {}).get('vrings') or []
        want = want[j] if j < len(want) else None
        region = self.target.area(want.get('region')) if want else None
        where = da
        if want is not None and da == ADDR_ANY:
            where = want.get('da', ADDR_ANY)
            if where == ADDR_ANY and region is not None:
                where = region.start
        if region is not None:
            wanted = want.get('da', ADDR_ANY)
            if da != ADDR_ANY and (not region.start <= da < region.end
                                   or wanted not in (ADDR_ANY, da)):
                exp = f'{wanted:#x}' if wanted != ADDR_ANY else f'inside {region.name}'
                out.append(finding('VRING-05', f'vdev{vdev_index}/vring{j} da is {da:#x}, the '
                                   f'layout expects {exp} (or ANY)', obj + ' field da',
                                   [(da, da + 1), (region.start, region.end)], region.name))
            elif valid:
                need = vring_size(num, align)
                if self.loader == 'linux-remoteproc':
                    page = self.target.page_size
                    need = (need + page - 1) // page * page
                room = region.end - (where if region.start <= where < region.end
                                     else region.start)
                if need > room:
                    out.append(finding('VRING-04', f'vdev{vdev_index}/vring{j} needs {need:#x} '
                                       f'bytes (num {num}, align {align:#x}), region '
                                       f'{region.name} has {room:#x}', obj,
                                       [(where, where + need)], region.name))
        if where == ADDR_ANY or not valid:
            return out, None
        span = (where, where + vring_size(num, align))
        for p in self.loads:
            if p.p_memsz and p.p_paddr < span[1] and span[0] < p.p_paddr + p.p_memsz:
                out.append(finding('VRING-07', f'vdev{vdev_index}/vring{j} {hexr(*span)} '
                                   f'overlaps {self.label(p)}', obj,
                                   [span, (p.p_paddr, p.p_paddr + p.p_memsz)]))
        return out, span

    def rpmsg_sizing(self, e, expected, vdev_index):
        """VRING-09: symmetric rpmsg vrings and a buffer pool that holds them."""
        f = e.fields
        rings = f['vrings']
        if f['id'] != VIRTIO_ID_RPMSG or len(rings) != 2:
            return []
        if rings[0]['num'] != rings[1]['num']:
            return [finding('VRING-09', f'rpmsg vrings have num {rings[0]["num"]} and '
                            f'{rings[1]["num"]}; Linux expects symmetric vrings',
                            e.label + ' vring 1 field num')]
        pool = (expected or {}).get('buffers')
        num = rings[0]['num']
        if pool and is_pow2(num):
            need = min(2 * num, 512) * 512
            if pool.get('size', need) < need:
                return [finding('VRING-09', f'vdev{vdev_index} with num {num} needs a '
                                f'{need:#x}-byte buffer pool, {pool.get("region")} is '
                                f'{pool["size"]:#x}', e.label, region=pool.get('region'))]
        return []

    def notify_ids(self, notify):
        """VDEV-04: notify IDs unique and below 32 (ANY is the host's choice)."""
        out = []
        seen = {}
        openamp = self.loader == OPENAMP
        strict = {'severity': 'error', 'consequence': 'fail'} if openamp else {}
        for nid, obj in notify:
            if nid == ADDR_ANY:
                continue
            if nid >= 32:
                out.append(finding('VDEV-04', f'notify ID {nid} is not below 32', obj, **strict))
            elif nid in seen:
                out.append(finding('VDEV-04', f'notify ID {nid} is also used by {seen[nid]}',
                                   obj, **strict))
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
            out.append(finding('VRING-08', f'{b[2][1]} {hexr(b[0], b[1])} overlaps {a[2][1]} '
                               f'{hexr(a[0], a[1])}', b[2][1], [a[:2], b[:2]]))
        return out

    # Layout comparisons ----------------------------------------------------

    def layout_table(self, entries, num, size):
        """LAY-01: the table equals what amp-config generated, field by field.
        Vring da is VRING-05's business; the caller drops differences in
        objects another rule already reported."""
        want = self.target.table
        out = []
        obj = '.resource_table'
        if want.get('num') is not None and want['num'] != num:
            out.append(finding('LAY-01', f'num is {num}, the layout says {want["num"]}',
                               obj + ' header field num'))
        if want.get('size') is not None and want['size'] != size:
            out.append(finding('LAY-01', f'the table is {size} bytes, the layout says '
                               f'{want["size"]}', obj))
        by_index = {e.index: e for e in entries}
        for i, w in enumerate(want.get('entries') or ()):
            e = by_index.get(i)
            if e is None or not e.fields:
                continue
            label = e.label
            if TYPE_NAMES.get(e.type) != w.get('type'):
                out.append(finding('LAY-01', f'{label} is a {TYPE_NAMES.get(e.type, e.type)} '
                                   f'entry, the layout says {w.get("type")}', label))
                continue
            if 'offset' in w and w['offset'] != e.offset:
                out.append(finding('LAY-01', f'offset is {e.offset}, the layout says '
                                   f'{w["offset"]}', f'{label} offset'))
            for key, value in w.items():
                if key in ('type', 'offset', 'vrings') or key not in e.fields:
                    continue
                out += self.differs(label, key, e.fields[key], value)
            for j, wv in enumerate(w.get('vrings') or ()):
                have = e.fields.get('vrings', [])
                if j >= len(have):
                    out.append(finding('LAY-01', f'vring {j} is missing, the layout has it',
                                       f'{label} vring {j}'))
                    continue
                for key, value in wv.items():
                    if key != 'da' and key in have[j]:
                        out += self.differs(f'{label} vring {j}', key, have[j][key], value)
        return out

    @staticmethod
    def differs(label, key, have, want):
        if have == want:
            return []
        show = (lambda v: f'{v:#x}') if isinstance(have, int) and key in (
            'da', 'pa', 'len', 'flags', 'align', 'dfeatures') else repr
        return [finding('LAY-01', f'{key} is {show(have)}, the layout says {show(want)}',
                        f'{label} field {key}')]

    def hvl(self):
        """HVL-01: pool symbols and .shared.vring sections where the layout says."""
        out = []
        for link in self.target.hvl:
            pool = link.get('pool')
            if not pool:
                continue
            base, end = pool['base'], pool['base'] + pool['size']
            want = dict(link.get('symbols') or {})
            want.setdefault('__shmem0_pool_start', base)
            want.setdefault('__shmem0_end', end)
            if link.get('vring_section_base') is not None:
                want.setdefault('__shmem0_start', link['vring_section_base'])
            for sym, value in sorted(want.items()):
                have = self.image.symbol(sym)
                if have != value:
                    what = 'is missing' if have is None else f'is {have:#x}'
                    out.append(finding('HVL-01', f'{sym} {what}, the layout says {value:#x}',
                                       f'symbol {sym}', [(base, end)], link.get('name')))
            sections = {s.name: s for s in self.image.shdrs
                        if s.name.startswith('.shared.vring')}
            queues = [q for d in link.get('devices') or () for q in d.get('queues') or ()
                      if q.get('section')]
            if not sections:
                out.append(finding('HVL-01', 'no .shared.vring section; the HVL vrings must be '
                                   'linked at the start of the shared region', '.shared.vring',
                                   region=link.get('name')))
                continue
            for q in queues:
                s = sections.get(q['section'])
                if s is not None and s.sh_addr != q['base']:
                    out.append(finding('HVL-01', f'{s.name} is at {s.sh_addr:#x}, the layout '
                                       f'says {q["base"]:#x} ({q.get("region")})', s.name,
                                       [(s.sh_addr, s.sh_addr + s.sh_size)], link.get('name')))
        return out

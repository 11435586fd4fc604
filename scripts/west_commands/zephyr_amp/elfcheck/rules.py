"""The rule catalogue, what each loader does about a broken rule, and findings.

Every rule of ../shared/docs/loader-rules.md has a default severity and, for
each of the two loaders, an ``Act``: what it does with an image that breaks
the rule (its consequence), the message it prints, quoted exactly as the
source prints it (format specifiers included; None when it prints nothing),
and what follows. Linux: drivers/remoteproc/remoteproc_elf_loader.c,
remoteproc_core.c, remoteproc_virtio.c and xlnx_r5_remoteproc.c; OpenAMP:
lib/remoteproc/remoteproc.c, elf_loader.c and rsc_table_parser.c.

A finding shows the act of the loader in charge (the domain's, or
``--loader``), or of both when no loader is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LINUX = 'linux-remoteproc'
OPENAMP = 'openamp'
FAILED_RESOURCES = 'Failed to process resources: %d'
SEVERITY_ORDER = {'fail': 3, 'corrupt': 2, 'ignore': 1, 'none': 0}
CONSEQUENCE_TEXT = {'fail': 'loader fails', 'corrupt': 'corrupts', 'none': 'accepted'}


@dataclass(frozen=True)
class Act:
    """What one loader does: ``consequence`` ('fail': it refuses, 'ignore': it
    drops the table, entry or device, 'corrupt': it goes on with wrong
    memory, 'none': it accepts), ``says`` (the message(s) it prints, as in its
    source, or None) and ``then`` (what follows)."""

    consequence: str
    says: object = None
    then: str = ''

    def text(self, who: str) -> str:
        if not self.says:
            return f'{who}: no message, {self.then}' if self.then else f'{who}: no message'
        says = [self.says] if isinstance(self.says, str) else list(self.says)
        quoted = ' or '.join(f'"{s}"' for s in says)
        return f'{who}: {quoted}' + (f', {self.then}' if self.then else '')


@dataclass(frozen=True)
class Rule:
    """One catalogue rule: its default severity and what each loader does."""

    id: str
    severity: str
    linux: Act
    openamp: Act


def _r(rid, severity, linux, openamp=None):
    return Rule(rid, severity, linux, openamp or linux)


_NO_IPC = 'the table is dropped and xlnx_r5_remoteproc boots the core without IPC'
_DROPPED = 'handle_rsc_table() fails and remoteproc_load() drops the table'
_LOAD_FAILS = 'the load fails'
_NO_MAP = 'load failed, no mapping for 0x%llx.'
_BAD_DA = 'bad phdr da 0x%llx mem 0x%llx'

RULES = {r.id: r for r in (
    _r('ELF-01', 'error', Act('fail', 'Image is corrupted (bad magic)', _LOAD_FAILS),
       Act('fail', 'load failure: failed to get store ops.', _LOAD_FAILS)),
    _r('ELF-02', 'error', Act('fail', ('Image is too small', 'elf64 header is too small'),
                              _LOAD_FAILS),
       Act('fail', None, 'reading the header from the image store fails')),
    _r('ELF-03', 'error', Act('fail', 'Unsupported class: %d', _LOAD_FAILS),
       Act('corrupt', None, 'parses it as ELF32')),
    _r('ELF-04', 'error', Act('fail', 'Unsupported firmware endianness', _LOAD_FAILS),
       Act('corrupt', None, 'reads every header field with the wrong byte order')),
    _r('ELF-05', 'error', Act('corrupt', None, 'loads it; the core crashes running code '
                              'for another CPU')),
    _r('ELF-06', 'error', Act('corrupt', None, 'loads it at its link addresses; it is never '
                              'relocated')),
    _r('ELF-07', 'error', Act('fail', ('Image is too small', 'Firmware size is too small'),
                              'when the first section header or e_phoff is past the end; '
                              'otherwise it reads headers past the end of the file'),
       Act('fail', ('load header failed 0x%lx,%d.', 'load image data failed 0x%x,%d'),
           _LOAD_FAILS)),
    _r('ELF-08', 'error', Act('corrupt', None, 'loads nothing and starts the core anyway'),
       Act('corrupt', None, 'loads nothing and sets the boot address anyway')),
    _r('SEG-01', 'error', Act('fail', 'bad phdr filesz 0x%llx memsz 0x%llx',
                              'then "Failed to load program segments: %d"'),
       Act('corrupt', None, 'copies p_filesz bytes into a mapping of p_memsz')),
    _r('SEG-02', 'error', Act('fail', 'truncated fw: need 0x%llx avail 0x%zx', _LOAD_FAILS),
       Act('fail', 'load data failed 0x%lx, 0x%lx, 0x%x', _LOAD_FAILS)),
    _r('SEG-03', 'warning', Act('none', None, 'loads the bytes at p_paddr; start-up code must '
                                'copy them to p_vaddr')),
    _r('SEG-04', 'error', Act('fail', _BAD_DA, _LOAD_FAILS), Act('fail', _NO_MAP, _LOAD_FAILS)),
    _r('SEG-05', 'warning', Act('none', None, 'accepts it'), Act('fail', _NO_MAP, _LOAD_FAILS)),
    _r('SEG-06', 'error', Act('corrupt', None, 'the later segment overwrites the earlier one')),
    _r('SEG-07', 'error', Act('corrupt', None, 'loads it where a carveout maps the address and '
                              "overwrites the owner's memory")),
    _r('SEG-08', 'error', Act('fail', _BAD_DA, 'TCM carveouts have the R5-local address'),
       Act('fail', _NO_MAP, _LOAD_FAILS)),
    _r('SEG-09', 'error', Act('corrupt', None, 'xlnx_r5_remoteproc starts the R5 at LOVEC or '
                              'HIVEC, not at e_entry')),
    _r('SEG-10', 'error', Act('corrupt', None, 'drivers that start the core at e_entry start it '
                              'outside its code (xlnx_r5_remoteproc uses the reset vector)'),
       Act('corrupt', None, 'sets bootaddr to e_entry: the core starts outside its code')),
    _r('SEG-11', 'error', Act('fail', _BAD_DA, 'each carveout is tried on its own'),
       Act('fail', _NO_MAP, 'each memory is tried on its own')),
    _r('RSC-01', 'error', Act('ignore', 'no resource table found.', 'xlnx_r5_remoteproc boots '
                              'the core without IPC'),
       Act('ignore', None, 'loads the image without a table: no virtio')),
    _r('RSC-02', 'error', Act('ignore', 'no resource table found.', 'the loaders look for the '
                              'exact name; xlnx_r5_remoteproc boots the core without IPC'),
       Act('ignore', None, 'finds no table by the exact name: no virtio')),
    _r('RSC-03', 'error', Act('ignore', 'resource table truncated', 'when its bytes run past '
                              'the file; otherwise it parses whatever sits at sh_offset'),
       Act('ignore', 'get rsc failed: 0x%llx, 0x%llx', 'when its bytes run past the file; '
           'otherwise it parses whatever sits at sh_offset')),
    _r('RSC-04', 'error', Act('ignore', None, 'rproc_find_loaded_rsc_table() finds no carveout '
                              'at sh_addr and the updated table is never copied: the remote '
                              'never sees the vring addresses'),
       Act('ignore', 'load: not able to update rsc table.', 'the remote never sees the vring '
           'addresses')),
    _r('RSC-05', 'error', Act('corrupt', None, "writes the updated table at the VMA; the "
                              "firmware's copy-down from the LMA overwrites it at boot")),
    _r('RSC-06', 'warning', Act('corrupt', None, 'memcpy()s the table into an ioremap_wc() '
                                'mapping, which may fault on AArch64 hosts'),
       Act('none', None, 'copies it with metal_io_block_write()')),
    _r('RSC-07', 'error', Act('ignore', None, 'rproc_da_to_va(sh_addr) finds no carveout it may '
                              'write: the updated table is never copied and the remote never '
                              'sees the vring addresses'),
       Act('ignore', 'load: not able to update rsc table.', 'the remote never sees the vring '
           'addresses')),
    _r('HDR-01', 'error', Act('ignore', 'header-less resource table', _NO_IPC),
       Act('ignore', None, _DROPPED + ' (-RPROC_ERR_RSC_TAB_TRUNC)')),
    _r('HDR-02', 'error', Act('ignore', 'unsupported fw ver: %d', _NO_IPC),
       Act('ignore', None, _DROPPED + ' (-RPROC_ERR_RSC_TAB_VER)')),
    _r('HDR-03', 'error', Act('ignore', 'non zero reserved bytes', _NO_IPC),
       Act('ignore', None, _DROPPED + ' (-RPROC_ERR_RSC_TAB_RSVD)')),
    _r('HDR-04', 'error', Act('ignore', 'resource table incomplete', _NO_IPC),
       Act('ignore', None, _DROPPED + ' (-RPROC_ERR_RSC_TAB_TRUNC)')),
    _r('HDR-05', 'error', Act('fail', 'rsc table is truncated', f'then "{FAILED_RESOURCES}": '
                              'the boot fails'),
       Act('corrupt', None, 'no bounds check when it parses the table from the image: it '
           'reads past the table')),
    _r('HDR-06', 'warning', Act('ignore', ('unsupported resource %d',
                                           'unsupported vendor resource %d'), 'the entry is '
                                'skipped'),
       Act('ignore', None, 'the entry is skipped')),
    _r('ENT-01', 'error', Act('fail', ('carveout rsc is truncated',
                                       'carveout rsc has non zero reserved bytes'),
                              f'then "{FAILED_RESOURCES}": the boot fails'),
       Act('ignore', None, _DROPPED)),
    _r('ENT-02', 'error', Act('fail', ("Registered carveout doesn't fit da request",
                                       "Registered carveout doesn't fit len request"),
                              f'then "{FAILED_RESOURCES}": the boot fails'),
       Act('ignore', None, 'remoteproc_mmap() of the carveout fails: ' + _DROPPED)),
    _r('ENT-03', 'error', Act('fail', FAILED_RESOURCES, 'rproc_handle_devmem() returns -EINVAL '
                              'without an IOMMU: the boot fails'),
       Act('none', None, 'skips devmem entries')),
    _r('TRACE-01', 'error', Act('fail', ('trace rsc is truncated',
                                         'trace rsc has non zero reserved bytes'),
                                f'then "{FAILED_RESOURCES}": the boot fails'),
       Act('none', None, 'does not check trace entries')),
    _r('TRACE-02', 'error', Act('ignore', None, 'creates trace0 anyway; reading it shows '
                                'nothing or fails (rproc_da_to_va() finds no memory)'),
       Act('ignore', None, 'skips the entry')),
    _r('VDEV-01', 'error', Act('fail', ('vdev rsc is truncated',
                                        'vdev rsc has non zero reserved bytes'),
                               f'then "{FAILED_RESOURCES}": the boot fails'),
       Act('corrupt', None, 'reads past the entry')),
    _r('VDEV-02', 'error', Act('fail', 'too many vrings: %d', f'then "{FAILED_RESOURCES}"'),
       Act('ignore', None, 'rpmsg_init_vdev() cannot create its two virtqueues: no rpmsg')),
    _r('VDEV-03', 'warning', Act('none', None, 'overwrites status and gfeatures; the remote may '
                                 'act on the stale values first')),
    _r('VDEV-04', 'warning', Act('none', None, 'assigns its own notify IDs (idr_alloc) and '
                                 'writes them into the table'),
       Act('fail', None, 'remoteproc_allocate_id() fails: handle_rsc_table() returns '
           '-RPROC_ERR_RSC_TAB_NP')),
    _r('VRING-01', 'error', Act('ignore', 'invalid qsz (%d) or alignment (%d)', 'the vdev '
                                'probe fails: no rpmsg device; the core still boots'),
       Act('ignore', None, 'virtqueue_create() returns ERROR_VQUEUE_INVLD_PARAM: no rpmsg')),
    _r('VRING-02', 'error', Act('corrupt', None, 'vring_new_virtqueue() does not check it; the '
                                'ring is laid out for a size the remote rejects'),
       Act('ignore', None, 'virtqueue_create() rejects it (VQ_PARAM_CHK): no rpmsg')),
    _r('VRING-03', 'error', Act('corrupt', None, 'accepts any align but 0; vring_init() masks '
                                'with align - 1, so the two sides disagree on the used ring'),
       Act('corrupt', None, 'masks with align - 1 as well: the used ring is misplaced')),
    _r('VRING-04', 'error', Act('ignore', "Registered carveout doesn't fit len request",
                                'the vdev probe fails: no rpmsg device'),
       Act('ignore', None, 'remoteproc_mmap() of the vring fails: '
           'remoteproc_create_virtio() returns NULL')),
    _r('VRING-05', 'error', Act('ignore', "Registered carveout doesn't fit da request",
                                'the vdev probe fails: no rpmsg device'),
       Act('ignore', None, 'remoteproc_mmap() of the vring fails: '
           'remoteproc_create_virtio() returns NULL')),
    _r('VRING-06', 'error', Act('corrupt', None, 'the rings are misaligned for one side')),
    _r('VRING-07', 'error', Act('corrupt', None, 'rp_find_vq() zeroes the ring over the loaded '
                                'image'),
       Act('corrupt', None, 'the host initialises the ring over the loaded image')),
    _r('VRING-08', 'error', Act('corrupt', None, 'two users write the same memory')),
    _r('VRING-09', 'warning', Act('none', None, 'goes on: virtio_rpmsg_bus WARN_ON()s (a kernel '
                                  'warning with a backtrace) for asymmetric vrings, and a pool '
                                  'too small for its buffers overlaps what follows it'),
       Act('none', None, 'uses what the table says')),
    _r('VRING-10', 'error', Act('corrupt', (
        'DMA address cast in 32bit to fit resource table format',
        'Physical address cast in 32bit to fit resource table format'),
        'the remote uses the truncated address'),
       Act('corrupt', None, 'the remote uses the truncated address')),
    _r('PLAT-01', 'warning', Act('fail', 'invalid magic number, won\'t attach',
                                 '(dev_dbg: printed only with dynamic debug) attaching to the '
                                 'running R5 fails or maps the wrong table; loading the ELF is '
                                 'unaffected'),
       Act('none', None, 'does not read the Xilinx metadata')),
    _r('PLAT-02', 'info', Act('none', None, 'ld decides where the table goes; RSC-04 and RSC-07 '
                              'say whether the loaders can still use it')),
    _r('LAY-01', 'error', Act('corrupt', None, 'the host and the remote disagree about shared '
                              'memory: the vdev does not come up or both write the same bytes')),
    _r('HVL-01', 'error', Act('corrupt', None, 'the HVL driver uses memory the layout does not '
                              'give it')),
)}


def loader_acts(rule: Rule, loader: str | None = None, linux: Act | None = None,
                openamp: Act | None = None) -> list:
    """[(who, Act)] of the loader in charge, or of both when it is not known."""
    acts = [('Linux', linux or rule.linux), ('OpenAMP', openamp or rule.openamp)]
    if loader == LINUX:
        return acts[:1]
    if loader == OPENAMP:
        return acts[1:]
    return acts


@dataclass
class Finding:
    """One broken rule.

    rule: catalogue ID ('SEG-04'); severity: 'error' | 'warning' | 'info';
    message: one sentence; obj: the ELF object ('segment 1 (.text .rodata)',
    'rsc entry 0 (vdev) field da', 'section header 12'); ranges: [(start,
    end)], end exclusive, addresses unless ``file_ranges`` (file offsets);
    region: the layout region it was checked against, or None; consequence:
    what the loader in charge does ('fail', 'ignore', 'corrupt', 'none');
    effect: what it prints and does; also: consequences of this defect that
    other rules would report (one defect, one finding).
    """

    rule: str
    severity: str
    message: str
    obj: str = ''
    ranges: list = field(default_factory=list)
    region: str = None
    consequence: str = 'none'
    effect: str = ''
    file_ranges: bool = False
    also: list = field(default_factory=list)
    prints: bool = False
    names: tuple = ()               # other names of what it is about ('vdev0/vring1')

    def to_json(self) -> dict:
        return {'rule': self.rule, 'severity': self.severity, 'message': self.message,
                'object': self.obj or None,
                'ranges': [{'start': s, 'end': e} for s, e in self.ranges],
                'ranges_are': 'file offsets' if self.file_ranges else 'addresses',
                'region': self.region, 'consequence': self.consequence,
                'effect': self.effect, 'also': list(self.also)}

    def __str__(self) -> str:
        parts = [f'{self.severity:<7}', self.rule]
        if self.obj:
            parts.append(self.obj)
        if self.ranges:
            spans = ' '.join(f'[{s:#x},{e:#x})' for s, e in self.ranges)
            parts.append(f'file offsets {spans}' if self.file_ranges else spans)
        if self.region:
            parts.append(f'vs {self.region}')
        text = ' '.join(parts) + f': {self.message}'
        if self.also:
            text += ' (also: ' + '; '.join(self.also) + ')'
        if self.consequence != 'none' or self.severity != 'info':
            text += f' => {self.consequence_text()}: {self.effect}'
        return text

    def consequence_text(self) -> str:
        if self.consequence == 'ignore':
            return 'ignored' if self.prints else 'ignored in silence'
        return CONSEQUENCE_TEXT[self.consequence]


@dataclass
class Report:
    """The findings for one ELF, in the order the checks ran."""

    path: str
    domain: str = None
    findings: list = field(default_factory=list)
    parser: str = 'pyelftools'

    @property
    def errors(self) -> list:
        return [f for f in self.findings if f.severity == 'error']

    @property
    def warnings(self) -> list:
        return [f for f in self.findings if f.severity == 'warning']

    def ok(self, werror: bool = False) -> bool:
        """True when nothing would stop the image (nor any warning, with werror)."""
        return not self.errors and not (werror and self.warnings)

    def verdict(self, werror: bool = False) -> str:
        """One line: OK/FAIL, the counts and what it was checked against."""
        against = f'domain {self.domain}' if self.domain else 'the rules that need no layout'
        return (f'{"OK" if self.ok(werror) else "FAIL"}: {len(self.errors)} error(s), '
                f'{len(self.warnings)} warning(s), checked against {against}')

    def to_json(self, werror: bool = False) -> dict:
        return {'path': str(self.path), 'domain': self.domain, 'ok': self.ok(werror),
                'errors': len(self.errors), 'warnings': len(self.warnings),
                'findings': [f.to_json() for f in self.findings]}


class Findings:
    """Makes findings for one check: the loader in charge decides the
    consequence and the effect text (``loader`` None: both loaders)."""

    def __init__(self, loader: str | None = None):
        self.loader = loader

    def __call__(self, rule: str, message: str, obj: str = '', ranges=(),
                 region: str | None = None, severity: str | None = None,
                 linux: Act | None = None, openamp: Act | None = None,
                 file_ranges: bool = False, names: tuple = ()) -> Finding:
        r = RULES[rule]
        acts = loader_acts(r, self.loader, linux, openamp)
        worst = max((a.consequence for _, a in acts), key=SEVERITY_ORDER.get)
        effect = '; '.join(a.text(who) for who, a in acts)
        prints = any(a.says for _, a in acts if a.consequence == 'ignore')
        return Finding(rule, severity or r.severity, message, obj, list(ranges), region,
                       worst, effect, file_ranges, [], prints, tuple(names))

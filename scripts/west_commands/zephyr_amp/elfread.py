"""Lazy, defensive reading of the parts of an ELF that firmware loaders look at.

Only the ELF header, the program headers, the section headers, the bytes a
caller asks for and a few symbols are read; never DWARF. pyelftools parses the
headers; where it gives up on a damaged file, a raw ``struct`` reader takes
over, so the segment and table checks still run on what is readable.

Damage found while reading (bad magic, header tables past the end of the file
...) is recorded in ``ElfImage.damage`` as ``Damage(rule, message, ranges)``
with the rule IDs of ../shared/docs/loader-rules.md; ``elfcheck`` turns it into
findings. Nothing here raises on a hostile file: the worst case is an image
with no segments or no sections and a list of damage.
"""

import array
import struct
import sys
from dataclasses import dataclass, field
from functools import cached_property

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.enums import ENUM_E_MACHINE, ENUM_E_TYPE

ELFCLASS32 = 1
ELFCLASS64 = 2
ELFDATA2LSB = 1
PF_X = 1
SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
SHN_XINDEX = 0xFFFF
PN_XNUM = 0xFFFF

# Everything pyelftools (and construct below it) can raise on hostile bytes.
_PARSE_ERRORS = (ELFError, struct.error, ValueError, KeyError, IndexError, TypeError,
                 ZeroDivisionError, OverflowError, UnicodeDecodeError, AttributeError, OSError)

# Raw layouts, little endian (ELF-04 rejects anything else before these are used).
_EHDR = {ELFCLASS32: struct.Struct('<16sHHIIIIIHHHHHH'),
         ELFCLASS64: struct.Struct('<16sHHIQQQIHHHHHH')}
_PHDR = {ELFCLASS32: struct.Struct('<IIIIIIII'), ELFCLASS64: struct.Struct('<IIQQQQQQ')}
_SHDR = {ELFCLASS32: struct.Struct('<IIIIIIIIII'), ELFCLASS64: struct.Struct('<IIQQQQIIQQ')}

_E_TYPE_NAMES = {v: k for k, v in ENUM_E_TYPE.items() if not k.startswith('_')}
_E_MACHINE_NAMES = {v: k for k, v in ENUM_E_MACHINE.items() if not k.startswith('_')}
_P_TYPE_NAMES = {0: 'PT_NULL', 1: 'PT_LOAD', 2: 'PT_DYNAMIC', 3: 'PT_INTERP', 4: 'PT_NOTE',
                 6: 'PT_PHDR', 7: 'PT_TLS'}
_SH_TYPE_NAMES = {0: 'SHT_NULL', 1: 'SHT_PROGBITS', 2: 'SHT_SYMTAB', 3: 'SHT_STRTAB',
                  8: 'SHT_NOBITS'}

MACHINE_TITLES = {'EM_ARM': 'ARM', 'EM_AARCH64': 'AArch64', 'EM_RISCV': 'RISC-V',
                  'EM_386': 'x86', 'EM_X86_64': 'x86-64'}


@dataclass(frozen=True)
class Ehdr:
    """The ELF header. ``elfclass`` is 32 or 64; enums keep pyelftools' names
    ('ET_EXEC', 'EM_ARM'), or the integer when the value has no name."""

    elfclass: int
    e_type: object
    e_machine: object
    e_entry: int
    e_phoff: int
    e_shoff: int
    e_phentsize: int
    e_phnum: int
    e_shentsize: int
    e_shnum: int
    e_shstrndx: int


@dataclass(frozen=True)
class Phdr:
    """One program header; ``index`` is its position in the table."""

    index: int
    p_type: object
    p_offset: int
    p_vaddr: int
    p_paddr: int
    p_filesz: int
    p_memsz: int
    p_flags: int


@dataclass(frozen=True)
class Shdr:
    """One section header with its name resolved ('' when unreadable)."""

    index: int
    name: str
    sh_type: object
    sh_flags: int
    sh_addr: int
    sh_offset: int
    sh_size: int
    sh_link: int = 0


@dataclass(frozen=True)
class Damage:
    """Something wrong with the container itself, found while reading: the
    rule, a message, the object ('ELF header', 'program header 3', 'section
    header 12') and its ranges, file offsets when ``file_ranges``."""

    rule: str
    message: str
    ranges: tuple = ()
    obj: str = 'ELF header'
    file_ranges: bool = False


@dataclass
class ElfImage:
    """The loader-relevant parts of one ELF file, read on demand.

    ``ehdr`` is None when the file is not a readable little-endian ELF (see
    ``damage``); ``phdrs`` holds the program headers that lie inside the file,
    ``shdrs`` the section headers, or None when the section header table (or
    its string table index) is unusable. ``parser`` says which reader produced
    the headers: 'pyelftools' or 'raw'.
    """

    stream: object
    size: int
    ehdr: Ehdr = None
    damage: list = field(default_factory=list)
    parser: str = 'pyelftools'

    @classmethod
    def open(cls, path) -> 'ElfImage':
        """Open ``path``; OSError propagates (a missing file is the caller's problem)."""
        stream = open(path, 'rb')   # noqa: SIM115 - kept open for the image's life, closed by close()
        try:
            return cls.from_stream(stream)
        except BaseException:
            stream.close()
            raise

    @classmethod
    def from_stream(cls, stream):
        stream.seek(0, 2)
        image = cls(stream=stream, size=stream.tell())
        image._identify()
        return image

    def close(self):
        self.stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def read(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer at the end of the file)."""
        if offset < 0 or size <= 0 or offset >= self.size:
            return b''
        self.stream.seek(offset)
        return self.stream.read(min(size, self.size - offset))

    # ELF header ----------------------------------------------------------

    def _identify(self):
        ident = self.read(0, 16)
        if len(ident) < 4 or ident[:4] != b'\x7fELF':
            if len(ident) < 4 and b'\x7fELF'.startswith(ident):
                self._damaged('ELF-02', f'file is shorter than the ELF header ({self.size} bytes)')
            else:
                self._damaged('ELF-01', f'not an ELF file (bad magic {ident[:4]!r})')
            return
        if len(ident) < 6:
            self._damaged('ELF-02', f'file is shorter than the ELF header ({self.size} bytes)')
            return
        elfclass = ident[4]
        if elfclass not in (ELFCLASS32, ELFCLASS64):
            self._damaged('ELF-03', f'EI_CLASS is {elfclass}; only ELFCLASS32 (1) and '
                          'ELFCLASS64 (2) exist')
            return
        if ident[5] != ELFDATA2LSB:
            what = 'big-endian image' if ident[5] == 2 else f'EI_DATA is {ident[5]}'
            self._damaged('ELF-04', f'{what}; remoteproc needs host endianness '
                          '(ELFDATA2LSB)')
            return
        need = _EHDR[elfclass].size
        if self.size < need:
            self._damaged('ELF-02', f'file is shorter than the ELF header: {self.size} bytes, '
                          f'ELF{elfclass * 32} needs {need}')
            return
        self.ehdr = self._pyelftools_ehdr(elfclass) or self._raw_ehdr(elfclass)
        self._check_tables()

    def _pyelftools_ehdr(self, elfclass):
        try:
            elf = ELFFile(self.stream)
            h = elf.header
            ehdr = Ehdr(elfclass * 32, h['e_type'], h['e_machine'], h['e_entry'],
                        h['e_phoff'], h['e_shoff'], h['e_phentsize'], h['e_phnum'],
                        h['e_shentsize'], h['e_shnum'], h['e_shstrndx'])
        except _PARSE_ERRORS:
            self.parser = 'raw'
            return None
        self._elf = elf
        return ehdr

    def _raw_ehdr(self, elfclass):
        f = _EHDR[elfclass].unpack(self.read(0, _EHDR[elfclass].size))
        return Ehdr(elfclass * 32, _E_TYPE_NAMES.get(f[1], f[1]),
                    _E_MACHINE_NAMES.get(f[2], f[2]), f[4], f[5], f[6],
                    f[9], f[10], f[11], f[12], f[13])

    def _damaged(self, rule, message, ranges=(), obj='ELF header', file_ranges=False):
        self.damage.append(Damage(rule, message, tuple(ranges), obj, file_ranges))

    @property
    def _cls(self):
        return ELFCLASS32 if self.ehdr.elfclass == 32 else ELFCLASS64

    # Header tables ---------------------------------------------------------

    def _check_tables(self):
        """ELF-07: work out the real counts (the e_shnum == 0 / PN_XNUM /
        SHN_XINDEX escapes) and check that both tables lie inside the file.
        Sets _phnum (the program headers that can be read) and _shnum/_shstrndx
        (None: section headers unusable)."""
        h = self.ehdr
        cls = self._cls
        sh0 = None
        shentsize_ok = h.e_shentsize >= _SHDR[cls].size
        if h.e_shoff and shentsize_ok and h.e_shoff + _SHDR[cls].size <= self.size:
            sh0 = self._raw_shdr_fields(0, h.e_shoff)

        shnum = h.e_shnum
        if h.e_shoff and shnum == 0 and sh0:
            shnum = sh0[5]                                   # sh_size of section 0
        shstrndx = h.e_shstrndx
        if shstrndx == SHN_XINDEX and sh0:
            shstrndx = sh0[6]                                # sh_link of section 0
        phnum = h.e_phnum
        if phnum == PN_XNUM and sh0:
            phnum = sh0[7]                                   # sh_info of section 0

        self._phnum = self._table_count('program header', h.e_phoff, phnum, h.e_phentsize,
                                        _PHDR[cls].size, partial=True)
        self._shnum = None
        self._shstrndx = None
        if not h.e_shoff:
            self._shnum = 0
            return
        shnum = self._table_count('section header', h.e_shoff, shnum, h.e_shentsize,
                                  _SHDR[cls].size, partial=False)
        if shnum is None:
            return
        if shnum and not shstrndx < shnum:
            self._damaged('ELF-07', f'e_shstrndx {shstrndx} is not below e_shnum {shnum}: '
                          'section names cannot be read')
            return
        self._shnum = shnum
        self._shstrndx = shstrndx

    def _table_count(self, what, offset, count, entsize, minsize, partial):
        """How many entries of a header table can be read, recording ELF-07
        damage; None when none can (and ``partial`` is False)."""
        if not count:
            return 0
        if entsize < minsize:
            self._damaged('ELF-07', f'{what} entries are {entsize} bytes (e_{what[0]}hentsize), '
                          f'ELF{self.ehdr.elfclass} needs {minsize}')
            return 0 if partial else None
        end = offset + count * entsize
        if end <= self.size:
            return count
        first = max(0, (self.size - offset) // entsize) if offset < self.size else 0
        self._damaged('ELF-07', f'file truncated: {what} table ends at file offset {end:#x}, '
                      f'file is {self.size:#x} bytes; {what} {first} and later are cut off',
                      [(offset, end)], f'{what} {first}', file_ranges=True)
        if not partial:
            return None
        return max(0, (self.size - offset) // entsize) if offset < self.size else 0

    # Program and section headers -------------------------------------------

    @cached_property
    def phdrs(self):
        """The program headers inside the file (all types), in table order."""
        if self.ehdr is None:
            return []
        if self.parser == 'pyelftools':
            try:
                return [self._phdr_from(i, self._elf.get_segment(i).header)
                        for i in range(self._phnum)]
            except _PARSE_ERRORS:
                self.parser = 'raw'
        return self.raw_phdrs()

    def raw_phdrs(self):
        """The program headers read with ``struct`` only."""
        s = _PHDR[self._cls]
        out = []
        for i in range(self._phnum):
            f = s.unpack(self.read(self.ehdr.e_phoff + i * self.ehdr.e_phentsize, s.size))
            if self._cls == ELFCLASS32:
                p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, _ = f
            else:
                p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, _ = f
            out.append(Phdr(i, _P_TYPE_NAMES.get(p_type, p_type), p_offset, p_vaddr, p_paddr,
                            p_filesz, p_memsz, p_flags))
        return out

    @staticmethod
    def _phdr_from(i, h):
        return Phdr(i, h['p_type'], h['p_offset'], h['p_vaddr'], h['p_paddr'],
                    h['p_filesz'], h['p_memsz'], h['p_flags'])

    @cached_property
    def shdrs(self):
        """The section headers with names, or None when the table is unusable."""
        if self.ehdr is None or self._shnum is None:
            return None
        if self.parser == 'pyelftools':
            try:
                out = []
                for i in range(self._shnum):
                    sec = self._elf.get_section(i)
                    h = sec.header
                    out.append(Shdr(i, sec.name or '', h['sh_type'], h['sh_flags'],
                                    h['sh_addr'], h['sh_offset'], h['sh_size'], h['sh_link']))
                return out
            except _PARSE_ERRORS:
                self.parser = 'raw'
        return self.raw_shdrs()

    def raw_shdrs(self):
        """The section headers read with ``struct`` only; names from the raw
        section name string table ('' where it cannot be read)."""
        if self._shnum is None:
            return None
        fields = [self._raw_shdr_fields(i, self.ehdr.e_shoff + i * self.ehdr.e_shentsize)
                  for i in range(self._shnum)]
        strtab = b''
        if self._shnum:
            st = fields[self._shstrndx]
            if st[1] != 8:                                   # SHT_NOBITS has no bytes
                strtab = self.read(st[4], min(st[5], 1 << 20))
        out = []
        for i, (name, sh_type, flags, addr, offset, size, link, _) in enumerate(fields):
            end = strtab.find(b'\0', name)
            text = strtab[name:end].decode('utf-8', 'replace') if 0 <= name < end else ''
            out.append(Shdr(i, text, _SH_TYPE_NAMES.get(sh_type, sh_type), flags, addr,
                            offset, size, link))
        return out

    def _raw_shdr_fields(self, i, offset):
        """(sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info)."""
        s = _SHDR[self._cls]
        return s.unpack(self.read(offset, s.size))[:8]

    def sections_named(self, name: str) -> list:
        """The section headers called exactly ``name``, in table order."""
        return [s for s in self.shdrs or () if s.name == name]

    # Symbols ---------------------------------------------------------------

    def symbol(self, name: str) -> 'int | None':
        """The value of the symbol ``name`` in .symtab, or None (no symbol
        table, or it is unreadable). Cached per name."""
        cache = self.__dict__.setdefault('_symbol_cache', {})
        if name not in cache:
            cache[name] = self._find_symbol(name)
        return cache[name]

    def _find_symbol(self, name):
        """Look the name up in the string table first (bytes.find), then scan
        only the st_name words of the symbol table for its offsets: no symbol
        object is built, so an image with 80,000 symbols costs milliseconds.
        A name may also be the tail of a longer string (ld shares suffixes)."""
        found = self._symbol_tables()
        if found is None:
            return None
        symtab, strings = found
        key = name.encode('utf-8', 'replace') + b'\0'
        offsets = set()
        at = strings.find(key)
        while at >= 0:
            offsets.add(at)
            at = strings.find(key, at + 1)
        if not offsets:
            return None
        entsize = 16 if self._cls == ELFCLASS32 else 24
        words = array.array('I')
        words.frombytes(symtab[:len(symtab) // entsize * entsize])
        if sys.byteorder != 'little':
            words.byteswap()
        st_names = words[::entsize // 4]
        hits = [i for i, n in enumerate(st_names) if n in offsets] if len(offsets) > 1 else \
            _all_indices(st_names, next(iter(offsets)))
        if not hits:
            return None
        at = hits[-1] * entsize
        if self._cls == ELFCLASS32:
            return struct.unpack_from('<I', symtab, at + 4)[0]
        return struct.unpack_from('<Q', symtab, at + 8)[0]

    @cached_property
    def _symbol_bytes(self):
        """(bytes of .symtab, bytes of its string table), or None."""
        shdrs = self.shdrs or []
        symtab = next((s for s in shdrs if s.sh_type in ('SHT_SYMTAB', 2)), None)
        if symtab is None or not 0 < symtab.sh_link < len(shdrs):
            return None
        strtab = shdrs[symtab.sh_link]
        for sec in (symtab, strtab):
            if sec.sh_offset + sec.sh_size > self.size:
                return None
        return (self.read(symtab.sh_offset, symtab.sh_size),
                self.read(strtab.sh_offset, strtab.sh_size))

    def _symbol_tables(self):
        return self._symbol_bytes


def _all_indices(values, value):
    """Every index of ``value`` in the array ``values`` (array.index runs in C)."""
    out = []
    at = 0
    while True:
        try:
            at = values.index(value, at)
        except ValueError:
            return out
        out.append(at)
        at += 1

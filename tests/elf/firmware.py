"""Test firmware built from source with the real cross compilers.

Two minimal remote images, each one C file, the resource table of
rsc_table.c (every field a macro) and a cpp-preprocessed linker script
(every placement a macro):

- ``r5``: Cortex-R5 (arm-none-eabi-gcc -mcpu=cortex-r5, ELF32/EM_ARM) for the
  KV260's RPU in lock-step, all in TCM; checked against ``KV260_LAYOUT``.
- ``a53``: Cortex-A53 (aarch64-linux-gnu-gcc, ELF64/EM_AARCH64) for
  qemu_cortex_a53 with two rpmsg vdevs; checked against ``QEMU_A53_LAYOUT``.

A variant changes one thing: ``defines`` for the C code, ``ld_defines`` for
the linker script, ``ldflags`` for the link, or ``patch`` for the bytes after
linking. The two layouts are hand-written in the shape of docs/layout-json.md;
``QEMU_A53_HIGH_LAYOUT`` is the A53 one with its shared memory above 4 GiB.
"""

import struct
import subprocess
from pathlib import Path

from conftest import need_tool

HERE = Path(__file__).parent

TARGETS = {
    'r5': {
        'cc': 'arm-none-eabi-gcc',
        'cflags': ['-mcpu=cortex-r5', '-marm', '-mfloat-abi=soft'],
        'main': 'r5_main.c', 'table': 'r5_table.h', 'ld': 'r5.ld.in',
    },
    'a53': {
        'cc': 'aarch64-linux-gnu-gcc',
        'cflags': ['-mcpu=cortex-a53', '-mgeneral-regs-only', '-static', '-no-pie', '-fno-pic',
                   '-Wl,--no-warn-rwx-segments'],
        'main': 'a53_main.c', 'table': 'a53_table.h', 'ld': 'a53.ld.in',
    },
}
COMMON_CFLAGS = ['-O1', '-nostdlib', '-ffreestanding', '-fno-asynchronous-unwind-tables',
                 '-Wl,--build-id=none']


def _flags(values):
    return [f'-D{k}' if v is None else f'-D{k}={v}' for k, v in (values or {}).items()]


def build(target, out, name, defines=None, ld_defines=None, ldflags=(), sources=None,
          table_header=None, ld_template=None, include_dirs=()):
    """Compile and link one image into ``out/name.elf``; returns its Path.
    ``sources``, ``table_header`` ('' for none) and ``ld_template`` replace the
    defaults (the builds from amp-config's generated files use them)."""
    t = TARGETS[target]
    cc = t['cc']
    need_tool(cc)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    script = out / f'{name}.ld'
    subprocess.run([cc, '-E', '-P', '-x', 'c', *_flags(ld_defines),
                    str(ld_template or HERE / t['ld']), '-o', str(script)], check=True,
                   capture_output=True, text=True)
    elf = out / f'{name}.elf'
    if sources is None:
        sources = [HERE / t['main'], HERE / 'rsc_table.c']
    header = [] if table_header == '' else ['-include', str(table_header or HERE / t['table'])]
    cmd = [cc, *t['cflags'], *COMMON_CFLAGS, *header, *_flags(defines),
           *[f'-I{d}' for d in include_dirs], '-T', str(script), *ldflags,
           *map(str, sources), '-o', str(elf)]
    r = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f'build of {name} failed:\n{" ".join(cmd)}\n{r.stderr}')
    return elf


# ---------------------------------------------------------------------------
# Byte patches after linking (ELF32 and ELF64, little endian)

_EHDR = {1: '<16sHHIIIIIHHHHHH', 2: '<16sHHIQQQIHHHHHH'}
_PHDR = {1: ('<IIIIIIII', ['p_type', 'p_offset', 'p_vaddr', 'p_paddr', 'p_filesz', 'p_memsz',
                           'p_flags', 'p_align']),
         2: ('<IIQQQQQQ', ['p_type', 'p_flags', 'p_offset', 'p_vaddr', 'p_paddr', 'p_filesz',
                           'p_memsz', 'p_align'])}
_EHDR_FIELDS = ['e_ident', 'e_type', 'e_machine', 'e_version', 'e_entry', 'e_phoff', 'e_shoff',
                'e_flags', 'e_ehsize', 'e_phentsize', 'e_phnum', 'e_shentsize', 'e_shnum',
                'e_shstrndx']


def read_ehdr(data):
    cls = data[4]
    return dict(zip(_EHDR_FIELDS, struct.unpack_from(_EHDR[cls], data)))


def set_ehdr(data, **values):
    """Return ``data`` with ELF header fields replaced."""
    h = read_ehdr(data)
    h.update(values)
    out = bytearray(data)
    struct.pack_into(_EHDR[data[4]], out, 0, *[h[k] for k in _EHDR_FIELDS])
    return bytes(out)


def set_phdr(data, index, **values):
    """Return ``data`` with fields of program header ``index`` replaced."""
    h = read_ehdr(data)
    fmt, names = _PHDR[data[4]]
    at = h['e_phoff'] + index * h['e_phentsize']
    ph = dict(zip(names, struct.unpack_from(fmt, data, at)))
    ph.update(values)
    out = bytearray(data)
    struct.pack_into(fmt, out, at, *[ph[k] for k in names])
    return bytes(out)


_SHDR = {1: '<IIIIIIIIII', 2: '<IIQQQQIIQQ'}
_SHDR_FIELDS = ['sh_name', 'sh_type', 'sh_flags', 'sh_addr', 'sh_offset', 'sh_size', 'sh_link',
                'sh_info', 'sh_addralign', 'sh_entsize']


def set_shdr(data, index, **values):
    """Return ``data`` with fields of section header ``index`` replaced."""
    h = read_ehdr(data)
    fmt = _SHDR[data[4]]
    at = h['e_shoff'] + index * h['e_shentsize']
    sh = dict(zip(_SHDR_FIELDS, struct.unpack_from(fmt, data, at)))
    sh.update(values)
    out = bytearray(data)
    struct.pack_into(fmt, out, at, *[sh[k] for k in _SHDR_FIELDS])
    return bytes(out)


def phdrs(data):
    h = read_ehdr(data)
    fmt, names = _PHDR[data[4]]
    return [dict(zip(names, struct.unpack_from(fmt, data, h['e_phoff'] + i * h['e_phentsize'])))
            for i in range(h['e_phnum'])]


def patched(src, dst, patch):
    """Write ``patch(bytes)`` of the ELF ``src`` to ``dst``."""
    Path(dst).write_bytes(patch(Path(src).read_bytes()))
    return Path(dst)


# ---------------------------------------------------------------------------
# Hand-written layouts (docs/layout-json.md)

def _region(name, kind, owner, base, size, views=None, parent=None, dt_name=None, link=None):
    return {'name': name, 'kind': kind, 'owner': owner, 'users': [], 'base': base, 'size': size,
            'views': views or {}, 'parent': parent, 'link': link, 'dt_name': dt_name,
            'space': 'phys'}


def _tcm(name, base, view):
    return _region(name, 'tcm', 'rpu0', base, 0x10000, {'rpu0': view})


KV260_LAYOUT = {
    'format': 'zephyr-amp-layout', 'version': 1,
    'system': {'name': 'kv260-test', 'board': 'kv260', 'source': 'hand-written'},
    'page_size': 4096,
    'domains': {
        'linux': {'os': 'linux', 'role': 'host', 'cores': ['a53_0'], 'elf': None,
                  'loader': None, 'platform': None, 'boot': None, 'load_regions': [],
                  'resource_table': None},
        'rpu0': {
            'os': 'zephyr', 'role': 'remote', 'cores': ['r5_0'], 'target': 'kv260_r5',
            'elf': {'class': 32, 'machine': 'EM_ARM'},
            'loader': 'linux-remoteproc', 'platform': 'xlnx-zynqmp-r5',
            'boot': {'lovec': 0x0, 'hivec': 0xFFFF0000},
            'load_regions': ['rpu0_atcm0', 'rpu0_atcm1', 'rpu0_btcm0', 'rpu0_btcm1',
                             'rpu0_ddr'],
            'resource_table': {'region': 'rpu0_rsc_table', 'address': 0x3E000, 'size': 200},
        },
    },
    'regions': [
        _region('rpmsg0_shm', 'shm', 'shared', 0x3ED00000, 0x4000, link='rpmsg0'),
        _region('rpmsg0_vring0', 'vring', 'shared', 0x3ED00000, 0x1000, parent='rpmsg0_shm',
                dt_name='vdev0vring0', link='rpmsg0'),
        _region('rpmsg0_vring1', 'vring', 'shared', 0x3ED01000, 0x1000, parent='rpmsg0_shm',
                dt_name='vdev0vring1', link='rpmsg0'),
        _region('rpmsg0_buffers', 'buffer', 'shared', 0x3ED02000, 0x2000, parent='rpmsg0_shm',
                dt_name='vdev0buffer', link='rpmsg0'),
        _region('rpu0_ddr', 'carveout', 'rpu0', 0x3ED10000, 0x10000, dt_name='rpu0_ddr'),
        _tcm('rpu0_atcm0', 0xFFE00000, 0x0),
        _tcm('rpu0_atcm1', 0xFFE10000, 0x10000),
        _tcm('rpu0_btcm0', 0xFFE20000, 0x20000),
        _tcm('rpu0_btcm1', 0xFFE30000, 0x30000),
        _region('rpu0_rsc_table', 'rsc_table', 'rpu0', 0xFFE3E000, 0x100, {'rpu0': 0x3E000},
                parent='rpu0_btcm1'),
        _region('rpu0_trace', 'trace', 'rpu0', 0xFFE3E100, 0x1000, {'rpu0': 0x3E100},
                parent='rpu0_btcm1'),
    ],
    'links': [{
        'name': 'rpmsg0', 'type': 'rpmsg', 'host': 'linux', 'remote': 'rpu0',
        'shm': 'rpmsg0_shm',
        'vdev': {
            'index': 0, 'id': 7, 'notifyid': 2, 'dfeatures': 1,
            'vrings': [
                {'name': 'vdev0vring0', 'region': 'rpmsg0_vring0', 'da': 0x3ED00000,
                 'align': 16, 'num': 8, 'notifyid': 0, 'size': 230, 'alloc': 0x1000},
                {'name': 'vdev0vring1', 'region': 'rpmsg0_vring1', 'da': 0x3ED01000,
                 'align': 16, 'num': 8, 'notifyid': 1, 'size': 230, 'alloc': 0x1000},
            ],
            'buffers': {'region': 'rpmsg0_buffers', 'base': 0x3ED02000, 'size': 0x2000,
                        'count': 16, 'buf_size': 512},
        },
    }],
    'resource_tables': {
        'rpu0': {
            'region': 'rpu0_rsc_table', 'address': 0x3E000, 'size': 200, 'num': 3,
            'entries': [
                {'type': 'vdev', 'offset': 28, 'id': 7, 'notifyid': 2, 'dfeatures': 1,
                 'gfeatures': 0, 'config_len': 0, 'status': 0, 'num_of_vrings': 2,
                 'vrings': [{'da': 0x3ED00000, 'align': 16, 'num': 8, 'notifyid': 0},
                            {'da': 0x3ED01000, 'align': 16, 'num': 8, 'notifyid': 1}]},
                {'type': 'trace', 'offset': 96, 'da': 0x3E100, 'len': 0x1000, 'reserved': 0,
                 'name': 'Zephyr_log'},
                {'type': 'carveout', 'offset': 144, 'da': 0x3ED10000, 'pa': 0x3ED10000,
                 'len': 0x10000, 'flags': 0, 'reserved': 0, 'name': 'rpu0_ddr'},
            ],
        },
    },
}


def _rpmsg_link(name, index, buffers, vring0, notifyid):
    return {
        'name': name, 'type': 'rpmsg', 'host': 'host', 'remote': 'a53', 'shm': 'ipc',
        'vdev': {
            'index': index, 'id': 7, 'notifyid': notifyid, 'dfeatures': 1,
            'vrings': [
                {'name': f'vdev{index}vring{j}', 'region': f'{name}_vring{j}',
                 'da': vring0 + j * 0x1000, 'align': 16, 'num': 16, 'notifyid': 2 * index + j,
                 'size': 438, 'alloc': 0x1000} for j in range(2)],
            'buffers': {'region': f'{name}_buffers', 'base': buffers, 'size': 0x4000,
                        'count': 32, 'buf_size': 512},
        },
    }


def _rpmsg_regions(name, buffers, vring0):
    return [
        _region(f'{name}_buffers', 'buffer', 'shared', buffers, 0x4000, parent='ipc', link=name),
        _region(f'{name}_vring0', 'vring', 'shared', vring0, 0x1000, parent='ipc', link=name),
        _region(f'{name}_vring1', 'vring', 'shared', vring0 + 0x1000, 0x1000, parent='ipc',
                link=name),
    ]


QEMU_A53_LAYOUT = {
    'format': 'zephyr-amp-layout', 'version': 1,
    'system': {'name': 'qemu-a53-test', 'board': 'qemu_cortex_a53', 'source': 'hand-written'},
    'page_size': 4096,
    'domains': {
        'host': {'os': 'zephyr', 'role': 'host', 'cores': ['a53_0'],
                 'elf': {'class': 64, 'machine': 'EM_AARCH64'}, 'loader': 'qemu',
                 'platform': None, 'boot': None, 'load_regions': ['host_fw'],
                 'resource_table': None},
        'a53': {
            'os': 'zephyr', 'role': 'remote', 'cores': ['a53_1'], 'target': 'qemu_cortex_a53',
            'elf': {'class': 64, 'machine': 'EM_AARCH64'},
            'loader': 'openamp', 'platform': None, 'boot': None,
            'load_regions': ['a53_fw', 'a53_heap'],
            'resource_table': {'region': 'a53_rsc_table', 'address': 0x400FF000, 'size': 220},
        },
    },
    'regions': [
        _region('a53_fw', 'firmware', 'a53', 0x40000000, 0x100000, dt_name='memory'),
        _region('a53_rsc_table', 'rsc_table', 'a53', 0x400FF000, 0x100, parent='a53_fw'),
        _region('a53_heap', 'carveout', 'a53', 0x40100000, 0x100000, dt_name='a53_heap'),
        _region('host_fw', 'firmware', 'host', 0x40200000, 0x100000, dt_name='memory'),
        _region('ipc', 'pool', 'shared', 0x47000000, 0x10000),
        *_rpmsg_regions('rpmsg0', 0x47000000, 0x47004000),
        *_rpmsg_regions('rpmsg1', 0x47006000, 0x4700A000),
    ],
    'links': [_rpmsg_link('rpmsg0', 0, 0x47000000, 0x47004000, 4),
              _rpmsg_link('rpmsg1', 1, 0x47006000, 0x4700A000, 5)],
    'resource_tables': {
        'a53': {
            'region': 'a53_rsc_table', 'address': 0x400FF000, 'size': 220, 'num': 3,
            'entries': [
                {'type': 'vdev', 'offset': 28, 'id': 7, 'notifyid': 4, 'dfeatures': 1,
                 'gfeatures': 0, 'config_len': 0, 'status': 0, 'num_of_vrings': 2,
                 'vrings': [{'da': 0x47004000, 'align': 16, 'num': 16, 'notifyid': 0},
                            {'da': 0x47005000, 'align': 16, 'num': 16, 'notifyid': 1}]},
                {'type': 'vdev', 'offset': 96, 'id': 7, 'notifyid': 5, 'dfeatures': 1,
                 'gfeatures': 0, 'config_len': 0, 'status': 0, 'num_of_vrings': 2,
                 'vrings': [{'da': 0x4700A000, 'align': 16, 'num': 16, 'notifyid': 2},
                            {'da': 0x4700B000, 'align': 16, 'num': 16, 'notifyid': 3}]},
                {'type': 'carveout', 'offset': 164, 'da': 0x40100000, 'pa': 0x40100000,
                 'len': 0x100000, 'flags': 0, 'reserved': 0, 'name': 'a53_heap'},
            ],
        },
    },
}


def _moved(layout, ranges, by):
    """A copy of ``layout`` with every base/da/pa inside one of ``ranges``
    moved up by ``by`` (regions, vrings, buffer pools, table entries alike)."""
    def walk(x):
        if isinstance(x, dict):
            return {k: v + by if k in ('base', 'da', 'pa') and isinstance(v, int)
                    and any(s <= v < e for s, e in ranges) else walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x
    return walk(layout)


# The A53 system with its IPC pool and heap carveout in RAM above 4 GiB (a QEMU
# virt machine with more than 3 GiB): the layout a u32 resource table cannot
# describe (VRING-10), for the unchanged a53 image.
QEMU_A53_HIGH_LAYOUT = _moved(QEMU_A53_LAYOUT, [(0x47000000, 0x47010000),
                                                (0x40100000, 0x40200000)], 1 << 32)

LAYOUTS = {'r5': (KV260_LAYOUT, 'rpu0'), 'a53': (QEMU_A53_LAYOUT, 'a53'),
           'a53-high': (QEMU_A53_HIGH_LAYOUT, 'a53')}

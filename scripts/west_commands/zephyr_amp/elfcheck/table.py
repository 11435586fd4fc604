"""The resource table read from its section bytes: the header and each entry's
well-formedness (HDR-xx, ENT-01, TRACE-01, VDEV-01..03)."""

import struct

from .compare import match_entries
from .rules import Act
from .util import (
    CARVEOUT,
    RSC_CARVEOUT,
    RSC_DEVMEM,
    RSC_TRACE,
    RSC_VDEV,
    RSC_VENDOR_END,
    RSC_VENDOR_START,
    TRACE,
    TYPE_NAMES,
    U32,
    VDEV,
    VIRTIO_ID_RPMSG,
    VRING,
    Entry,
    c_name,
    overlapping,
)

_PARSES_GARBAGE = Act('corrupt', None, 'parses whatever bytes sit at the offset as an entry')


def _says(kind: str, what: str) -> Act:
    """Linux's check of one entry kind ('carveout', 'trace', 'vdev'), as printed."""
    text = {'truncated': f'{kind} rsc is truncated',
            'reserved': f'{kind} rsc has non zero reserved bytes'}[what]
    return Act('fail', text, 'then "Failed to process resources: %d": the boot fails')


_UNCHECKED = Act('corrupt', None, 'does not check it')


class TableRules:
    """Mixin of Checker: parse the table, then hand the entries on."""

    def table_contents(self, data: bytes, sec) -> list:
        size = len(data)
        obj = '.resource_table header'
        if size < 16:
            return [self.finding('HDR-01',
                                 f'.resource_table is {size} bytes, a header needs 16', obj)]
        ver, num, r0, r1 = struct.unpack_from('<IIII', data)
        out = []
        if ver != 1:
            out.append(self.finding('HDR-02', f'resource table ver is {ver}, loaders accept 1',
                               obj + ' field ver'))
        if r0 or r1:
            out.append(self.finding('HDR-03', f'reserved words are {r0:#x}, {r1:#x}; must be 0',
                               obj + ' field reserved'))
        need = 16 + 4 * num
        if need > size:
            return out + [self.finding('HDR-04', f'num = {num} needs {need} bytes of header, '
                                  f'section is {size}', obj + ' field num')]
        entries = []
        for i in range(num):
            off = U32.unpack_from(data, 16 + 4 * i)[0]
            bad = []
            if off < need:
                bad.append(f'points into the header (below {need})')
            if off + 4 > size:
                bad.append(f'leaves no room for an entry (section is {size} bytes)')
            if off % 4:
                bad.append('is not 4-byte aligned')
            if bad:
                out.append(self.finding('HDR-05', f'offset[{i}] = {off} ' + ' and '.join(bad),
                                        f'rsc entry {i} offset',
                                        linux=None if off + 4 > size else _PARSES_GARBAGE))
                continue
            entry, found = self.parse_entry(i, off, data)
            out += found
            entries.append(entry)
        for a, b in overlapping([(e.offset, e.offset + e.size, e) for e in entries]):
            out.append(self.finding('HDR-05', f'{b[2].label} at offset {b[0]} overlaps '
                                    f'{a[2].label} [{a[0]},{a[1]})', b[2].label,
                                    linux=_PARSES_GARBAGE))
        wanted = ((self.target.table or {}).get('entries') or []) if self.layout_checks else []
        self.matches = match_entries(entries, wanted)
        out += self.entry_rules(entries)
        if self.layout_checks and self.target.table:
            out += self.layout_table(entries, {f.obj for f in out if f.severity == 'error'})
        return out

    def parse_entry(self, i, off, data):
        """One entry and its well-formedness findings (ENT-01, TRACE-01,
        VDEV-01/02, HDR-06)."""
        rtype = U32.unpack_from(data, off)[0]
        e = Entry(i, off, rtype)
        out = []
        if rtype in (RSC_CARVEOUT, RSC_DEVMEM):
            out += self.parse_carveout(e, data)
        elif rtype == RSC_TRACE:
            out += self.parse_trace(e, data)
        elif rtype == RSC_VDEV:
            out += self.parse_vdev(e, data)
        elif not RSC_VENDOR_START <= rtype <= RSC_VENDOR_END:
            out.append(self.finding('HDR-06', f'unknown resource type {rtype}; the loaders skip '
                                    'it', e.label))
        return e, out

    def parse_carveout(self, e: Entry, data: bytes) -> list:
        kind = TYPE_NAMES[e.type]
        avail = len(data) - e.offset
        if avail < CARVEOUT.size:
            return [self.finding('ENT-01', f'{e.label} needs {CARVEOUT.size} bytes, {avail} '
                                 'left in the table', e.label, linux=_says(kind, 'truncated'))]
        _, da, pa, length, flags, reserved, name = CARVEOUT.unpack_from(data, e.offset)
        e.fields = {'da': da, 'pa': pa, 'len': length, 'flags': flags,
                    'reserved': reserved, 'name': c_name(name)}
        e.size = CARVEOUT.size
        out = []
        if reserved:
            out.append(self.finding('ENT-01', f'reserved is {reserved:#x}, must be 0',
                                    e.label + ' field reserved', linux=_says(kind, 'reserved')))
        if e.type == RSC_CARVEOUT and length == 0:
            out.append(self.finding('ENT-01', 'len is 0', e.label + ' field len',
                                    linux=_UNCHECKED, openamp=_UNCHECKED))
        if b'\0' not in name:
            out.append(self.finding('ENT-01', 'name is not NUL-terminated',
                                    e.label + ' field name', linux=_UNCHECKED,
                                    openamp=_UNCHECKED))
        return out

    def parse_trace(self, e: Entry, data: bytes) -> list:
        avail = len(data) - e.offset
        if avail < TRACE.size:
            return [self.finding('TRACE-01', f'{e.label} needs {TRACE.size} bytes, {avail} left '
                                 'in the table', e.label, linux=_says('trace', 'truncated'))]
        _, da, length, reserved, name = TRACE.unpack_from(data, e.offset)
        e.fields = {'da': da, 'len': length, 'reserved': reserved, 'name': c_name(name)}
        e.size = TRACE.size
        out = []
        if reserved:
            out.append(self.finding('TRACE-01', f'reserved is {reserved:#x}, must be 0',
                                    e.label + ' field reserved',
                                    linux=_says('trace', 'reserved')))
        if b'\0' not in name:
            out.append(self.finding('TRACE-01', 'name is not NUL-terminated',
                                    e.label + ' field name', linux=_UNCHECKED))
        return out

    def parse_vdev(self, e, data):
        off = e.offset
        avail = len(data) - off
        if avail < VDEV.size:
            return [self.finding('VDEV-01', f'{e.label} needs {VDEV.size} bytes, {avail} left in '
                            'the table', e.label, linux=_says('vdev', 'truncated'))]
        (_, vid, notifyid, dfeatures, gfeatures, config_len, status, nvr,
         reserved) = VDEV.unpack_from(data, off)
        e.fields = {'id': vid, 'notifyid': notifyid, 'dfeatures': dfeatures,
                    'gfeatures': gfeatures, 'config_len': config_len, 'status': status,
                    'num_of_vrings': nvr, 'vrings': []}
        need = VDEV.size + VRING.size * nvr + config_len
        e.size = min(need, avail)
        out = []
        if need > avail:
            out.append(self.finding('VDEV-01', f'{e.label} with {nvr} vrings and config_len '
                               f'{config_len} needs {need} bytes, {avail} left in the table',
                               e.label, linux=_says('vdev', 'truncated')))
        if reserved != b'\0\0':
            out.append(self.finding('VDEV-01', 'reserved bytes are not 0',
                                    e.label + ' field reserved', linux=_says('vdev', 'reserved')))
        if nvr > 2:
            out.append(self.finding('VDEV-02', f'num_of_vrings is {nvr}; Linux supports at most 2',
                               e.label + ' field num_of_vrings'))
        elif vid == VIRTIO_ID_RPMSG and nvr != 2:
            out.append(self.finding('VDEV-02', f'rpmsg needs exactly 2 vrings, num_of_vrings is '
                                    f'{nvr}', e.label + ' field num_of_vrings',
                                    linux=Act('ignore', None, 'rpmsg_probe() asks for two '
                                              'virtqueues and fails: no rpmsg device')))
        if status or gfeatures:
            out.append(self.finding('VDEV-03', f'status {status:#x} and gfeatures {gfeatures:#x} '
                               'must start at 0; the host writes them',
                               e.label + ' field ' + ('status' if status else 'gfeatures')))
        for j in range(min(nvr, (avail - VDEV.size) // VRING.size)):
            da, align, num, vnotify, _ = VRING.unpack_from(data, off + VDEV.size + 20 * j)
            e.fields['vrings'].append({'da': da, 'align': align, 'num': num, 'notifyid': vnotify})
        return out


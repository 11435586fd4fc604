"""Constants and small helpers shared by the rule modules."""

import struct
from dataclasses import dataclass, field

ADDR_ANY = 0xFFFFFFFF
U32_END = 1 << 32                   # resource-table addresses and lengths are u32 (VRING-10)
RSC_CARVEOUT, RSC_DEVMEM, RSC_TRACE, RSC_VDEV = 0, 1, 2, 3
RSC_VENDOR_START, RSC_VENDOR_END = 128, 512
VIRTIO_ID_RPMSG = 7
TYPE_NAMES = {RSC_CARVEOUT: 'carveout', RSC_DEVMEM: 'devmem', RSC_TRACE: 'trace',
              RSC_VDEV: 'vdev'}
XLNX_R5 = 'xlnx-zynqmp-r5'
R5_HIVEC_THRESHOLD = 0xFFFC0000      # xlnx_r5_remoteproc: bootaddr >= this -> HIVEC
XAMP_MAGIC = 0x78616D70              # 'xamp', .resource_table_metadata (formats.md 2.6.2)
# Every Zephyr image has these output sections (include/zephyr/linker/common-rom/) and
# this kernel function; PLAT-02 looks at the names first (free), the symbol table last.
ZEPHYR_SECTIONS = ('initlevel', 'device_area')
ZEPHYR_SYMBOL = 'z_cstart'

U32 = struct.Struct('<I')
CARVEOUT = struct.Struct('<IIIIII32s')    # type da pa len flags reserved name
TRACE = struct.Struct('<IIII32s')         # type da len reserved name
VDEV = struct.Struct('<IIIIIIBB2s')       # type id notifyid dfeatures gfeatures config_len ...
VRING = struct.Struct('<IIIII')           # da align num notifyid reserved
XAMP = struct.Struct('<iIII')             # version magic comp_magic rsc_tbl_size; then
                                          # rsc_tbl, a uintptr_t (4 or 8 bytes)


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
    def label(self) -> str:
        return f'rsc entry {self.index} ({TYPE_NAMES.get(self.type, f"type {self.type}")})'


def hexr(start: int, end: int) -> str:
    return f'[{start:#x},+{end - start:#x})'


def overlapping(items) -> list:
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


def vring_size(num: int, align: int) -> int:
    """Bytes of a split virtqueue (formats.md section 3). Deliberately not
    layout.vring_size: the checker re-derives what it verifies."""
    return ((18 * num + 6 + align - 1) & ~(align - 1)) + 8 * num + 6


def is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def c_name(raw: bytes) -> str:
    return raw.split(b'\0', 1)[0].decode('ascii', 'replace')

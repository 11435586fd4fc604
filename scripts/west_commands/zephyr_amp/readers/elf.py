"""Firmware ELF -> ElfFacts: loadable segments (by p_paddr, as both loaders place
them) and the entries of its .resource_table (formats.md 2), read through
elfread (amp-validate's reader)."""

import struct

from .. import facts as F
from ..elfread import ElfImage
from ..errors import InputError

ELF_MAGIC = b"\x7fELF"
_U32 = struct.Struct("<I")
_CARVEOUT = struct.Struct("<IIIIII32s")
_TRACE = struct.Struct("<IIII32s")
_VDEV = struct.Struct("<IIIIIIBB2s")
_VRING = struct.Struct("<IIIII")
_TYPES = {0: "carveout", 1: "devmem", 2: "trace", 3: "vdev"}


def is_elf(path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == ELF_MAGIC


def read(path, display: str) -> F.ElfFacts:
    try:
        image = ElfImage.open(path)
    except OSError as e:
        raise InputError(display, 0, 0, "", f"cannot read it: {e.strerror}") from None
    with image:
        if image.ehdr is None:
            what = image.damage[0].message if image.damage else "not a readable ELF"
            raise InputError(display, 0, 0, "", what, "give the zephyr.elf of the build")
        out = F.ElfFacts(display, machine=str(image.ehdr.e_machine))
        for ph in image.phdrs:
            if ph.p_type == "PT_LOAD" and ph.p_memsz:
                out.segments.append(F.Region(
                    f"segment {ph.index}", ph.p_paddr, ph.p_memsz, "segment",
                    F.Where(display, 0, f"PT_LOAD {ph.index}"), owner=display))
        secs = image.sections_named(".resource_table")
        if secs:
            sec = secs[0]
            out.table = F.Region(".resource_table", sec.sh_addr, sec.sh_size, "rsc_table",
                                 F.Where(display, 0, ".resource_table"), owner=display)
            data = image.read(sec.sh_offset, sec.sh_size)
            out.entries = _entries(data, display)
    return out


def _entries(data, display):
    if len(data) < 16:
        return []
    _ver, n = struct.unpack_from("<II", data, 0)
    out = []
    for i in range(min(n, (len(data) - 16) // 4)):
        off = _U32.unpack_from(data, 16 + 4 * i)[0]
        if off + 4 > len(data):
            continue
        where = F.Where(display, 0, f".resource_table entry {i} at +{off:#x}")
        kind = _TYPES.get(_U32.unpack_from(data, off)[0], "other")
        e = F.RscEntry(kind, where)
        try:
            _fields(e, data, off)
        except struct.error:
            continue
        out.append(e)
    return out


def _fields(e, data, off):
    if e.type in ("carveout", "devmem"):
        _, da, pa, ln, flags, _, name = _CARVEOUT.unpack_from(data, off)
        e.fields = {"da": da, "pa": pa, "len": ln, "flags": flags, "name": _str(name)}
    elif e.type == "trace":
        _, da, ln, _, name = _TRACE.unpack_from(data, off)
        e.fields = {"da": da, "len": ln, "name": _str(name)}
    elif e.type == "vdev":
        _, vid, notifyid, dfeat, _, cfg, _, nvr, _ = _VDEV.unpack_from(data, off)
        e.fields = {"id": vid, "notifyid": notifyid, "dfeatures": dfeat, "config_len": cfg}
        for j in range(nvr):
            da, align, num, nid, _ = _VRING.unpack_from(data, off + _VDEV.size + j * _VRING.size)
            e.vrings.append({"da": da, "align": align, "num": num, "notifyid": nid})


def _str(raw):
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")

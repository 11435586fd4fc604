"""The two other files a generated (or hand-made) setup has: the HVL device process's
<link>.hvl.json -> facts.HvlLink (side "device"), and a C header's #define lines ->
facts.HeaderFacts (amp_layout.h: the ivshmem BAR layout the firmware is built with).
"""

import json
import re

from .. import facts as F
from ..errors import InputError

HVL_FORMAT = "zephyr-amp-hvl-device"
_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)\s+(.+?)\s*(?:/\*.*|//.*)?$")
_NUMBER = re.compile(r"\(?\s*(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\s*\)?")


def is_json(text: str) -> bool:
    return text.lstrip().startswith("{")


def read_hvl(text: str, display: str) -> F.HvlLink:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(display, e.lineno, 0, "", f"is not valid JSON: {e.msg}",
                         "give the <link>.hvl.json amp-config wrote") from None
    if not isinstance(doc, dict) or doc.get("format") != HVL_FORMAT:
        raise InputError(display, 0, 0, "", f"is JSON but not an HVL device file (format "
                         f"{HVL_FORMAT})", "give the <link>.hvl.json of the device side")
    where = F.Where(display, 0, "link")
    shm = _get(doc, ("shm",), display)
    out = F.HvlLink(_get(doc, ("link",), display), "device", display, where,
                    shm=F.Region(shm.get("dt_label") or "shm", _num(doc, ("shm", "base"),
                                 display), _num(doc, ("shm", "size"), display), "hvl_shm",
                                 F.Where(display, 0, "shm"), label=shm.get("dt_label")),
                    windows=None, vrings=_area(doc, "vrings", display),
                    pool=_area(doc, "pool", display), shm_name=shm.get("name"),
                    driver=doc.get("driver"), device=doc.get("device"))
    ipi = doc.get("ipi") or {}
    out.ipi = ipi.get("zephyr_label")
    out.ipi_where = F.Where(display, 0, "ipi.zephyr_label")
    for k, w in enumerate(_get(doc, ("windows",), display)):
        out.devices.append(_device(doc, k, w, display))
    out.devices.sort(key=lambda d: d.base)
    return out


def _device(doc, k, w, display):
    p = ("windows", k)
    dev = F.HvlDevice(_get(doc, p + ("device",), display), _num(doc, p + ("base",), display),
                      _num(doc, p + ("size",), display),
                      F.Where(display, 0, f"windows[{k}] {w.get('device')}"),
                      device_id=_num(doc, p + ("device_id",), display),
                      queue_size=_num(doc, p + ("queue_size",), display),
                      buffer_size=_num(doc, p + ("buffer_size",), display))
    for j, q in enumerate(_get(doc, p + ("queues",), display)):
        qp = p + ("queues", j)
        dev.queues.append(F.HvlQueue(_num(doc, qp + ("index",), display),
                                     _num(doc, qp + ("base",), display),
                                     _num(doc, qp + ("size",), display),
                                     F.Where(display, 0, f"windows[{k}].queues[{j}] "
                                             f"{dev.name}")))
    return dev


def _area(doc, key, display):
    return _num(doc, (key, "base"), display), _num(doc, (key, "size"), display)


def _get(doc, path, display):
    v = doc
    for k in path:
        ok = isinstance(v, dict) and k in v or isinstance(v, list) and \
            isinstance(k, int) and k < len(v)
        if not ok:
            key = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in path)[1:]
            raise InputError(display, 0, 0, "", f"the HVL device file has no {key}",
                             "give the whole <link>.hvl.json amp-config wrote")
        v = v[k]
    return v


def _num(doc, path, display):
    v = _get(doc, path, display)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        key = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in path)[1:]
        raise InputError(display, 0, 0, "", f"{key} in the HVL device file is {v!r}, not a "
                         "number", "give the <link>.hvl.json amp-config wrote")
    return v


def read_header(text: str, display: str) -> F.HeaderFacts:
    out = F.HeaderFacts(display)
    for n, line in enumerate(text.splitlines(), 1):
        m = _DEFINE.match(line)
        if not m:
            continue
        raw = m[2].strip()
        num = _NUMBER.fullmatch(raw)
        if num:
            value = int(num[1], 16) if num[1][:2] in ("0x", "0X") else int(num[1])
        elif len(raw) >= 2 and raw[0] == raw[-1] == '"':
            value = raw[1:-1]
        else:
            continue
        out.defines[m[1]] = (value, F.Where(display, n))
    return out

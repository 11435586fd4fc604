"""Link kinds: one module per YAML link type (and transport), found through a registry.

    rpmsg.py            type: rpmsg                      OpenAMP rpmsg over shared memory
    virtio_native.py    type: virtio-mmio, native        QEMU's own virtio-mmio transports
    hvl.py              type: virtio-mmio, hvl           hypervisorless virtio in shared memory
    ivshmem.py          type: ivshmem                    rpmsg between two QEMU instances
    base.py             the LinkKind interface and the records stages hand each other

A new kind is a LinkKind subclass registered with register(); nothing in model.py,
layout.py or render.py changes (docs/architecture.md).
"""

from __future__ import annotations

import copy
from typing import Optional

from .base import LinkKind, LinkRecord

_KINDS: list = []


def register(kind: LinkKind) -> LinkKind:
    """Add a kind (an instance); a later kind for the same type/transport replaces it."""
    unregister(kind.type, kind.transport)
    _KINDS.append(kind)
    return kind


def unregister(type_: str, transport: Optional[str] = None) -> None:
    _KINDS[:] = [k for k in _KINDS if (k.type, k.transport) != (type_, transport)]


def kinds() -> list:
    """Every registered kind, in registration order."""
    return list(_KINDS)


def types() -> list:
    """The YAML link types, in registration order."""
    out = []
    for k in _KINDS:
        if k.type not in out:
            out.append(k.type)
    return out


def keys_of_type(type_: str) -> set:
    """The keys (beyond name and type) any kind of this type accepts."""
    return set().union(*(k.keys for k in _KINDS if k.type == type_))


def kind_for(type_: str, transport: Optional[str] = None) -> LinkKind:
    """The kind of a YAML link: its type, and its transport when the type has several."""
    of_type = [k for k in _KINDS if k.type == type_]
    if transport is None:
        return next((k for k in of_type if k.default), of_type[0])
    return next(k for k in of_type if k.transport == transport)


def kind_of(link: LinkRecord) -> LinkKind:
    """The kind of a model link record (or of a LinkLayout's link)."""
    return kind_for(link.type, getattr(link, "transport", None))


def transports(type_: str) -> list:
    of_type = [k for k in _KINDS if k.type == type_ and k.transport]
    return [k.transport for k in sorted(of_type, key=lambda k: not k.default)]


def system_schema(base: dict) -> dict:
    """schema/system.yaml (base, a fresh copy: it is changed in place) with each kind's
    keys merged into the links mapping: name and type first, then the kinds' keys in
    registration order, then the rest of the base."""
    schema = base
    item = schema["mapping"]["links"]["sequence"][0]
    old = item["mapping"]
    mapping = {k: old[k] for k in ("name", "type")}
    mapping["type"]["enum"] = types()
    for kind in _KINDS:
        for key, rule in kind.schema.items():
            if key in mapping and mapping[key] != rule:
                raise ValueError(f"{kind!r} gives key {key} another rule")
            mapping.setdefault(key, copy.deepcopy(rule))
    for key, rule in old.items():
        mapping.setdefault(key, rule)
    ts = [t for type_ in types() for t in transports(type_)]
    if ts and "transport" in mapping:
        mapping["transport"] = dict(mapping["transport"], enum=list(dict.fromkeys(ts)))
    item["mapping"] = mapping
    return schema


def _register_builtin() -> None:
    from . import hvl, ivshmem, rpmsg, virtio_native
    for kind in (rpmsg.KIND, hvl.KIND, virtio_native.KIND, ivshmem.KIND):
        register(kind)


_register_builtin()

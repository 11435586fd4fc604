"""layout.json read back (Layout.from_json()): amp-validate and amp-build check against
the layout amp-config wrote. What layout.json states of the system, its domains and the
links' mailboxes comes back as the small records here, not as the model's and the
board's: reading a layout needs neither the system YAML nor the board files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .layout import DomainLayout, Layout, Region


@dataclass(frozen=True)
class BoardRef:
    """The board as layout.json names it."""
    name: str


@dataclass(frozen=True)
class SystemRef:
    """The system as layout.json names it (Layout.system of a layout read back)."""
    name: str
    board: BoardRef


@dataclass
class MailboxRef:
    """A link's mailbox as layout.json states it: the board's name and Zephyr labels."""
    name: str
    between: list = field(default_factory=list)
    zephyr_label: str = None
    zephyr_parent: str = None
    linux: object = None


@dataclass
class ClusterRef:
    """A domain's cluster as layout.json states it: its loader's platform, boot vectors."""
    platform: Optional[str] = None
    boot: Optional[dict] = None


@dataclass
class DomainRef:
    """A domain as layout.json states it (DomainLayout.domain of a layout read back):
    the fields of model.Domain that layout.json has, without the model and the board."""
    name: str
    os: str
    cores: list
    target: str = None
    mode: str = None
    loader: str = None
    firmware: object = None
    trace: int = 0
    carveouts: list = field(default_factory=list)
    cluster: Optional[ClusterRef] = None
    trace_name: str = None
    arch: str = None
    path: tuple = ()

    @property
    def core(self) -> str:
        return self.cores[0]


def _domain_from_json(name: str, d: dict, regions: dict) -> DomainLayout:
    # what amp-validate reads may be written by hand: the keys not every domain
    # needs (target, mode, arch, sram, ...) may be left out
    cluster = ClusterRef(d.get("platform"), d.get("boot")) \
        if d.get("platform") or d.get("boot") else None
    load = [regions[n] for n in d.get("load_regions") or ()]
    trace = next((r for r in regions.values() if r.kind == "trace" and r.owner == name), None)
    dom = DomainRef(name, d["os"], list(d["cores"]), d.get("target"), d.get("mode"),
                    d.get("loader"), trace=trace.size if trace else 0, cluster=cluster,
                    arch=d.get("arch"))
    sram = (d["sram"]["address"], d["sram"]["size"]) if d.get("sram") else None
    return DomainLayout(dom, d["role"], load, sram, trace=trace, elf=d.get("elf"),
                        carveouts=[r for r in load if r.kind == "carveout"], qemu=d.get("qemu"))


def read_json(doc: dict) -> Layout:
    """The typed Layout of a layout.json document (Layout.from_json())."""
    from . import links as links_mod
    from .firmware import table_from_json
    if doc.get("format") != "zephyr-amp-layout" or doc.get("version") != 1:
        raise ValueError("not a zephyr-amp layout.json (format zephyr-amp-layout, version 1)")
    regions = [Region.from_json(r) for r in doc["regions"]]
    by_name = {r.name: r for r in regions}
    links = [links_mod.kind_for(d["type"], d.get("transport")).layout_class.from_json(d, by_name)
             for d in doc["links"]]
    domains = {n: _domain_from_json(n, d, by_name) for n, d in doc["domains"].items()}
    for n, t in doc["resource_tables"].items():
        domains[n].rsc_table = table_from_json(n, t, by_name, links)
    s = doc["system"]
    return Layout(SystemRef(s["name"], BoardRef(s["board"])), doc["page_size"], regions,
                  domains, links, s["source"])

"""What a link kind adds to the generated files: the records its zephyr(), linux() and
run() return, which render.merge() merges per domain. Only rendering imports this
module (the kinds import it inside those methods): a check makes no files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class MemoryNode:
    """A devicetree memory node: templates write its reg from addr and size."""
    label: str
    addr: int
    size: int
    comment: str
    compatible: tuple = ()
    region_name: Optional[str] = None
    no_map: bool = False
    name: str = "memory"


@dataclass(frozen=True)
class Kconfig:
    symbol: str
    value: str
    why: str


@dataclass(frozen=True)
class Define:
    """#define AMP_<name>: value is an int written as hex (or decimal with
    decimal=True), or a str written as a C string."""
    name: str
    value: Any
    comment: str
    decimal: bool = False


@dataclass(frozen=True)
class Block:
    """A piece of devicetree a kind's own template writes: template name and its data."""
    template: str
    data: Any


@dataclass(frozen=True)
class LinkerSource:
    """A linker script fragment amp.cmake adds with zephyr_linker_sources()."""
    file: str
    comment: tuple        # lines of the comment above it


@dataclass
class Zephyr:
    """A kind's contributions to one Zephyr domain's files; render merges them."""
    chosen: list = field(default_factory=list)          # (property, label), chosen node
    chosen_extra: list = field(default_factory=list)    # (property, label), after the nodes
    root_nodes: list = field(default_factory=list)      # [MemoryNode] under /
    reserved: list = field(default_factory=list)        # [MemoryNode] in reserved-memory
    enable: list = field(default_factory=list)          # labels to set status = "okay"
    enable_extra: list = field(default_factory=list)    # the same, at the end of the file
    blocks: list = field(default_factory=list)          # [Block] device nodes
    kconfig: list = field(default_factory=list)         # [Kconfig]
    defines: list = field(default_factory=list)         # [Define]
    linker_sources: list = field(default_factory=list)  # [LinkerSource]
    files: dict = field(default_factory=dict)           # name in the domain's dir -> text
    qemu_bus: list = field(default_factory=list)        # QEMU arguments for a bus
    qemu_devices: list = field(default_factory=list)    # qemu.args.j2 device entries
    qemu_ivshmem: list = field(default_factory=list)    # qemu.args.j2 ivshmem entries


@dataclass(frozen=True)
class LinuxNode:
    """A reserved-memory node of a Linux overlay (always 2 cells)."""
    label: str
    name: str
    addr: int
    size: int
    comment: str
    compatible: tuple = ()


@dataclass(frozen=True)
class LinuxRemote:
    """A remote processor a Linux domain loads (loads=True), or more of what it maps."""
    domain: str
    memory_region: tuple = ()       # labels, in order
    reserved: tuple = ()            # [LinuxNode]
    mailbox: Any = None             # boards.Mailbox
    loads: bool = True


@dataclass
class Linux:
    """A kind's contributions to one Linux domain's overlay."""
    remotes: list = field(default_factory=list)       # [LinuxRemote]
    reserved: list = field(default_factory=list)      # [LinuxNode]
    mailboxes: list = field(default_factory=list)     # [boards.Mailbox] whose APU node it needs
    blocks: list = field(default_factory=list)        # [Block]
    files: dict = field(default_factory=dict)         # path relative to the output -> text


@dataclass
class Run:
    """System-wide runtime contributions: files and ivshmem-server entries."""
    files: dict = field(default_factory=dict)
    servers: list = field(default_factory=list)

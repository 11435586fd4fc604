"""What there is to start a system from, as text: the bundled systems and a board's
facts (cores, clusters and their modes, memories, mailboxes, virtio-mmio transports),
for `west amp-config --list-systems` and `--board-facts BOARD`."""

from __future__ import annotations

from pathlib import Path

import yaml

from .boards import REPO_ROOT, Board

SYSTEMS_DIR = REPO_ROOT / "systems"


def list_systems(directory=None) -> str:
    """One line per bundled system: name, board, path, description."""
    directory = Path(directory or SYSTEMS_DIR)
    rows = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            data = {}
        data = data if isinstance(data, dict) else {}
        rows.append((str(data.get("name", path.stem)), str(data.get("board", "?")),
                     str(path), " ".join(str(data.get("description", "")).split())))
    if not rows:
        return f"no systems in {directory}\n"
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = [f"{n:<{w0}}  {b:<{w1}}  {p}" + (f"\n{'':<{w0}}  {'':<{w1}}  {d}" if d else "")
             for n, b, p, d in rows]
    return "\n".join(lines) + "\n"


def _hex(n):
    return f"0x{n:08x}"


def _size(n):
    for unit, div in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return str(n)


def board_facts(board: Board) -> str:
    """What a system YAML can name on a board, as text."""
    lines = [f"board {board.name}: {board.description}", f"  file: {board.path}", "",
             "cores (domains[].cores):"]
    for c in board.cores.values():
        target = f", Zephyr target {c.zephyr_target}" if c.zephyr_target else ""
        lines.append(f"  {c.name:<8} {c.cpu} ({c.arch}) in cluster {c.cluster}; "
                     f"os: {', '.join(c.os)}{target}")
    for cl in board.clusters.values():
        if not cl.modes:
            continue
        default = f" (default when mode: is left out: {cl.default_mode})" \
            if cl.default_mode else ""
        lines += ["", f"cluster {cl.name} modes (domains[].mode){default}:"]
        members = [c.name for c in board.cores.values() if c.cluster == cl.name]
        for mode, per_core in cl.modes.items():
            for core, banks in per_core.items():
                tcm = ", ".join(f"{b.name} {_hex(b.base)} (local {_hex(b.view)}) "
                                f"{_size(b.size)}" for b in banks)
                lines.append(f"  {mode:<9} {core}: {tcm}")
            taken = [c for c in members if c not in per_core]
            if taken:
                lines.append(f"  {'':<9} {mode}: the domain naming {', '.join(per_core)} "
                             f"also takes {', '.join(taken)}; no other domain may use it")
    lines += ["", "memories (firmware.memory, shared-memory[].memory):"]
    for m in board.memory:
        shared = ", shared" if m.shared else ""
        alloc = f", allocation from {_hex(m.alloc_from)}" if m.alloc_from is not None else ""
        by = "".join(f"; {_size(n)} with Zephyr {v}" for v, n in m.by_zephyr)
        lines.append(f"  {m.name:<8} {m.kind:<5} {_hex(m.base)}..{_hex(m.end)} "
                     f"{_size(m.size)}{shared}{alloc}{by}")
    if board.mailboxes:
        lines += ["", "mailboxes (links[].mailbox, links[].ipi):"]
        lines += [f"  {mb.name:<10} between {', '.join(mb.between)}" for mb in board.mailboxes]
    if board.virtio_mmio:
        v = board.virtio_mmio
        lines += ["", (f"virtio-mmio transports (devices[].slot): {v.slots} slots at "
                       f"{_hex(v.base)} + N x {_hex(v.stride)}, SPI {v.first_spi} + N")]
        lines += [f"  slot {slot}: {kind} devices (Zephyr's board.cmake attaches one there)"
                  for kind, slot in v.board_slots]
    return "\n".join(lines) + "\n"

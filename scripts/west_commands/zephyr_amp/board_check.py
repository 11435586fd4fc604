"""The checks of a board file the schema cannot make (boards.load_board() runs them
after schema/board.yaml): the page size a power of two, names unique, every name that
refers to a core, cluster mode or IPI agent resolved, numbers that reach a devicetree
cell, a GIC SPI or a PCI ID in range. A board under --board-root is user input: each
of these was a traceback (ZeroDivisionError, KeyError, TypeError) or a broken overlay.
"""

from __future__ import annotations

from .source import Source, did_you_mean, parse_size


def check_references(src: Source, d: dict) -> None:
    """What the schema cannot say: names unique, and every name that refers to a core,
    cluster mode or IPI agent names one of this board (else a KeyError later)."""
    _page_size(src, d)
    if d["name"] != src.path.stem:
        raise src.error(("name",), f"the board is called {d['name']} in a file named "
                        f"{src.path.name}; a system's board: names the file, and layout.json "
                        "and the messages name the board", f"write name: {src.path.stem}")
    for key in ("cores", "clusters", "memory", "ipi", "mailboxes"):
        _unique_names(src, d, key)
    cores = {c["name"]: c for c in d["cores"]}
    ipis = {p["name"] for p in d.get("ipi", [])}
    clusters = {c["name"] for c in d.get("clusters", [])}
    for i, c in enumerate(d.get("clusters", [])):
        _check_cluster(src, ("clusters", i), c, cores)
    for i, p in enumerate(d.get("ipi", [])):
        if "core" in p:
            _known(src, ("ipi", i, "core"), p["core"], cores, "core")
    _virtio_spis(src, d)
    _pci_ids(src, d)
    for i, m in enumerate(d.get("mailboxes", [])):
        for j, agent in enumerate(m["between"]):
            _known(src, ("mailboxes", i, "between", j), agent, [*cores, *clusters, *ipis],
                   "core, cluster or IPI agent")
        for side in ("local", "remote"):
            if m.get("linux"):
                _known(src, ("mailboxes", i, "linux", side), m["linux"][side], ipis,
                       "IPI agent")
        if m.get("linux") and len(m["linux"].get("buffers") or []) != 4:
            raise src.error(("mailboxes", i, "linux", "buffers"), "the Linux node of an IPI "
                            "mailbox has four message buffers (local request, local response, "
                            "remote request, remote response)", "give their four addresses")


def _virtio_spis(src: Source, d: dict) -> None:
    """Transport N interrupts on SPI first-spi + N: the last one is a GIC SPI (0..987)."""
    v = d.get("virtio-mmio")
    if v and v["first-spi"] + v["slots"] - 1 > 987:
        raise src.error(("virtio-mmio", "slots"), f"{v['slots']} transports from SPI "
                        f"{v['first-spi']} end at SPI {v['first-spi'] + v['slots'] - 1}, past "
                        "987, the last GIC SPI", f"use at most {988 - v['first-spi']} slots")


def _pci_ids(src: Source, d: dict) -> None:
    """PCI vendor and device IDs are 16 bits (the overlay's vendor-id / device-id)."""
    for key in ("vendor-id", "device-id"):
        try:
            n = parse_size((d.get("ivshmem") or {}).get(key, 0))
        except ValueError:
            continue            # load_board() says what is wrong with it
        if n > 0xffff:
            raise src.error(("ivshmem", key), f"{n:#x} is not a 16-bit PCI ID",
                            "use QEMU's ivshmem IDs, vendor 0x1af4 and device 0x1110")


def _unique_names(src: Source, d: dict, key: str) -> None:
    seen = {}
    for i, item in enumerate(d.get(key) or []):
        if item["name"] in seen:
            raise src.error((key, i, "name"), f"'{item['name']}' is already defined "
                            f"({key}[{seen[item['name']]}])", "give each its own name")
        seen[item["name"]] = i


def _known(src: Source, path: tuple, name: str, names, what: str) -> None:
    if name not in names:
        raise src.error(path, f"no {what} named '{name}' on this board",
                        did_you_mean(name, list(names)) or "use one of: " + ", ".join(names))


def _check_cluster(src: Source, p: tuple, c: dict, cores: dict) -> None:
    modes = c.get("modes") or {}
    if modes and "default-mode" not in c:
        raise src.error(p, "a cluster with modes needs a default-mode (a domain that gives "
                        "no mode: runs in it)", "add default-mode: " + " or ".join(modes))
    if modes and c["default-mode"] not in modes:
        raise src.error(p + ("default-mode",), f"the default mode {c['default-mode']} is "
                        "not one of the cluster's modes", "use " + " or ".join(modes))
    for mode, per_core in modes.items():
        for core in per_core:
            _known(src, p + ("modes", mode, core), core, cores, "core")
    if c.get("linux-node"):
        for core in (n for n, x in cores.items() if x["cluster"] == c["name"]):
            if not core.rpartition("_")[2].isdigit():
                raise src.error(p + ("linux-node",), f"core {core} of a cluster with a "
                                "linux-node needs its index at the end of its name (r5_0): "
                                "it is the unit address of its remoteproc node",
                                f"rename it {core}_0")
        for core in c["linux-node"].get("power-domains") or {}:
            _known(src, p + ("linux-node", "power-domains", core), core, cores, "core")


def _page_size(src: Source, d: dict) -> None:
    """The board's page size: every base is aligned to it, so a power of two (0 was a
    ZeroDivisionError in the layout)."""
    try:
        n = parse_size(d["page-size"])
    except ValueError:
        return                  # load_board() says what is wrong with it
    if n <= 0 or n & (n - 1):
        raise src.error(("page-size",), f"page size {d['page-size']} is not a power of two",
                        "use the MMU's page size, such as 4K")

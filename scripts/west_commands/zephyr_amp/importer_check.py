"""amp-import's check of its own result: the imported YAML through model and layout,
and every reservation of the inputs compared with the region the layout gives (a
difference is a Loss). A mixin of importer.Importer, kept apart for size."""

import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import facts as F
from . import layout as layout_mod
from . import model
from .errors import InputError


@dataclass
class Note:
    """A change (--prefer) or a loss (the format cannot express it)."""
    what: str
    where: F.Where
    why: str = ""

    def line(self) -> str:
        return f"{self.where}: {self.what}" + (f" ({self.why})" if self.why else "")


class Checking:
    """The methods of Importer that lay its YAML out and compare (self is an Importer)."""

    def _lay_out(self, text):
        with tempfile.TemporaryDirectory(prefix="amp-import-") as tmp:
            path = Path(tmp) / f"{self.name}.yaml"
            path.write_text(text)
            try:
                system = model.load_system(path, self.board_roots, display=f"{self.name}.yaml")
                return layout_mod.place(system)
            except InputError as e:
                raise InputError(e.file, e.line, e.column, e.key,
                                 f"the imported system does not fit board "
                                 f"{self.board.name}: {e.what}", e.fix or
                                 "check --board, or fix the inputs") from None

    def _link_regions(self, lay, name):
        lk = next((x for x in lay.links if x.link.name == name), None)
        return lk.vdev if lk is not None else None

    def _misplaced(self, lay):
        for name, s, v in self.links():
            vd = self._link_regions(lay, name)
            base, _size = self._block(s, v)
            if vd is None or vd.vrings[0].region.base != base:
                return True
            if "vring0" in v and [x.base for x in (v["vring1"], v["buffer"])] != \
                    [vd.vrings[1].region.base, vd.buffers.base]:
                return True
        for s in self.specs:
            fw = lay.region(f"{s.name}_fw")
            if s.firmware and "base" in s.firmware and (fw is None or fw.base !=
                                                        s.firmware["base"]):
                return True
        return False

    def _compare(self, lay):
        for name, s, v in self.links():
            vd = self._link_regions(lay, name)
            if vd is None:
                continue
            if "shm" in v:
                shm = next(x.shm for x in lay.links if x.link.name == name)
                if (shm.base, shm.size) != (v["shm"].base, v["shm"].size):
                    self.res.losses.append(Note(
                        f"zephyr,ipc_shm {v['shm'].span()} became {shm.span()}", v["shm"].where,
                        "the format sizes a link's region from its vrings and buffers"))
                continue
            got = [vd.vrings[0].region, vd.vrings[1].region, vd.buffers]
            for want, r in zip((v["vring0"], v["vring1"], v["buffer"]), got):
                if (want.base, want.size) != (r.base, r.size):
                    self.res.losses.append(Note(
                        f"{want.name} of {s.remote.path}: the inputs reserve "
                        f"{want.span()}, the system gives {r.span()}", want.where,
                        _why(want, v, self._num_align(v), self.page)))
        for s in self.specs:
            fw = s.firmware or {}
            r = lay.region(f"{s.name}_fw")
            if "base" in fw and (r is None or (r.base, r.size) != (fw["base"], fw["size"])):
                self.res.losses.append(Note(
                    f"firmware of {s.name}: {F.span(fw['base'], fw['size'])} became "
                    f"{r.span() if r else 'TCM'}",
                    s.remote.where if s.remote else F.Where(s.zephyr.name)))
            if s.elf is not None:
                self._compare_table(s, lay.domains[s.name].rsc_table)
        self._compare_hvl(lay)
        self._compare_ivshmem(lay)

    def _pin_tables(self, lay):
        """firmware: {table: ADDR} where a firmware's .resource_table is not where the
        layout would put it. -> whether any was pinned."""
        pinned = False
        for s in self.specs:
            table = lay.domains[s.name].rsc_table
            e = s.elf
            if e is None or e.table is None or table is None or s.firmware is None:
                continue
            if e.table.base != table.address:
                s.firmware["table"] = e.table.base
                s.comments["table"] = f"{e.table.where}: .resource_table"
                pinned = True
        return pinned

    def _lay_out_tables(self, pools):
        """The system with the tables pinned; where an address does not fit (the slot
        leaves the firmware memory), without them: _compare_table names the loss."""
        try:
            self.res.text = self._yaml(pools)
            self.res.layout = self._lay_out(self.res.text)
        except InputError:
            for s in self.specs:
                (s.firmware or {}).pop("table", None)
            self.res.text = self._yaml(pools)
            self.res.layout = self._lay_out(self.res.text)

    def _compare_table(self, s, table):
        """What the firmware's .resource_table says that the layout decides itself."""
        e = s.elf
        if table is None or e.table is None:
            return
        if e.table.base != table.address:
            self.res.losses.append(Note(
                f"the firmware's .resource_table is at {e.table.base:#x}, the system puts "
                f"it at {table.address:#x}", e.table.where, "the layout places the table at "
                "the top of the firmware memory, or at firmware: {table: ADDR} when the "
                "trace buffer below it and the table fit inside the firmware memory's "
                "top region"))
        trace = e.trace()
        got = next((x for x in table.entries if x.type == "trace"), None)
        if trace is not None and got is not None and \
                trace.fields["name"] != got.fields["name"]:
            self.res.losses.append(Note(
                f"the trace buffer is named {trace.fields['name']!r}", trace.where,
                "a trace entry's name in trace: {size: SIZE, name: NAME} is 1 to 31 "
                "printable characters, no quote or backslash"))
        mine = [x for x in table.entries if x.type == "vdev"]
        for got, want in zip(e.vdevs(), mine):
            ids = [got.fields["notifyid"]] + [v["notifyid"] for v in got.vrings]
            new = [want.fields["notifyid"]] + [v.notifyid for v in want.vdev.vrings]
            if ids != new:
                self.res.losses.append(Note(
                    f"notify IDs (vdev, vrings) {ids} become {new}", got.where,
                    "the layout numbers vrings 2k, 2k+1 and vdevs after them"))


def _why(want, v, num_align, page):
    num, align = num_align
    if want.kind == "vring":
        derived = layout_mod.align_up(layout_mod.vring_size(num, align), page)
        if want.size < derived:
            return (f"a vring's reservation is at least PAGE_ALIGN(vring_size({num}, "
                    f"{align})) = {derived:#x}: the vring the firmware's table describes "
                    "does not fit")
        if want.size != derived:
            return ("vring: {reserve: SIZE} sizes both vrings alike, in whole "
                    f"{page:#x}-byte pages")
        return "the vrings or buffers overlap, or leave the board's memory"
    if want.size % page:
        return f"the buffer pool is a whole number of {page:#x}-byte pages"
    return "the buffers' reservation is at least the buffers Linux allocates"

"""One check of one image: the rule phases in order, then one finding per defect."""

from __future__ import annotations

from .compare import LayoutRules
from .entries import EntryRules
from .placement import PlacementRules
from .rules import Findings
from .segments import SegmentRules
from .table import TableRules

# Rules whose finding can be a consequence of another error on the same object:
# a ring already misplaced (VRING-05) or too big (VRING-04) then also overlaps
# (VRING-07/08); those are attached to the first finding ("also: ...").
CONSEQUENCES = ('VRING-07', 'VRING-08', 'ENT-02', 'LAY-01')
CAUSES = ('VRING-04', 'VRING-05', 'VRING-06', 'VRING-10', 'ENT-02', 'TRACE-02')


class Checker(SegmentRules, PlacementRules, TableRules, EntryRules, LayoutRules):
    """Runs the rule phases over one image; each phase returns findings."""

    def __init__(self, image, target, loader: str | None = None, strict_table: bool = False):
        self.image = image
        self.target = target
        self.loader = loader
        self.strict_table = strict_table
        self.finding = Findings(loader)
        self.loads = []
        self.layout_checks = False
        self._label_index = None
        self._high = None               # spans VRING-10 looks for cut addresses in

    def run(self) -> list:
        return one_per_defect(self.phases())

    def phases(self) -> list:
        image = self.image
        out = [self.finding(d.rule, d.message, d.obj, ranges=d.ranges,
                            file_ranges=d.file_ranges) for d in image.damage]
        if image.ehdr is None:
            return out
        self.loads = [p for p in image.phdrs if p.p_type == 'PT_LOAD']
        out += self.container()
        loaded = any(p.p_memsz for p in self.loads)   # else ELF-08 says it all
        if self.target is not None:
            wrong_core = self.core_mismatch()
            out += wrong_core
            # An image for another core: placement findings would only repeat ELF-05.
            self.layout_checks = not wrong_core
        out += self.segments()
        if self.layout_checks and loaded:
            out += self.placement()
        if image.shdrs is None:
            return out                  # ELF-07 said why; nothing section-based can run
        out += self.table(loaded)
        out += self.attach_metadata()
        if self.layout_checks:
            out += self.hvl()
        return out


def one_per_defect(findings: list) -> list:
    """Attach each consequence finding (CONSEQUENCES) that concerns an object
    an earlier error (CAUSES) is about to that error, as "also: ...";
    the rest keep their order."""
    causes = []
    out = []
    for f in findings:
        if f.rule in CONSEQUENCES:
            cause = next((c for c in causes if concerns(f, c)), None)
            if cause is not None:
                cause.also.append(f'{f.rule} {f.message}')
                continue
        if f.severity == 'error' and f.rule in CAUSES and f.obj:
            causes.append(f)
        out.append(f)
    return out


def concerns(f, cause) -> bool:
    """Whether finding ``f`` is about the object ``cause`` is about: the same
    object (or a field of it), or a ring it names (vdevN/vringM)."""
    obj = cause.obj.split(' field ')[0]
    if f.obj == obj or f.obj.startswith(obj + ' '):
        return True
    words = set(f.message.split()) | {f.obj}
    return any(name in words for name in cause.names)

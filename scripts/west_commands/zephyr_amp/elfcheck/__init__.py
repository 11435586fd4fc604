"""ELF checks for remote-core firmware: will this image load, and load where the system says?

``check_elf(path, layout=None, domain=None, loader=None)`` applies the rule
catalogue of ../shared/docs/loader-rules.md (rule IDs, default severities,
what each loader does) to one ELF and returns a ``Report`` of ``Finding``s:

- always: the container rules (ELF-01..04, 06..08), the segment rules
  (SEG-01..03, 05, 06, 10), the placement of ``.resource_table`` (RSC-01..06,
  RSC-04 including "sh_addr is where its bytes load"), its header
  (HDR-01..06) and its entries (ENT-01, TRACE-01/02, VDEV-01..04, VRING-01/02/
  03/06/07/08 and the symmetric half of VRING-09), VRING-10 for a 64-bit
  image's addresses cut to 32 bits, and PLAT-01 (the Xilinx attach metadata,
  when the image has ``.resource_table_metadata``);
- with a layout (a typed zephyr_amp.layout.Layout, as amp-config lays it out
  or Layout.from_json() reads it back; or the dict of a layout.json,
  docs/layout-json.md) and a domain:
  ELF-05, SEG-04, SEG-07, SEG-08, SEG-09, SEG-11, RSC-07, ENT-02, ENT-03,
  VRING-04/05, the vrings the host allocates (``da`` ANY) placed where the
  layout puts them, the buffer pool of VRING-09, VRING-10 for what the layout
  puts at or above 4 GiB, TRACE-02 against the load regions, PLAT-01's place
  (xlnx), PLAT-02, LAY-01 (the table's entries against the layout's, matched
  by meaning) and HVL-01.

One defect gives one finding: what follows from an error already reported
(a misplaced ring that then overlaps the buffers) is attached to it
(``Finding.also``). LAY-01 and HVL-01 are this checker's own IDs. A damaged
file ends in findings (ELF-0x), never in an exception; ``ElfCheckError``
means the check could not run at all (the file cannot be opened, the domain
is not in the layout).

Modules: rules (catalogue, Finding, Report), target (the layout as a domain
sees it), segments, placement, table, entries, compare (the rule phases, as
mixins of checker.Checker), util (constants and helpers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..elfread import ElfImage
from .checker import Checker
from .rules import LINUX, OPENAMP, RULES, Act, Finding, Report, Rule
from .target import Area, ElfCheckError, Target
from .util import vring_size

if TYPE_CHECKING:
    from ..layout import Layout

__all__ = ['LINUX', 'OPENAMP', 'RULES', 'Act', 'Area', 'ElfCheckError', 'Finding', 'Report',
           'Rule', 'Target', 'check_elf', 'vring_size']


def check_elf(path, layout: 'Layout | dict | None' = None, domain: str | None = None,
              loader: str | None = None, strict_table: bool = False) -> Report:
    """Check the ELF at ``path``; with ``layout`` and ``domain`` also against
    the system. ``loader`` ('linux-remoteproc' | 'openamp') overrides the
    domain's loader: whose behaviour each finding states, and the severities
    that depend on it (SEG-05, VDEV-04). ``strict_table``: every difference
    from the layout's table is a LAY-01 error."""
    target = None if layout is None else Target.from_layout(layout, domain) \
        if isinstance(layout, dict) else Target.from_typed(layout, domain)
    if target is None and domain is not None:
        raise ElfCheckError(f'domain {domain!r} given without a layout; '
                            'pass --system or --layout as well')
    if loader is None and target is not None:
        loader = target.loader
    try:
        image = ElfImage.open(path)
    except OSError as e:
        raise ElfCheckError(f'{path}: cannot read the ELF: {e.strerror or e}') from e
    with image:
        findings = Checker(image, target, loader, strict_table).run()
    return Report(str(path), domain, findings, image.parser)

"""The image against the layout: the table entry by entry (LAY-01) and the
hypervisorless virtio symbols and sections (HVL-01).

Entries are matched by meaning, not position: a vdev by its index among the
vdevs, a carveout by name or else by address, a trace entry by type. What both
sides must agree on (a vdev's id, dfeatures and vring count; a vring's num and
align; a carveout's da and len) is an error; what the host assigns or nobody
reads (notify IDs, names, a carveout's pa and flags, where the trace buffer
is, the order of the entries, entries the layout does not have) is one info
finding, or errors with ``strict_table``. A vring's da is VRING-05's.
"""

from .rules import Act
from .util import ADDR_ANY, TYPE_NAMES

MUST_AGREE = {'vdev': ('id', 'dfeatures', 'num_of_vrings'), 'carveout': ('da', 'len'),
              'trace': (), 'vring': ('num', 'align')}
MAY_DIFFER = {'vdev': ('notifyid', 'config_len'), 'carveout': ('name', 'pa', 'flags'),
              'trace': ('name', 'da', 'len'), 'vring': ('notifyid',)}
HEX_KEYS = ('da', 'pa', 'len', 'flags', 'align', 'dfeatures')
_LOOSE = Act('none', None, 'assigns notify IDs and pa itself and reads names, the trace '
             'entry and the order from the table')


def match_entries(entries: list, wanted: list) -> dict:
    """{image entry index: layout entry} for the entries that mean the same."""
    matches = {}
    vdevs = [w for w in wanted if w.get('type') == 'vdev']
    traces = [w for w in wanted if w.get('type') == 'trace']
    carveouts = [w for w in wanted if w.get('type') == 'carveout']
    image_vdevs = [e for e in entries if e.fields and TYPE_NAMES.get(e.type) == 'vdev']
    for e, w in zip(image_vdevs, vdevs):
        matches[e.index] = w
    image_traces = [e for e in entries if e.fields and TYPE_NAMES.get(e.type) == 'trace']
    for e, w in zip(image_traces, traces):
        matches[e.index] = w
    free = list(carveouts)
    for e in (e for e in entries if e.fields and TYPE_NAMES.get(e.type) == 'carveout'):
        w = (next((w for w in free if w.get('name') == e.fields['name']), None)
             or next((w for w in free if w.get('da') == e.fields['da'] != ADDR_ANY), None))
        if w is not None:
            free.remove(w)
            matches[e.index] = w
    return matches


def _show(key, value):
    return f'{value:#x}' if isinstance(value, int) and key in HEX_KEYS else repr(value)


class LayoutRules:
    """Mixin of Checker: comparisons with what amp-config generated."""

    def layout_table(self, entries: list, reported: set) -> list:
        """LAY-01 (see the module docstring); differences in objects another
        rule already reported (``reported``) are left out."""
        wanted = list(self.target.table.get('entries') or ())
        matches = self.matches
        errors, loose = [], []
        for e in entries:
            w = matches.get(e.index)
            if w is None:
                if e.fields:
                    loose.append((e.label, f'{e.label} is not in the layout\'s table'))
                continue
            kind = TYPE_NAMES[e.type]
            self.compare_fields(e.label, kind, e.fields, w, errors, loose)
            for j, (have, want) in enumerate(zip(e.fields.get('vrings') or (),
                                                 w.get('vrings') or ())):
                self.compare_fields(f'{e.label} vring {j}', 'vring', have, want, errors, loose)
        found = [id(w) for w in matches.values()]
        for i, w in enumerate(wanted):
            if id(w) in found:
                continue
            what = f'the layout\'s {w.get("type")} entry {i} is not in the table'
            if w.get('type') == 'vdev':
                errors.append(self.finding('LAY-01', what + ': its link cannot come up',
                                           '.resource_table'))
            else:
                loose.append(('.resource_table', what))
        order = [wanted.index(matches[e.index]) for e in entries if e.index in matches]
        if order != sorted(order):
            loose.append(('.resource_table',
                          "the entries are in another order than the layout's"))
        def fresh(obj):
            return not any(obj == o or obj.startswith(o + ' ') for o in reported)

        return ([f for f in errors if fresh(f.obj)]
                + self.loose_differences([(o, t) for o, t in loose if fresh(o)]))

    def compare_fields(self, label, kind, have, want, errors, loose) -> None:
        for key in MUST_AGREE[kind]:
            if key in have and key in want and have[key] != want[key]:
                errors.append(self.finding('LAY-01', f'{key} is {_show(key, have[key])}, the '
                                           f'layout says {_show(key, want[key])}',
                                           f'{label} field {key}'))
        for key in MAY_DIFFER[kind]:
            if key in have and key in want and have[key] != want[key]:
                text = (f'{label} {key} is {_show(key, have[key])}, the layout says '
                        f'{_show(key, want[key])}')
                loose.append((f'{label} field {key}', text))

    def loose_differences(self, loose: list) -> list:
        """One info finding for what the loaders do not care about, or (strict)
        one error each."""
        if not loose:
            return []
        if self.strict_table:
            return [self.finding('LAY-01', text + ' (--strict-table)', obj)
                    for obj, text in loose]
        return [self.finding('LAY-01', 'the table differs from the layout\'s only where the '
                             'loaders do not care: ' + '; '.join(text for _, text in loose),
                             '.resource_table', severity='info', linux=_LOOSE, openamp=_LOOSE)]

    def hvl(self):
        """HVL-01: pool symbols and .shared.vring sections where the layout says."""
        out = []
        for link in self.target.hvl:
            pool = link.get('pool')
            if not pool:
                continue
            base, end = pool['base'], pool['base'] + pool['size']
            want = dict(link.get('symbols') or {})
            want.setdefault('__shmem0_pool_start', base)
            want.setdefault('__shmem0_end', end)
            if link.get('vring_section_base') is not None:
                want.setdefault('__shmem0_start', link['vring_section_base'])
            for sym, value in sorted(want.items()):
                have = self.image.symbol(sym)
                if have != value:
                    what = 'is missing' if have is None else f'is {have:#x}'
                    out.append(self.finding('HVL-01', f'{sym} {what}, the layout says {value:#x}',
                                       f'symbol {sym}', [(base, end)], link.get('name')))
            sections = {s.name: s for s in self.image.shdrs
                        if s.name.startswith('.shared.vring')}
            queues = [q for d in link.get('devices') or () for q in d.get('queues') or ()
                      if q.get('section')]
            if not sections:
                out.append(self.finding('HVL-01',
                                        'no .shared.vring section; the HVL vrings must be '
                                   'linked at the start of the shared region', '.shared.vring',
                                   region=link.get('name')))
                continue
            for q in queues:
                s = sections.get(q['section'])
                if s is not None and s.sh_addr != q['base']:
                    out.append(self.finding('HVL-01', f'{s.name} is at {s.sh_addr:#x}, the layout '
                                       f'says {q["base"]:#x} ({q.get("region")})', s.name,
                                       [(s.sh_addr, s.sh_addr + s.sh_size)], link.get('name')))
        return out

"""The layout (a layout.json document, docs/layout-json.md) as one domain sees it."""

from dataclasses import dataclass

from ..errors import UsageError


class ElfCheckError(UsageError):
    """The check could not run: unreadable file, unknown domain, bad layout."""


@dataclass(frozen=True)
class Area:
    """A layout region as one domain addresses it: [start, end) in its view.
    ``dt_name`` is the devicetree node name Linux knows it by (vdev0vring0)."""

    name: str
    start: int
    end: int
    kind: str
    owner: str
    base: int
    dt_name: str = None
    space: str = 'phys'

    @property
    def title(self) -> str:
        """How messages name it: as Linux does, the layout name in parentheses."""
        if self.dt_name and self.dt_name != self.name:
            return f'{self.dt_name} ({self.name})'
        return self.name


@dataclass
class Target:
    """What the layout says about one domain, in that domain's address view."""

    name: str
    core: str
    elf: dict
    loader: str
    platform: str
    boot: dict
    page_size: int
    load: list          # [Area] the loader can map, one carveout each
    areas: list         # [Area] every region of the system
    table: dict         # layout["resource_tables"][domain] or None
    table_place: dict   # domain["resource_table"] or None
    vdevs: dict         # vdev index -> link["vdev"]
    hvl: list           # HVL links of this domain

    @classmethod
    def from_layout(cls, layout: dict, domain: str) -> 'Target':
        """The domain's view of a layout.json document; ElfCheckError when it has
        no such domain or is malformed."""
        if not isinstance(layout, dict) or not isinstance(layout.get('domains'), dict):
            raise ElfCheckError('the layout has no "domains" object; is it a layout.json?')
        domains = layout['domains']
        if domain is None or domain not in domains:
            names = ', '.join(sorted(domains)) or 'none'
            what = 'no domain given' if domain is None else f'no domain {domain!r} in the layout'
            raise ElfCheckError(f'{what}; choose --domain from: {names}')
        dom = domains[domain]
        try:
            areas = [Area(r['name'], view, view + r['size'], r.get('kind'), r.get('owner'),
                          r['base'], r.get('dt_name'), r.get('space', 'phys'))
                     for r in layout.get('regions', ())
                     for view in [(r.get('views') or {}).get(domain, r['base'])]]
            by_name = {a.name: a for a in areas}
            load = [by_name[n] for n in dom.get('load_regions') or ()]
        except (KeyError, TypeError) as e:
            raise ElfCheckError(f'layout is malformed: {e!r} in regions or load_regions') from e
        links = [ln for ln in layout.get('links') or ()
                 if domain in (ln.get('remote'), ln.get('host'))
                 or domain in (ln.get('domains') or ())]
        vdevs = {ln['vdev'].get('index', 0): dict(ln['vdev'], link=ln.get('name'))
                 for ln in links if ln.get('vdev') and ln.get('remote', domain) == domain}
        return cls(name=domain, core=(dom.get('cores') or [domain])[0], elf=dom.get('elf'),
                   loader=dom.get('loader'), platform=dom.get('platform'),
                   boot=dom.get('boot'), page_size=layout.get('page_size') or 4096,
                   load=load, areas=areas,
                   table=(layout.get('resource_tables') or {}).get(domain),
                   table_place=dom.get('resource_table'), vdevs=vdevs,
                   hvl=[ln for ln in links if ln.get('transport') == 'hvl'
                        and ln.get('driver', domain) == domain])

    @classmethod
    def from_typed(cls, layout, domain: str) -> 'Target':
        """The domain's view of a typed layout (zephyr_amp.layout.Layout: what
        amp-config laid out, or Layout.from_json() of its layout.json). The
        link-level facts the rules read (a vdev, an HVL link) are in the form of
        their layout.json entries (LinkLayout.to_json()), as from_layout() has them."""
        from .. import links as links_mod
        if domain is None or domain not in layout.domains:
            names = ', '.join(sorted(layout.domains)) or 'none'
            what = 'no domain given' if domain is None else f'no domain {domain!r} in the layout'
            raise ElfCheckError(f'{what}; choose --domain from: {names}')
        dl = layout.domains[domain]
        dom = dl.domain
        zephyr = dom.os == 'zephyr'
        areas = [Area(r.name, r.view(domain), r.view(domain) + r.size, r.kind, r.owner,
                      r.base, r.dt_name, r.space) for r in layout.regions]
        by_name = {a.name: a for a in areas}
        mine = [lk for lk in layout.links
                if domain in links_mod.kind_of(lk.link).domains(lk.link)]
        vdevs = {v.index: dict(v.to_json(), link=lk.link.name)
                 for lk in mine for v in lk.vdevs(domain)}
        entries = [lk.to_json() for lk in mine]
        cluster = dom.cluster if zephyr else None
        table = dl.rsc_table
        return cls(name=domain, core=(list(dom.cores) or [domain])[0],
                   elf=dl.elf if zephyr else None, loader=dom.loader if zephyr else None,
                   platform=cluster.platform if cluster else None,
                   boot=dict(cluster.boot) if cluster and cluster.boot else None,
                   page_size=layout.page_size or 4096,
                   load=[by_name[r.name] for r in dl.load_regions], areas=areas,
                   table=table.to_json() if table else None,
                   table_place={'region': table.region.name, 'address': table.address,
                                'size': table.size} if table else None,
                   vdevs=vdevs,
                   hvl=[ln for ln in entries if ln.get('transport') == 'hvl'
                        and ln.get('driver', domain) == domain])

    def area(self, name: str) -> 'Area | None':
        return next((a for a in self.areas if a.name == name), None)

    def load_area_holding(self, start: int, end: int) -> 'Area | None':
        """The one load region that holds [start, end), or None."""
        return next((a for a in self.load if a.start <= start and end <= a.end), None)


"""Firmware with a resource table written by hand (handwritten.c), not by
amp-config, built with the real cross compilers, checked against the system
YAML a user would write for it (systems/*.yaml here).

The clean image of each target has what amp-config would not write but the
loaders accept: an extra leading carveout (the buffer pool, named as Linux's
devicetree names it), its own notify IDs and its own trace name. Each variant
adds ONE defect from issue 12 and must give exactly one error, its rule.
"""

from dataclasses import dataclass, field
from pathlib import Path

from elf import firmware as fw

HERE = Path(__file__).parent
SYSTEMS = {'r5': (HERE / 'systems' / 'kv260-handwritten.yaml', 'rpu0', []),
           'a53': (HERE / 'systems' / 'qemu-a53-handwritten.yaml', 'zep', [HERE / 'boards'])}
# What hw_r5.h / hw_a53.h and the link below hard-code, to be found in the
# system's layout: (region, base in the domain's view).
PINNED = {'r5': {'rpmsg0_vring0': 0x3ED40000, 'rpmsg0_vring1': 0x3ED41000,
                 'rpmsg0_buffers': 0x3ED42000, 'rpu0_trace': 0x3E000,
                 'rpu0_rsc_table': 0x3F000},
          'a53': {'rpmsg0_vring0': 0x47400000, 'rpmsg0_vring1': 0x47401000,
                  'rpmsg0_buffers': 0x47402000, 'zep_trace': 0x473FE000,
                  'zep_rsc_table': 0x473FF000, 'zep_fw': 0x47000000}}
LINKS = {
    'r5': {'defines': {'NO_TRACE_BUF': None}, 'ld_defines': {'RSC_ADDR': '0x3f000'}},
    'a53': {'defines': {}, 'ld_defines': {'TEXT_ADDR': '0x47000000', 'RSC_ADDR': '0x473ff000',
                                          'FW_ORIGIN': '0x47000000', 'FW_LENGTH': '4M'}},
}


@dataclass
class Variant:
    """One hand-written image: ``rule`` the one error it must give with the
    system (None: clean), ``message`` a piece of it, ``loader`` for --loader."""

    id: str
    target: str
    rule: str = None
    message: str = ''
    defines: dict = field(default_factory=dict)
    patch: object = None
    loader: str = None


def _move_table(data, by=0x800):
    """The .resource_table section's sh_addr moved while its bytes stay put."""
    import io

    from zephyr_amp.elfread import ElfImage
    with ElfImage.from_stream(io.BytesIO(data)) as image:
        (sec,) = image.sections_named('.resource_table')
    return fw.set_shdr(data, sec.index, sh_addr=sec.sh_addr + by)


VARIANTS = [
    Variant('r5-clean', 'r5'),
    Variant('a53-clean', 'a53'),
    Variant('r5-vring-too-big', 'r5', 'VRING-04', 'vdev0/vring0 needs 0x2000 bytes (num 256, '
            'align 0x10), region vdev0vring0 (rpmsg0_vring0) has 0x1000',
            defines={'HW_NUM0': 256}),
    Variant('a53-vring-too-big', 'a53', 'VRING-04', 'region vdev0vring0 (rpmsg0_vring0) has '
            '0x1000', defines={'HW_NUM0': 256}),
    Variant('r5-vring-on-buffers', 'r5', 'VRING-05', 'vdev0/vring1 da is 0x3ed42000, the layout '
            'expects 0x3ed41000 (or ANY) in vdev0vring1 (rpmsg0_vring1)',
            defines={'HW_VRING1_DA': '0x3ed42000'}),
    Variant('a53-vring-on-buffers', 'a53', 'VRING-05', 'vdev0/vring1 da is 0x47402000',
            defines={'HW_VRING1_DA': '0x47402000'}),
    Variant('r5-table-moved', 'r5', 'RSC-04', '.resource_table sh_addr is 0x3f800 but its bytes '
            '(file offset', patch=_move_table),
    Variant('a53-table-moved', 'a53', 'RSC-04', '.resource_table sh_addr is 0x473ff800',
            patch=_move_table),
    Variant('r5-align-0', 'r5', 'VRING-03', 'vring align 0x0 is not a power of two',
            defines={'HW_ALIGN0': 0}),
    Variant('r5-trace-nowhere', 'r5', 'TRACE-02', 'trace buffer [0x50000,+0x1000) is not inside '
            'a PT_LOAD segment or a carveout or a load region of rpu0',
            defines={'HW_TRACE_DA': '0x50000'}),
    Variant('r5-truncated', 'r5', 'ELF-07', 'file truncated: section header table ends at',
            patch=lambda d: d[:-8]),
    Variant('r5-notify-duplicate-openamp', 'r5', 'VDEV-04', 'notify ID 1 is also used by '
            'rsc entry 1 (vdev) vring 0 field notifyid', defines={'HW_VRING1_NOTIFYID': 1},
            loader='openamp'),
]


def build(variant, out):
    """The variant's ELF in ``out``."""
    t = variant.target
    link = LINKS[t]
    elf = fw.build(t, out, variant.id, dict(link['defines'], **variant.defines),
                   link['ld_defines'], table_header=HERE / f'hw_{t}.h',
                   sources=[HERE / fw.TARGETS[t]['main'], HERE / 'handwritten.c'])
    if variant.patch:
        elf = fw.patched(elf, Path(out) / f'{variant.id}-patched.elf', variant.patch)
    return elf

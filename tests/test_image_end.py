"""amp_sections.ld leaves Zephyr's end-of-image symbols inside zephyr,sram.

Zephyr's linker scripts include the zephyr_linker_sources(SECTIONS ...) fragments
(snippets-sections.ld) before they set the end of the image: _image_ram_end and _end,
where a heap may start. Both ways Zephyr's scripts set them are linked here with the
real GNU ld, after the generated amp_sections.ld, for every Zephyr domain with a table:
- at the top level of SECTIONS (`_end = .;`), which takes the location counter;
- inside `.last_ram_section (NOLOAD) : { _end = .; } > RAM` (include/zephyr/linker/
  ram-end.ld).
RAM is the domain's zephyr,sram (AMP_SRAM_BASE/SIZE of amp_layout.h), as Zephyr makes
its MEMORY from the devicetree; the table slot lies outside it. _end (read with
pyelftools) must be inside RAM, after the image's data, and .resource_table still at the
layout's address.
"""

import re
import subprocess

import pytest

from conftest import need_tool
from helpers import ALL_SYSTEMS, generated, layout_json, system_id, zephyr_domains  # noqa: F401

ELFFile = pytest.importorskip("elftools.elf.elffile").ELFFile

# core architecture -> (GNU ld, assembler)
TOOLS = {"arm": ("arm-none-eabi-ld", "arm-none-eabi-as"),
         "aarch64": ("aarch64-linux-gnu-ld", "aarch64-linux-gnu-as")}

IMAGE_S = """\
	.text
	.global _start
_start:
	b _start
	.data
	.fill 0x40, 1, 0x5a
	.section .resource_table, "aw"
	.fill 0x40, 1, 0
	.bss
	.fill 0x100, 1, 0
"""

SCRIPT = """\
MEMORY
{{
	RAM (rwx) : ORIGIN = {base:#x}, LENGTH = {size:#x}
}}
ENTRY(_start)
SECTIONS
{{
	.text : {{ *(.text*) }} > RAM
	.data : {{ *(.data*) }} > RAM
	.bss (NOLOAD) : {{ *(.bss*) }} > RAM
	__data_end = .;
	INCLUDE amp_sections.ld
{end}
	/DISCARD/ : {{ *(.ARM.attributes) *(.note*) }}
}}
"""

TOP_LEVEL = "\t_image_ram_end = .;\n\t_end = .;"
IN_SECTION = ("\t.last_ram_section (NOLOAD) : {\n\t\t_image_ram_end = .;\n\t\t_end = .;\n"
              "\t} > RAM")


def _cases():
    from helpers import TEST_BOARDS
    from zephyr_amp import config
    out = []
    for system in ALL_SYSTEMS:
        try:
            layout = config.layout_for(system, [TEST_BOARDS])
        except Exception:   # noqa: BLE001 - reported by the tests that generate it
            continue
        out += [(system, d) for d in zephyr_domains(layout)
                if layout["domains"][d]["resource_table"]]
    return out


CASES = _cases()


def _define(header, name):
    return int(re.search(rf"^#define {name} (0x[0-9a-fA-F]+|\d+)", header, re.M).group(1), 0)


def _symbols(elf_path, names):
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        out = {n: symtab.get_symbol_by_name(n)[0]["st_value"] for n in names}
        sec = elf.get_section_by_name(".resource_table")
        out[".resource_table"] = sec["sh_addr"]
        return out


@pytest.mark.parametrize("form", ["top-level", "last_ram_section"])
@pytest.mark.parametrize("system, domain", CASES,
                         ids=[f"{system_id(s)}/{d}" for s, d in CASES])
def test_end_of_image_stays_in_sram(system, domain, form, generated, tmp_path):  # noqa: F811
    out = generated(system)
    layout = layout_json(out)
    dom = layout["domains"][domain]
    ld, asm = (need_tool(t) for t in TOOLS[dom["arch"]])
    gen = out / domain
    header = (gen / "amp_layout.h").read_text()
    base, size = _define(header, "AMP_SRAM_BASE"), _define(header, "AMP_SRAM_SIZE")
    (tmp_path / "image.s").write_text(IMAGE_S)
    (tmp_path / "link.ld").write_text(SCRIPT.format(
        base=base, size=size, end=TOP_LEVEL if form == "top-level" else IN_SECTION))
    for cmd in ([asm, "image.s", "-o", "image.o"],
                [ld, "-L", str(gen), "-T", "link.ld", "--no-warn-rwx-segments",
                 "image.o", "-o", "image.elf"]):
        r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 0, f"{' '.join(map(str, cmd))}\n{r.stdout}{r.stderr}"
    sym = _symbols(tmp_path / "image.elf", ["_end", "_image_ram_end", "__data_end"])
    assert sym[".resource_table"] == dom["resource_table"]["address"]
    for name in ("_end", "_image_ram_end"):
        assert base <= sym[name] <= base + size, (
            f"{name} = {sym[name]:#x}, outside zephyr,sram [{base:#x}, {base + size:#x}) "
            f"(.resource_table at {sym['.resource_table']:#x})")
        assert sym[name] >= sym["__data_end"], f"{name} is before the end of the image data"

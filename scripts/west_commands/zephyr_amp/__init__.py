"""zephyr_amp: the library behind `west amp-config`, `west amp-validate` and `west amp-build`.

Data flows one way, one module per stage:

    source.py   YAML text -> plain data + positions (file, line, column of every key)
    boards.py   board data (boards/*.yaml and user board roots)
    model.py    system YAML -> validated System (schema/system.yaml + semantic checks)
    layout.py   System -> Layout: every region's address and size, vrings, tables
    render.py   Layout -> generated files (templates/), written all or nothing
    memmap.py   Layout -> memory-map picture (SVG) and terminal table
    config.py   the pipeline end to end (what `west amp-config` calls)
    elfcheck.py ELF + layout -> findings (what `west amp-validate` calls)
"""

from pathlib import Path as _Path

__version__ = "0.1.0"


def origin() -> str:
    """Which library runs: printed by every command with -v."""
    return f"zephyr_amp {__version__} from {_Path(__file__).resolve().parent}"

"""The amp-config pipeline end to end: file -> System -> Layout -> files.

The west command and amp-build call these; nothing here prints or exits.
"""

from dataclasses import dataclass
from pathlib import Path

from . import layout as layout_mod
from . import model, render


@dataclass
class Result:
    system: object        # model.System
    layout: object        # layout.Layout
    files: dict           # relative path -> text
    out_dir: Path = None  # where they were written, None for --check


def default_out_dir(system_name, base="build"):
    return Path(base) / "amp" / system_name


def configure(system_path, board_roots=(), display=None):
    """Validate and lay out a system; render its files in memory."""
    system = model.load_system(system_path, board_roots, display=display)
    lay = layout_mod.place(system)
    return Result(system, lay, render.render(lay))


def generate(system_path, out_dir=None, board_roots=(), display=None):
    """configure(), then write every file into out_dir (all or nothing)."""
    result = configure(system_path, board_roots, display=display)
    out = Path(out_dir) if out_dir else default_out_dir(result.system.name)
    render.write_outputs(result.files, out)
    result.out_dir = out
    return result


def layout_for(system_path, board_roots=()):
    """The layout.json document of a system, as a dict (what amp-validate checks against)."""
    system = model.load_system(system_path, board_roots)
    return layout_mod.place(system).to_json()

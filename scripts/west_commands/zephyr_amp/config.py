"""The amp-config pipeline end to end: file -> System -> Layout -> files.

The west command and amp-build call these; nothing here prints or exits.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Iterable, Optional, Union

from . import layout as layout_mod
from . import model
from . import zephyr_version as zephyr_version_mod

PathArg = Union[str, PathLike]


class Result:
    """What configure() and check() give: the System, its Layout, the files made
    ({relative path: text}, none for --check) and where they were written."""

    def __init__(self, system: model.System, layout: layout_mod.Layout, files: dict,
                 out_dir: Optional[Path] = None):
        self.system = system
        self.layout = layout
        self.files = files
        self.out_dir = out_dir  # None for --check


def default_out_dir(system_name: str, base: PathArg = "build") -> Path:
    """<base>/amp/<system>. The west command should pass the workspace (or
    application) root as base, so that the output is outside build/, which
    `west build -p` deletes; "build" is the old default, kept until it does."""
    return Path(base) / "amp" / system_name


def configure(system_path: PathArg, board_roots: Iterable = (),
              display: Optional[str] = None,
              zephyr_version: str = zephyr_version_mod.DEFAULT) -> Result:
    """Validate and lay out a system; render its files in memory, for the targeted
    Zephyr ('MAJOR.MINOR': zephyr_version.target() finds the workspace's)."""
    result = check(system_path, board_roots, display, zephyr_version)
    from . import render  # jinja2 and the templates: only where files are made
    result.files = render.render(result.layout)
    return result


def check(system_path: PathArg, board_roots: Iterable = (),
          display: Optional[str] = None,
          zephyr_version: str = zephyr_version_mod.DEFAULT) -> Result:
    """Validate and lay out a system, rendering nothing (amp-config --check):
    a Result with no files."""
    system = model.load_system(system_path, board_roots, display=display,
                               zephyr_version=zephyr_version)
    return Result(system, layout_mod.place(system), {})


def generate(system_path: PathArg, out_dir: Optional[PathArg] = None,
             board_roots: Iterable = (), display: Optional[str] = None,
             base: PathArg = "build",
             zephyr_version: str = zephyr_version_mod.DEFAULT) -> Result:
    """configure(), then write every file into out_dir (all or nothing); without
    out_dir into default_out_dir(name, base)."""
    result = configure(system_path, board_roots, display=display,
                       zephyr_version=zephyr_version)
    out = Path(out_dir) if out_dir else default_out_dir(result.system.name, base)
    from .output import write_outputs
    write_outputs(result.files, out)
    result.out_dir = out
    return result


def layout_for(system_path: PathArg, board_roots: Iterable = ()) -> dict:
    """The layout.json document of a system, as a dict (what amp-validate checks against)."""
    system = model.load_system(system_path, board_roots)
    return layout_mod.place(system).to_json()


def read_layout(path: PathArg) -> layout_mod.Layout:
    """The typed Layout of a layout.json file amp-config wrote."""
    import json
    with open(path, encoding="utf-8") as f:
        return layout_mod.Layout.from_json(json.load(f))

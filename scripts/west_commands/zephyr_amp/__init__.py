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
    cli.py      the same commands without west (amp-config, python -m zephyr_amp ...)

This module imports nothing beyond the standard library, so that a command
file can import it first and still explain a missing dependency (see
missing_dependency()). The conventions every command follows are in
docs/conventions.md.
"""

import logging as _logging
from pathlib import Path as _Path

__version__ = "0.1.0"

# This checkout: the library sits in scripts/west_commands/zephyr_amp/.
REPO_ROOT = _Path(__file__).resolve().parents[3]
REQUIREMENTS = REPO_ROOT / "requirements.txt"

# import name -> the pip distribution that provides it (requirements.txt)
_DISTRIBUTIONS = {"jinja2": "jinja2", "pykwalify": "pykwalify", "elftools": "pyelftools",
                  "yaml": "PyYAML", "west": "west", "markupsafe": "jinja2"}


def origin() -> str:
    """Which library runs: printed by every command with -v."""
    return f"zephyr_amp {__version__} from {_Path(__file__).resolve().parent}"


def missing_dependency(exc: ImportError):
    """The one-line fix for an ImportError of a third-party dependency, or None
    when the missing module is not one of ours (then it is a bug: re-raise)."""
    top = (exc.name or "").split(".")[0]
    dist = _DISTRIBUTIONS.get(top)
    if dist is None:
        return None
    return f"missing Python package {dist}: pip install -r {REQUIREMENTS}"


class _ToCommand(_logging.Handler):
    """Library log records -> the west command's own output, by verbosity:
    warnings always (wrn), info with -v (dbg), debug with -vv."""

    def __init__(self, cmd):
        super().__init__(_logging.DEBUG)
        self.cmd = cmd

    def emit(self, record):
        from west.commands import Verbosity

        text = self.format(record)
        if record.levelno >= _logging.WARNING:
            self.cmd.wrn(text)
        elif record.levelno >= _logging.INFO:
            self.cmd.dbg(text)
        else:
            self.cmd.dbg(text, level=Verbosity.DBG_MORE)


def forward_logs(cmd) -> _logging.Handler:
    """Send the 'zephyr_amp' loggers' records through a WestCommand; replaces the
    handler an earlier call installed. Returns it (logging.getLogger("zephyr_amp")
    .removeHandler(h) undoes it). Records still propagate: a handler on the root
    logger (pytest's caplog) sees them too."""
    logger = _logging.getLogger("zephyr_amp")
    for h in list(logger.handlers):
        if isinstance(h, _ToCommand):
            logger.removeHandler(h)
    handler = _ToCommand(cmd)
    logger.addHandler(handler)
    logger.setLevel(_logging.DEBUG)
    return handler

"""The code of the library's dataclasses, compiled once and kept as bytecode is kept.

Defining a dataclass compiles its __init__, __repr__ and __eq__ (a frozen one also
__setattr__, __delattr__ and __hash__) from source text that dataclasses writes:
about 17 of the 23 ms it takes to import this library, at the start of every
command. Inside `with compiled():` dataclasses' calls to exec() get the code
object of that text from a cache instead of compiling it; the cache is one
marshal file in the library's __pycache__ (or under PYTHONPYCACHEPREFIX), written
unless PYTHONDONTWRITEBYTECODE says not, and keyed by the whole text: the same
text gives the same code, as compiling it would (with the flags dataclasses'
own exec() compiles with). Outside the block dataclasses is as it was.
"""

import __future__

import contextlib
import dataclasses
import functools
import marshal
import operator
from pathlib import Path
from types import CodeType
from typing import Optional

from . import pycache

MAX_ENTRIES = 4000      # texts kept; past it (many versions of the library) only this run's
# The __future__ flags dataclasses' own exec() compiles its text with: those of the
# dataclasses module's code (none today), as exec() of a string inherits them.
_FLAGS = dataclasses.dataclass.__code__.co_flags & functools.reduce(
    operator.or_, (getattr(__future__, f).compiler_flag for f in __future__.all_feature_names))


@contextlib.contextmanager
def compiled():
    """Define dataclasses with cached code while the block runs (one level: a nested
    block, or a Python without a bytecode cache tag, changes nothing)."""
    path = cache_path()
    if path is None or "exec" in vars(dataclasses):
        yield
        return
    codes = _read(path)
    used, added = set(), []

    def cached_exec(source, globals=None, locals=None):
        if type(source) is str:
            code = codes.get(source)
            if code is None:
                code = compile(source, "<string>", "exec", flags=_FLAGS, dont_inherit=True)
                codes[source] = code
                added.append(source)
            used.add(source)
            source = code
        return exec(source, globals, locals)

    dataclasses.exec = cached_exec      # found before the builtin by dataclasses' calls
    try:
        yield
    finally:
        del dataclasses.exec
    if added and pycache.may_write():
        _write(path, codes if len(codes) <= MAX_ENTRIES else {s: codes[s] for s in used})


def cache_path() -> Optional[Path]:
    """zephyr_amp/__pycache__/dataclasses.<cache tag>.marshal (or its place under
    PYTHONPYCACHEPREFIX); None where Python keeps no bytecode cache."""
    return pycache.path_for(Path(__file__), "dataclasses")


def _read(path: Path) -> dict:
    try:
        codes = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    if type(codes) is not dict:
        return {}
    return {k: v for k, v in codes.items() if type(k) is str and type(v) is CodeType}


def _write(path: Path, codes: dict) -> None:
    try:
        blob = marshal.dumps(codes)
    except ValueError:                  # pragma: no cover - code objects always marshal
        return
    pycache.write(path, blob)

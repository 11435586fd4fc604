"""Data this library keeps beside its bytecode (schema.cached_yaml(), render's templates):
where it goes and how it is written, as Python does for .pyc files."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Optional


def path_for(source: Path, name: str) -> Optional[Path]:
    """NAME.<cache tag>.marshal in the __pycache__ of source's folder (or its place
    under PYTHONPYCACHEPREFIX); None where Python keeps no bytecode cache."""
    tag = sys.implementation.cache_tag
    if tag is None:
        return None
    pyc = Path(importlib.util.cache_from_source(str(source)))
    return pyc.with_name(f"{name}.{tag}.marshal")


def folder(source: Path) -> Optional[Path]:
    """The __pycache__ folder of source's folder (or its place under
    PYTHONPYCACHEPREFIX); None where Python keeps no bytecode cache."""
    if sys.implementation.cache_tag is None:
        return None
    return Path(importlib.util.cache_from_source(str(source))).parent


def may_write() -> bool:
    """Whether Python writes bytecode here (not under PYTHONDONTWRITEBYTECODE)."""
    return not sys.dont_write_bytecode


def write(path: Path, blob: bytes) -> None:
    """The whole file or none (a temporary file moved into place, as py_compile
    does); a folder that cannot be written (a read-only install) is no error."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass

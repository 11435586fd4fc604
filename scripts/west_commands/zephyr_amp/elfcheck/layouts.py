"""Where amp-validate gets a layout from: a layout.json, or a system YAML laid
out by amp-config's own code (zephyr_amp.config.layout_for), remembered in a
cache keyed by every byte the layout depends on. Either way it becomes the
typed zephyr_amp.layout.Layout that amp-config writes (read_layout(),
layout_of()); the cache holds its JSON document.

Laying a system out imports the whole amp-config pipeline (YAML, schemas,
boards: ~0.1 s); the cached layout is one JSON read. The key is a SHA-256 of
the system file's bytes and path, the board roots and the bytes of every board
file in them, and the bytes of this library's sources and schemas, so any
change to any of them lays the system out again. A system with errors is never
cached: its errors come from amp-config every time. The cache lives in
$ZEPHYR_AMP_CACHE, else $XDG_CACHE_HOME/zephyr-amp, else ~/.cache/zephyr-amp;
ZEPHYR_AMP_CACHE=off turns it off. Nothing breaks when it cannot be written.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .target import ElfCheckError

if TYPE_CHECKING:
    from ..layout import Layout

LIBRARY = Path(__file__).resolve().parents[1]          # zephyr_amp/
BUNDLED_BOARDS = LIBRARY.parents[2] / 'boards'         # what boards.DEFAULT_BOARD_ROOT is


def read_layout(path) -> 'Layout':
    """The typed layout of the layout.json at ``path`` (what amp-config wrote)."""
    return typed(read_document(path), path)


def layout_of(system, board_roots=()) -> 'Layout':
    """The typed layout of the system YAML ``system`` (its JSON document cached)."""
    return typed(system_layout(system, board_roots), system)


def typed(doc: dict, where) -> 'Layout':
    """zephyr_amp.layout.Layout.from_json(doc); ElfCheckError when doc is no layout."""
    from ..layout import Layout
    if not isinstance(doc, dict) or not isinstance(doc.get('domains'), dict):
        raise ElfCheckError(f'{where}: the layout has no "domains" object; is it a layout.json?')
    try:
        return Layout.from_json(doc)
    except ValueError as e:
        raise ElfCheckError(f'{where}: {e}') from e
    except (KeyError, TypeError, AttributeError) as e:
        raise ElfCheckError(f'{where}: layout is malformed: {e!r}; write it again with '
                            'west amp-config') from e


def read_document(path) -> dict:
    """The layout.json document at ``path`` (docs/layout-json.md) as a dict."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except OSError as e:
        raise ElfCheckError(f'{path}: cannot read: {e.strerror}') from e
    except ValueError as e:
        raise ElfCheckError(f'{path}: not JSON: {e}') from e


def system_layout(system, board_roots=()) -> dict:
    """The layout.json document of the system YAML ``system``, as amp-config computes
    it: what the cache holds (layout_of() is its typed Layout)."""
    cache = _cache_dir()
    key = _key(system, board_roots) if cache is not None else None
    if key is not None:
        try:
            return json.loads((cache / f'{key}.json').read_text(encoding='utf-8'))
        except (OSError, ValueError):
            pass
    from .. import config  # the amp-config pipeline, only on a cache miss
    layout = config.layout_for(system, board_roots=list(board_roots))
    if key is not None:
        _store(cache, key, layout)
    return layout


def _cache_dir():
    where = os.environ.get('ZEPHYR_AMP_CACHE')
    if where == 'off':
        return None
    if where:
        return Path(where)
    base = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(base) / 'zephyr-amp' / 'layouts'


def _key(system, board_roots):
    """The digest of everything the layout depends on, or None when the
    system file cannot be read (amp-config then reports it)."""
    h = hashlib.sha256()
    try:
        h.update(Path(system).read_bytes())
    except OSError:
        return None
    h.update(str(system).encode() + b'\0')
    for root in [*map(Path, board_roots), BUNDLED_BOARDS]:
        h.update(str(root).encode() + b'\0')
        _hash_files(h, sorted(root.glob('*.yaml')) if root.is_dir() else [])
    _hash_files(h, sorted(LIBRARY.rglob('*.py')) + sorted(LIBRARY.rglob('*.yaml')))
    return h.hexdigest()


def _hash_files(h, paths):
    for p in paths:
        h.update(str(p).encode() + b'\0')
        try:
            h.update(p.read_bytes())
        except OSError:
            h.update(b'unreadable')


def _store(cache, key, layout):
    try:
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache, suffix='.tmp')
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(layout, f)
        os.replace(tmp, cache / f'{key}.json')
    except OSError:
        pass

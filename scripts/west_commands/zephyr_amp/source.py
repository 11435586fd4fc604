"""YAML text -> plain Python data, remembering where every key and value came from.

PyYAML's composer gives nodes with marks; we construct the data ourselves so
that we can refuse what a configuration file has no business containing
(duplicate keys, merge keys, tags such as !!python/object) and so that every
later error can name the file, line and column of the key it is about.
"""

import difflib
import re
from pathlib import Path

import yaml

from .errors import InputError

_TAG = "tag:yaml.org,2002:"
MAX_NODES = 250_000       # values in a file after alias expansion (a YAML bomb stops here)
MAX_DEPTH = 100           # reported when nesting exhausts Python's stack
_OPEN_TOKENS = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken,
                yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
_CLOSE_TOKENS = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}


def key_text(path):
    """('links', 0, 'vring', 'num') -> 'links[0].vring.num'."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


class Source:
    """A loaded YAML file: .data plus the position of every path in it."""

    def __init__(self, path, text=None, display=None):
        self.path = Path(path)
        self.display = str(display if display is not None else path)
        if text is None:
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise InputError(self.display, 0, 0, "", "no such file") from None
            except UnicodeDecodeError as e:
                raise InputError(self.display, 0, 0, "", f"not UTF-8 text ({e.reason})") from None
            except OSError as e:
                raise InputError(self.display, 0, 0, "", f"cannot read: {e.strerror}") from None
        self._values = {}   # path -> (line, column) of the value
        self._keys = {}     # path -> (line, column) of the key naming it
        self.data = self._load(text)

    # -- positions ---------------------------------------------------------

    def where(self, path, of_key=False):
        """(line, column) of a path; falls back to the nearest known parent."""
        path = tuple(path)
        while True:
            table = self._keys if of_key and path in self._keys else self._values
            if path in table:
                return table[path]
            if not path:
                return (0, 0)
            path = path[:-1]

    def error(self, path, what, fix="", of_key=False, cls=InputError):
        line, column = self.where(path, of_key=of_key)
        return cls(self.display, line, column, key_text(path), what, fix)

    # -- loading -----------------------------------------------------------

    def _load(self, text):
        try:
            nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            what = f"YAML syntax error: {e.problem or e.context}"
            if e.context and e.problem:
                what = f"YAML syntax error: {e.problem} ({e.context}"
                if e.context_mark and e.problem_mark and \
                        e.context_mark.line != e.problem_mark.line:
                    what += f" that starts on line {e.context_mark.line + 1}"
                what += ")"
            raise InputError(self.display, mark.line + 1 if mark else 0,
                             mark.column + 1 if mark else 0, "", what,
                             "check indentation, colons and quotes around that line") from None
        except yaml.YAMLError as e:
            raise InputError(self.display, 0, 0, "", f"YAML error: {e}") from None
        except RecursionError:
            raise self._too_deep(text) from None
        if not nodes or nodes[0] is None:
            raise InputError(self.display, 1, 1, "", "the file is empty",
                             "start from one of the files in systems/")
        if len(nodes) > 1:
            mark = nodes[1].start_mark
            raise InputError(self.display, mark.line + 1, mark.column + 1, "",
                             "more than one YAML document", "keep one document per file")
        constructor = yaml.SafeLoader("")
        self._budget = MAX_NODES
        try:
            return self._build(nodes[0], (), constructor)
        except RecursionError:
            raise self._too_deep(text) from None

    def _too_deep(self, text):
        """The error for nesting that exhausted Python's stack, where the nesting passes
        MAX_DEPTH (found with the scanner, which does not recurse; it is quadratic in
        the depth of flow lists, so it stops there)."""
        depth, mark = 0, None
        try:
            for tok in yaml.scan(text, Loader=yaml.SafeLoader):
                if isinstance(tok, _OPEN_TOKENS):
                    depth += 1
                    if depth > MAX_DEPTH:
                        mark = tok.start_mark
                        break
                elif isinstance(tok, _CLOSE_TOKENS):
                    depth -= 1
        except yaml.YAMLError:
            pass
        return InputError(self.display, mark.line + 1 if mark else 0,
                          mark.column + 1 if mark else 0, "",
                          f"YAML nested more than {MAX_DEPTH} levels deep",
                          "a system file needs a few levels of maps and lists")

    def _build(self, node, path, constructor):
        # Aliases (*x) share nodes; expanding them can blow up exponentially.
        self._budget -= 1
        if self._budget < 0:
            raise self._node_error(node, path, f"more than {MAX_NODES} values once YAML "
                                   "aliases are expanded", "write the values out, without "
                                   "nested aliases")
        self._values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            if node.tag != _TAG + "map":
                raise self._tag_error(node, path)
            result = {}
            for knode, vnode in node.value:
                if knode.tag == _TAG + "merge":
                    raise self._node_error(knode, path, "YAML merge keys (<<) are not supported",
                                           "write the keys out")
                if not isinstance(knode, yaml.ScalarNode) or knode.tag not in _SCALAR_TAGS:
                    raise self._node_error(knode, path, "a key must be a plain word")
                key = constructor.construct_object(knode)
                if not isinstance(key, str):
                    key = str(key)
                if key in result:
                    first = self._keys[path + (key,)]
                    raise self._node_error(knode, path + (key,),
                                           f"duplicate key (first given on line {first[0]})",
                                           "give each key once")
                self._keys[path + (key,)] = (knode.start_mark.line + 1,
                                             knode.start_mark.column + 1)
                result[key] = self._build(vnode, path + (key,), constructor)
            return result
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _TAG + "seq":
                raise self._tag_error(node, path)
            return [self._build(item, path + (i,), constructor)
                    for i, item in enumerate(node.value)]
        if node.tag not in _SCALAR_TAGS:
            raise self._tag_error(node, path)
        return constructor.construct_object(node)

    def _node_error(self, node, path, what, fix=""):
        return InputError(self.display, node.start_mark.line + 1, node.start_mark.column + 1,
                          key_text(path), what, fix)

    def _tag_error(self, node, path):
        tag = node.tag.replace(_TAG, "!!")
        return self._node_error(node, path, f"YAML tag {tag} is not allowed here",
                                "use plain maps, lists, numbers and strings")


# -- values ----------------------------------------------------------------

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_SIZE_RE = re.compile(r"^\s*(0x[0-9a-f][0-9a-f_]*|[0-9][0-9_]*)\s*([kmg]?)(?:i?b)?\s*$", re.I)


def parse_size(value):
    """64K, 1M, 0x4000, '4 KiB', 4096 -> int. Raises ValueError with the reason."""
    if isinstance(value, bool):
        raise ValueError("expected a size, not true/false")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        m = _SIZE_RE.match(value)
        if not m:
            raise ValueError(f"'{value}' is not a size")
        digits = m.group(1).replace("_", "")
        number = int(digits, 16 if digits[:2].lower() == "0x" else 10)  # 010K is 10 KiB
        number *= _UNITS[m.group(2).lower()]
    else:
        raise ValueError(f"expected a size, not {type(value).__name__} {value!r}")
    if number < 0:
        raise ValueError(f"{value} is negative")
    return number


def did_you_mean(word, choices):
    """', did you mean 'x'?' or '' when nothing is close."""
    close = difflib.get_close_matches(str(word), sorted(str(c) for c in choices), n=1,
                                      cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""

"""YAML text -> plain Python data, remembering where every key and value came from.

PyYAML's composer gives nodes with marks; we construct the data ourselves so
that we can refuse what a configuration file has no business containing
(duplicate keys, merge keys, tags such as !!python/object) and so that every
later error can name the file, line and column of the key it is about.
"""

import os
import re
import stat
from pathlib import Path

import yaml

from .errors import InputError

_TAG = "tag:yaml.org,2002:"
MAX_NODES = 250_000       # values in a file after alias expansion (a YAML bomb stops here)
MAX_DEPTH = 100           # levels of maps and lists
MAX_BYTES = 256 * 1024    # a system or board file is a few KiB; PyYAML composes ~100 KiB/s
# What YAML allows in a stream (YAML 1.1, as PyYAML's reader checks it)
_NOT_YAML = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd"
                       "\U00010000-\U0010ffff]")
_OCTAL = re.compile(r"[-+]?0[0-7_]+")
_KINDS = ((stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
          (stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISSOCK, "socket"))
_OPEN_TOKENS = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken,
                yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
_CLOSE_TOKENS = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}
_STR_TAG = _TAG + "str"


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
        self._check_name()
        text = self._decode(self._read()) if text is None else text
        self._check_text(text)
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

    # -- reading -----------------------------------------------------------

    def _fail(self, what, fix="", line=0, column=0):
        return InputError(self.display, line, column, "", what, fix)

    def _check_name(self):
        """The file's own name is copied into the generated files (banners, layout.json):
        no control character, no byte that is not UTF-8."""
        name = self.path.name
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise self._fail("the file name is not UTF-8", "rename the file") from None
        bad = next((ch for ch in name if not ch.isprintable() and ch != " "), None)
        if bad is not None:
            raise self._fail(f"the file name holds control character {_escaped(bad)}",
                             "rename the file")

    def _read(self):
        """The bytes of a regular file of at most MAX_BYTES; anything else is refused
        before it is opened for long (a FIFO would block, /dev/zero never ends)."""
        try:
            st = os.stat(self.path)
        except (FileNotFoundError, NotADirectoryError):
            raise self._fail("no such file") from None
        except (OSError, ValueError) as e:
            raise self._fail(f"cannot read: {getattr(e, 'strerror', None) or e}") from None
        self._check_kind(st)
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                         | getattr(os, "O_BINARY", 0))
        except OSError as e:
            raise self._fail(f"cannot read: {e.strerror}") from None
        try:
            self._check_kind(os.fstat(fd))      # the same file as stat() saw
            chunks, size = [], 0
            while size <= MAX_BYTES:
                chunk = os.read(fd, MAX_BYTES + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except OSError as e:
            raise self._fail(f"cannot read: {e.strerror}") from None
        finally:
            os.close(fd)
        data = b"".join(chunks)
        self._check_size(len(data))
        return data

    def _check_kind(self, st):
        if stat.S_ISDIR(st.st_mode):
            raise self._fail("is a directory, not a YAML file", "give the path of a .yaml file")
        if not stat.S_ISREG(st.st_mode):
            kind = next((word for test, word in _KINDS if test(st.st_mode)), "special file")
            raise self._fail(f"is a {kind}, not a regular file",
                             "give the path of a .yaml file")
        self._check_size(st.st_size)

    def _check_size(self, size):
        if size > MAX_BYTES:
            raise self._fail(f"the file is larger than {MAX_BYTES // 1024} KiB, the most "
                             "amp-config reads", "a system or board file is a few KiB; "
                             "check that this is the right file")

    def _decode(self, data):
        """UTF-8 (with or without a BOM) -> str; anything else is named with the line and
        column of its first bad byte."""
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        for bom, name in ((b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"),
                          (b"\xfe\xff", "UTF-16"), (b"\xff\xfe", "UTF-16")):
            if data.startswith(bom):
                raise self._fail(f"the file is {name} text (it starts with a {name} "
                                 "byte-order mark); amp-config reads UTF-8", "save it as UTF-8",
                                 1, 1)
        head = data[:64]
        if len(head) >= 4 and head.count(b"\x00") * 3 >= len(head):
            raise self._fail("the file looks like UTF-16 or UTF-32 text (every other byte "
                             "is 0); amp-config reads UTF-8", "save it as UTF-8", 1, 1)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data.count(b"\n", 0, e.start) + 1
            start = data.rfind(b"\n", 0, e.start) + 1
            column = len(data[start:e.start].decode("utf-8")) + 1
            byte = data[e.start]
            guess = ""
            if byte >= 0xa0:
                guess = f", '{bytes([byte]).decode('latin-1')}' in Latin-1"
            elif byte >= 0x80:
                guess = ", a Windows-1252 character"
            raise self._fail(f"not UTF-8 text: byte 0x{byte:02x}{guess}", "save the file as "
                             "UTF-8", line, column) from None

    def _check_text(self, text):
        if len(text) > MAX_BYTES:
            self._check_size(len(text))
        bad = _NOT_YAML.search(text)
        if bad:
            line = text.count("\n", 0, bad.start()) + 1
            column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
            ch = bad.group()
            raise self._fail(f"control character {_escaped(ch)} (U+{ord(ch):04X}) is not "
                             "allowed in YAML", "remove it", line, column)

    # -- loading -----------------------------------------------------------

    def _load(self, text):
        try:
            nodes = _compose(text)
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
            raise InputError(self.display, 0, 0, "", "YAML error: " + " ".join(str(e).split())
                             ) from None
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
        if len(path) > MAX_DEPTH:
            raise self._node_error(node, (), f"YAML nested more than {MAX_DEPTH} levels deep",
                                   "a system file needs a few levels of maps and lists")
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
                key = self._scalar(knode, path, constructor)
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
        return self._scalar(node, path, constructor)

    def _scalar(self, node, path, constructor):
        """A scalar's value; YAML 1.1's octal (010) and base-60 (1:30) numbers, which no
        amp-config user means, are refused with the way to write what they meant."""
        if node.tag == _STR_TAG:
            return node.value           # what the constructor gives a string, faster
        value = constructor.construct_object(node)
        text = node.value
        if not node.style and isinstance(value, (int, float)) and \
                not isinstance(value, bool):
            if ":" in text:
                raise self._node_error(node, path, f"{text} is a base-60 number in YAML 1.1 "
                                       f"({value})", f"quote it ('{text}') if it is text, "
                                       f"or write {value}")
            if _OCTAL.fullmatch(text) and value != 0:
                sign = "-" if text.startswith("-") else ""
                digits = sign + text.lstrip("+-").lstrip("0_")
                raise self._node_error(node, path, f"{text} is an octal number in YAML 1.1 "
                                       f"({value}); amp-config reads numbers as decimal",
                                       f"write {digits} for decimal {digits}"
                                       + (f", or {value:#x} for {value}" if value > 0 else ""))
        return value

    def _node_error(self, node, path, what, fix=""):
        return InputError(self.display, node.start_mark.line + 1, node.start_mark.column + 1,
                          key_text(path), what, fix)

    def _tag_error(self, node, path):
        tag = node.tag.replace(_TAG, "!!")
        return self._node_error(node, path, f"YAML tag {tag} is not allowed here",
                                "use plain maps, lists, numbers and strings")


def _escaped(ch):
    return repr(ch)[1:-1] if ch != "\\" else ch


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
    import difflib  # only for a finding
    close = difflib.get_close_matches(str(word), sorted(str(c) for c in choices), n=1,
                                      cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def _compose(text: str) -> list:
    """The YAML documents of text as nodes with marks: with libyaml when PyYAML has it
    (the same nodes, tags and marks, many times faster), and with the pure-Python
    parser when libyaml refuses the text, so that a syntax error is always worded
    (and positioned) the same way, with or without libyaml."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            nodes = list(yaml.compose_all(text, Loader=fast))
        except yaml.YAMLError:
            nodes = None
        # nesting past MAX_DEPTH is reported where the pure-Python composer finds it
        if nodes is not None and all(_depth(n) <= MAX_DEPTH for n in nodes):
            return nodes
    return list(yaml.compose_all(text, Loader=yaml.SafeLoader))


def _depth(root) -> int:
    """How deeply maps and lists nest in a node tree, up to MAX_DEPTH + 1 (without
    recursion, level by level: a node that aliases share is walked once per level,
    so a "billion laughs" file costs its nodes, not its 10^8 values)."""
    level, depth = [root], 0
    while depth <= MAX_DEPTH:
        below = {}
        for node in level:
            if isinstance(node, yaml.MappingNode):
                for pair in node.value:
                    for n in pair:
                        below[id(n)] = n
            elif isinstance(node, yaml.SequenceNode):
                for n in node.value:
                    below[id(n)] = n
        if not below:
            return depth
        level, depth = list(below.values()), depth + 1
    return depth

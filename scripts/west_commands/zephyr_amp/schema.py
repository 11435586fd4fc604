"""Structure checks with pykwalify, reported at the YAML position they are about.

pykwalify reports paths like '/links/0/vring/num' and its own wording; we map
each path back to a line and column with source.Source, and say in our
words what was expected. Only the first problem (in file order) is reported:
one clear message beats a page of follow-on errors.

A document is first read by quick(), a strict reading of the part of
pykwalify's schema language these schemas use: it passes only a document that
pykwalify passes too and that holds no null; on any doubt pykwalify decides
and words the finding. pykwalify costs ~2 ms for a board file and ~50 us a link
(a Core per list item, a log call per step); it is imported only when it runs.
"""

import copy
import functools
import marshal
import re
from pathlib import Path

import yaml

from . import pycache
from .errors import InputError, clip
from .source import did_you_mean

SCHEMA_DIR = Path(__file__).parent / "schema"

_TYPE_WORDS = {"str": "a string", "int": "an integer", "bool": "true or false",
               "map": "a map (key: value)", "seq": "a list", "scalar": "a single value",
               "float": "a number", "number": "a number"}


def load_schema(name):
    """The schema as data, its patterns as written (the published JSON schema is
    made from them; check_with() makes them whole-value matches): parsed once per
    process (libyaml when PyYAML has it: these are our own files, so its error
    texts never reach a user), and a fresh copy for each caller."""
    return copy.deepcopy(_parsed_schema(name))


@functools.lru_cache(maxsize=None)
def _parsed_schema(name):
    return cached_yaml(SCHEMA_DIR / f"{name}.yaml")


def cached_yaml(path: Path):
    """One of this library's own YAML files as data, kept as Python keeps bytecode:
    in __pycache__ beside it (or under PYTHONPYCACHEPREFIX), written unless
    PYTHONDONTWRITEBYTECODE says not, and used only while it holds the file's very
    bytes. A marshal of (bytes, data) reads in 40 us; the board schema parses in 2 ms."""
    raw = path.read_bytes()
    cache = _cache_path(path)
    if cache is not None:
        try:
            held, data = marshal.loads(cache.read_bytes())
            if held == raw:
                return data
        except (OSError, ValueError, EOFError, TypeError):
            pass
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(raw.decode("utf-8"), Loader=loader)  # noqa: S506 - a safe loader
    if cache is not None and pycache.may_write():
        try:
            blob = marshal.dumps((raw, data))
        except ValueError:              # data marshal cannot hold: not kept
            return data
        pycache.write(cache, blob)
    return data


def _cache_path(path: Path):
    """Where cached_yaml() keeps path: NAME.yaml.<cache tag>.marshal in its pycache."""
    return pycache.path_for(path.with_suffix(".py"), path.name)


def whole_matches(node):
    """Every `pattern:` and `regex;(...)` key of a schema made to match the whole
    value: pykwalify uses re.match / re.search, where a closing `$` also matches
    before a trailing newline ("rpu0\\n" passed '^[a-z][a-z0-9_]*$' and the text
    after the newline reached the generated files). (?:...)\\Z is fullmatch."""
    if isinstance(node, list):
        return [whole_matches(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "pattern" and isinstance(value, str):
            value = _anchored(value)
        elif isinstance(key, str) and key.startswith("regex;(") and key.endswith(")"):
            key = f"regex;({_anchored(key[len('regex;('):-1])})"
        out[key] = whole_matches(value)
    return out


def _anchored(pattern):
    return pattern if pattern.endswith("\\Z") else f"(?:{pattern})\\Z"


def check(source, schema_name, schema_data=None):
    """Raise InputError for the first schema violation in source, if any.
    schema_data: the schema to use instead of schema/<schema_name>.yaml (the system
    schema with the link kinds' keys merged in: model.system_schema())."""
    if schema_data is None:     # (no copy: check_with() reads it into a new one)
        check_with(source, _parsed_schema(schema_name))
    else:
        check_with(source, schema_data)


def check_with(source, schema):
    """check() against a schema given as data (made whole-match here)."""
    schema = whole_matches(schema)
    fits = quick(schema)
    if fits is not None and fits(source.data):
        return
    _pykwalify_check(source, schema)


def _pykwalify_check(source, schema):
    import logging

    from pykwalify.core import Core
    from pykwalify.errors import PyKwalifyException

    logging.getLogger("pykwalify").setLevel(logging.CRITICAL)
    core = Core(source_data=source.data, schema_data=schema)
    try:
        core.validate(raise_exception=False)
    except PyKwalifyException as e:    # pragma: no cover - pykwalify internal trouble
        raise InputError(source.display, 0, 0, "", f"schema check failed: {e}") from None
    # A misspelt key is also a missing one: report the misspelling (with its
    # "did you mean") before the missing key, then the rest in file order.
    problems = [(_rank(e), _translate(source, schema, e))
                for e in _first_per_value(core.validation_errors_exceptions)]
    # pykwalify lets an optional key be null ('links:' with nothing after it); the
    # checks after it expect a value of the schema's type, so say so here
    nulls = [_null(source, schema, path) for path in _null_paths(source.data)]
    null_keys = {n.key for n in nulls}
    problems = [p for p in problems if p[1].key not in null_keys] + [(1, n) for n in nulls]
    if problems:
        problems.sort(key=lambda p: (p[0], p[1].line, p[1].column, str(p[1])))
        raise problems[0][1]


# -- the quick reading ------------------------------------------------------------
# What quick() reads of a rule; anything else (default, unique, include, func, a rule
# without a type, ...) is a doubt, and pykwalify reads that schema.
_RULE_KEYS = {
    "map": frozenset({"type", "required", "mapping", "desc"}),
    "seq": frozenset({"type", "required", "sequence", "desc"}),
    "scalar": frozenset({"type", "required", "enum", "pattern", "length", "range", "desc"}),
}
_BOUNDS = frozenset({"min", "max", "min-ex", "max-ex"})
# pykwalify's type tests (pykwalify.types.tt), each as strict or stricter
_TYPE_TESTS = {
    "str": lambda v: type(v) is str,
    "int": lambda v: type(v) is int,
    "bool": lambda v: type(v) is bool,
    "float": lambda v: type(v) is float,
    "number": lambda v: type(v) is int or type(v) is float,
    "scalar": lambda v: type(v) in (str, int, float, bool),
}


class _Doubt(Exception):
    """A schema construct quick() does not read."""


def quick(schema):
    """A function data -> bool for a schema (as check_with() gives it to pykwalify):
    True only for a document pykwalify passes and that holds no null; False when in
    doubt. None when the schema uses more than this reads (then pykwalify always
    decides). Compiled once per schema."""
    key = repr(schema)
    if key not in _QUICK:
        try:
            _QUICK[key] = _rule(schema)
        except _Doubt:
            _QUICK[key] = None
    return _QUICK[key]


_QUICK = {}


def _rule(rule):
    if type(rule) is not dict or type(rule.get("type")) is not str:
        raise _Doubt
    kind = rule["type"]
    keys = _RULE_KEYS.get(kind if kind in ("map", "seq") else "scalar")
    if not rule.keys() <= keys:
        raise _Doubt
    if kind == "map":
        return _map_rule(rule["mapping"] if "mapping" in rule else None)
    if kind == "seq":
        seq = rule.get("sequence")
        if type(seq) is not list or len(seq) != 1:
            raise _Doubt
        item = _rule(seq[0])
        return lambda v: type(v) is list and all(map(item, v))
    return _scalar_rule(rule)


def _map_rule(mapping):
    if type(mapping) is not dict or not mapping:
        raise _Doubt
    fixed, regexes, required = {}, [], []
    for key, rule in mapping.items():
        if type(key) is not str or key == "=":
            raise _Doubt
        fixed[key] = _rule(rule)
        if key.startswith(("regex;", "re;")):
            body = key.split(";", 1)[1]     # pykwalify: 'regex;(RE)' matches keys with RE
            if not (body.startswith("(") and body.endswith(")")) or rule.get("required"):
                raise _Doubt
            regexes.append((body[1:-1], fixed[key]))
        elif rule.get("required"):
            required.append(key)

    def check(v):
        if type(v) is not dict:
            return False
        for key in required:
            if key not in v:
                return False
        for key, value in v.items():
            rule = fixed.get(key)
            if rule is not None:
                if not rule(value):
                    return False
                continue
            matched = [r for regex, r in regexes if re.search(regex, str(key))]
            if not matched or not all(r(value) for r in matched):
                return False
        return True
    return check


def _scalar_rule(rule):
    kind = rule["type"]
    if kind == "any":
        if rule.keys() - {"type", "required", "desc"}:
            raise _Doubt
        return _no_null
    test = _TYPE_TESTS.get(kind)
    enum = rule.get("enum")
    if test is None or (enum is not None and type(enum) is not list):
        raise _Doubt
    pattern = rule.get("pattern")       # compiled on first use, by re's cache
    length, span = _bounds(rule.get("length")), _bounds(rule.get("range"))

    def check(v):
        if v is None or (enum is not None and v not in enum) or not test(v):
            return False
        if pattern is not None and (type(v) is not str or re.match(pattern, v) is None):
            return False
        if length is not None and (type(v) is not str or not length(len(v))):
            return False
        if span is not None:
            if type(v) is str:
                v = len(v)          # pykwalify: the range of a string is of its length
            elif type(v) not in (int, float):
                return False
            if not span(v):
                return False
        return True
    return check


def _bounds(b):
    """pykwalify's length: and range: (min, max, min-ex, max-ex) -> a test of a number."""
    if b is None:
        return None
    if type(b) is not dict or not b.keys() <= _BOUNDS or \
            any(type(x) not in (int, float) for x in b.values()):
        raise _Doubt
    lo, hi = b.get("min"), b.get("max")
    lo_ex, hi_ex = b.get("min-ex"), b.get("max-ex")
    return lambda n: ((lo is None or lo <= n) and (hi is None or n <= hi)
                      and (lo_ex is None or lo_ex < n) and (hi_ex is None or n < hi_ex))


def _no_null(v):
    """type: any passes everything but a null (check_with() reports every null)."""
    if v is None:
        return False
    if type(v) is dict:
        return all(map(_no_null, v.values()))
    if type(v) is list:
        return all(map(_no_null, v))
    return True


def _first_per_value(errors):
    """The errors without a length error of a value whose pattern fails too: "is not a
    valid name" says what is wrong with a 1 MB "R..."; its length says nothing more."""
    bad_pattern = {e.path for e in errors if "does not match pattern" in e.msg}
    return [e for e in errors if not (e.path in bad_pattern and _is_length(e))]


def _is_length(e):
    return "has length of" in e.msg and "max limit" in e.msg


def _rank(e):
    if e.msg.startswith("Key '{key}' was not defined"):
        return 0
    if e.msg.startswith("Cannot find required key"):
        return 2
    return 1


def _null_paths(data, path=()):
    items = data.items() if isinstance(data, dict) else \
        enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        if value is None:
            yield path + (key,)
        else:
            yield from _null_paths(value, path + (key,))


def _null(source, schema, path):
    wanted = _schema_at(schema, path) or {}
    word = _TYPE_WORDS.get(wanted.get("type"), "a value")
    if wanted.get("type") == "scalar":
        word = "a number or size"
    what = "item" if isinstance(path[-1], int) else "key"
    return source.error(path, f"expected {word}, got nothing", "give it a value"
                        + ("" if wanted.get("required") else f" or remove the {what}"))


def _path(data, text):
    """'/links/0/vring' -> ('links', 0, 'vring'), following the data's shape."""
    path = []
    node = data
    for part in [p for p in text.split("/") if p != ""]:
        if isinstance(node, list):
            part = int(part)
        path.append(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return tuple(path)


def _schema_at(schema, path):
    node = schema
    for part in path:
        if node is None:
            return None
        if isinstance(part, int):
            seq = node.get("sequence") or [None]
            node = seq[0]
        else:
            mapping = node.get("mapping") or node.get("map") or {}
            if part in mapping:
                node = mapping[part]
            else:
                node = next((v for k, v in mapping.items() if k.startswith("regex;")), None)
    return node


_NAME_WORDS = ("a valid name", "use lowercase letters, digits and '_' (or '-' in a system "
               "name), starting with a letter")
_TARGET = ("a valid Zephyr board target", "write it as Zephyr names it, such as kv260_r5 or "
           "nrf5340dk/nrf5340/cpuapp (letters, digits, _ . + -, @revision, /qualifiers)")
_LABEL = ("a valid devicetree label", "use letters, digits and '_', not starting with a digit")
_ARGUMENT = ("a valid argument", "give one argument per list item, on one line, without "
             "control characters")
# What a `pattern:` is about, by the key it checks (the default: a name)
_PATTERN_WORDS = {
    "target": _TARGET, "zephyr-target": _TARGET,
    "binary": ("a valid program name", "use a program name or path of letters, digits and "
               "_ . + / -"),
    "machine-args": _ARGUMENT, "qemu-args": _ARGUMENT,
    "compatible": ("a valid devicetree compatible", "use letters, digits and , . _ + - "
                   "(vendor,device)"),
    "core-compatible": ("a valid devicetree compatible", "use letters, digits and , . _ + - "
                        "(vendor,device)"),
    "zephyr-label": _LABEL, "zephyr-parent": _LABEL, "zephyr-node": _LABEL,
    "dt-label": _LABEL, "dt-parent": _LABEL, "firmware-node": _LABEL,
}


def _translate(source, schema, e):
    path = _path(source.data, e.path or "")
    attrs = vars(e)
    msg = e.msg
    if msg.startswith("Cannot find required key"):
        key = attrs["key"]
        return source.error(path + (key,), f"required key '{key}' is missing",
                            "add it")
    if msg.startswith("required.novalue"):
        wanted = _schema_at(schema, path) or {}
        word = _TYPE_WORDS.get(wanted.get("type"), "a value")
        return source.error(path, f"expected {word}, got nothing", "give it a value"
                            + ("" if wanted.get("required") else " or remove the key"))
    if msg.startswith("Key '{key}' was not defined"):
        key = attrs["key"]
        known = sorted((_schema_at(schema, path) or {}).get("mapping", {}) or [])
        known = [k for k in known if not k.startswith("regex;")]
        hint = did_you_mean(key, known) or ("expected one of: " + ", ".join(known))
        return source.error(path + (key,), f"unknown key '{key}'", hint, of_key=True)
    if msg.startswith("Enum"):
        value = attrs.get("value")
        enum = attrs.get("enum_values") or []
        hint = did_you_mean(value, enum) or ("use one of: " + ", ".join(map(str, enum)))
        return source.error(path, f"'{clip(value)}' is not allowed", hint)
    if "does not match pattern" in msg:
        value = attrs.get("value")
        key = next((p for p in reversed(path) if isinstance(p, str)), "")
        noun, fix = _PATTERN_WORDS.get(key, _NAME_WORDS)
        return source.error(path, f"'{clip(value)}' is not {noun}", fix)
    if _is_length(e):
        text = attrs.get("value_str", "")
        return source.error(path, f"'{clip(text)}' is {len(text)} characters long",
                            _length_fix(schema, path, attrs.get("max_")))
    if "max limit" in msg or "min limit" in msg:        # range: of a number
        limit = attrs.get("max_") if "max limit" in msg else attrs.get("min_")
        word = "more" if "max limit" in msg else "less"
        key = next((p for p in reversed(path) if isinstance(p, str)), "")
        why = _RANGE_WHY.get(key, "a 32-bit devicetree cell")
        return source.error(path, f"{attrs.get('value')} is {word} than {limit} ({why})",
                            f"use a number from {_range(schema, path)}")
    if "is not of type" in msg or "is not a " in msg:
        wanted = _schema_at(schema, path) or {}
        word = _TYPE_WORDS.get(wanted.get("type"), wanted.get("type", "something else"))
        value = attrs.get("value")
        shown = _describe(value)
        return source.error(path, f"expected {word}, got {shown}")
    text = msg.format(**{k: v for k, v in attrs.items() if k != "msg"})
    return source.error(path, text.split(". Path:")[0])


# What a number's range: is, by its key (board.yaml)
_RANGE_WHY = {"irq": "GIC interrupt IDs from 1020 are special",
              "first-spi": "the GIC's SPIs are 0 to 987", "slots": "the GIC's SPIs are 0 to 987"}


def _range(schema, path):
    r = (_schema_at(schema, path) or {}).get("range") or {}
    return f"{r.get('min', 0)} to {r.get('max')}"


# Why a name has its length (names.RULES), by the key and how deep it is
_LENGTH_WHY = {
    "name": "with the suffixes amp-config adds it must fit a 31-character devicetree "
            "node name",
    "target": "it goes on a west build command line and into comments",
    "zephyr-target": "it goes on a west build command line and into comments",
    "board": "it is a file name under a board root",
}


def _length_fix(schema, path, limit):
    key = next((p for p in reversed(path) if isinstance(p, str)), "")
    why = _LENGTH_WHY.get(key)
    if path == ("name",):       # a system's own name, or a board's
        top = schema.get("mapping") or {}
        why = ("it names the output directory and files" if "domains" in top else
               "it is the file name of the board" if "page-size" in top else None)
    return f"{why}; keep it to {limit}" if why else f"keep it to {limit}"


def _describe(value):
    if isinstance(value, bytes):        # pykwalify hands some scalars over encoded
        value = value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    return repr(value) if len(repr(value)) <= 80 else repr(clip(value))

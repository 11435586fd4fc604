"""Structure checks with pykwalify, reported at the YAML position they are about.

pykwalify reports paths like '/links/0/vring/num' and its own wording; we map
each path back to a line and column with source.Source, and say in our
words what was expected. Only the first problem (in file order) is reported:
one clear message beats a page of follow-on errors.
"""

import copy
import functools
import logging
from pathlib import Path

import yaml
from pykwalify.core import Core
from pykwalify.errors import PyKwalifyException

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
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(SCHEMA_DIR / f"{name}.yaml", encoding="utf-8") as f:
        return yaml.load(f, Loader=loader)  # noqa: S506 - a safe loader


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
    if schema_data is None:
        check_with(source, load_schema(schema_name))
    else:
        check_with(source, schema_data)


def check_with(source, schema):
    """check() against a schema given as data (made whole-match here)."""
    schema = whole_matches(schema)
    logging.getLogger("pykwalify").setLevel(logging.CRITICAL)
    core = Core(source_data=source.data, schema_data=schema)
    try:
        core.validate(raise_exception=False)
    except PyKwalifyException as e:    # pragma: no cover - pykwalify internal trouble
        raise InputError(source.display, 0, 0, "", f"schema check failed: {e}") from None
    # A misspelt key is also a missing one: report the misspelling (with its
    # "did you mean") before the missing key, then the rest in file order.
    problems = [(_rank(e), _translate(source, schema, e))
                for e in core.validation_errors_exceptions]
    # pykwalify lets an optional key be null ('links:' with nothing after it); the
    # checks after it expect a value of the schema's type, so say so here
    nulls = [_null(source, schema, path) for path in _null_paths(source.data)]
    null_keys = {n.key for n in nulls}
    problems = [p for p in problems if p[1].key not in null_keys] + [(1, n) for n in nulls]
    if problems:
        problems.sort(key=lambda p: (p[0], p[1].line, p[1].column, str(p[1])))
        raise problems[0][1]


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
    if "has length of" in msg and "max limit" in msg:
        text = attrs.get("value_str", "")
        return source.error(path, f"'{clip(text)}' is {len(text)} characters long",
                            f"keep it to {attrs.get('max_')}")
    if "is not of type" in msg or "is not a " in msg:
        wanted = _schema_at(schema, path) or {}
        word = _TYPE_WORDS.get(wanted.get("type"), wanted.get("type", "something else"))
        value = attrs.get("value")
        shown = _describe(value)
        return source.error(path, f"expected {word}, got {shown}")
    text = msg.format(**{k: v for k, v in attrs.items() if k != "msg"})
    return source.error(path, text.split(". Path:")[0])


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

"""Names and strings that reach a generated file: one check, one set of limits, and
escaping by output kind for free text.

A name the user gives (system, domain, link, carveout, board strings, the Zephyr
target) ends up in C identifiers and macros, devicetree labels and node names,
resource-table name fields, Kconfig comments, CMake, shell scripts, XML (SVG)
and file names. Two rules make that safe:

1. Every name is checked against a RULE with fullmatch semantics (re.fullmatch;
   a closing `$` in re.match also matches before a trailing newline, which let
   "rpu0\\nCONFIG_X=y" through) and a length that fits every output it reaches.
   Names the tool derives from user names (region names such as
   "<domain>_<carveout>", "<link>_<device>_mmio") are checked again where they
   are made, against the output they go to (OUTPUT_RULES).
2. Free text that must be carried (descriptions, the system file's name in the
   banner) goes through comment(text, kind) or the quoting function of its output:
   it cannot end a comment, start a line or break the file's syntax.

Use:
    problem = names.problem("name", value)      # '' when fine
    if problem: raise src.error(path, f"'{shown(value)}' {problem}", names.fix("name"))
or names.check(kind, value) raising NameProblem (a ValueError) with the same text.
"""

import re

FILE_NAME_MAX = 255          # bytes of one path component (ext4, XFS, btrfs, NTFS, APFS)
PATH_MAX = 4096              # bytes of a whole path (Linux PATH_MAX)
RSC_NAME_SIZE = 32           # char name[32] of the resource-table entries, NUL included
DTS_NAME_MAX = 31            # devicetree spec 2.2.1: node-name 1..31 characters


class Rule:
    """A kind of name: the characters it may have (fullmatch) and its longest length
    in bytes (UTF-8), with the words a message uses for both. (A plain class: a
    dataclass costs a third of a millisecond to define, at every command's start.)"""

    __slots__ = ("pattern", "max_bytes", "chars", "reaches", "noun")

    def __init__(self, pattern: str, max_bytes: int, chars: str, reaches: str,
                 noun: str = "a valid name"):
        self.pattern = pattern
        self.max_bytes = max_bytes
        self.chars = chars          # "lowercase letters, digits and '_', starting with a letter"
        self.reaches = reaches      # why the length: "a devicetree node name holds 31 ..."
        self.noun = noun

    def __repr__(self) -> str:
        return f"Rule({self.pattern!r}, {self.max_bytes})"

    def problem(self, value) -> str:
        if not isinstance(value, str):
            return "is not a string"
        size = len(value.encode("utf-8", "surrogateescape"))
        if not re.fullmatch(self.pattern, value):
            return f"is not {self.noun}"
        if size > self.max_bytes:
            return f"is {size} characters long; {self.reaches}"
        return ""

    def fix(self) -> str:
        return f"use {self.chars}, at most {self.max_bytes} characters"


_LOWER = "lowercase letters, digits and '_', starting with a letter"
# What user names reach, and how long they may be. NAME: a domain, link, shared-memory
# pool, carveout or virtio device name: it becomes a directory, C macros (AMP_<NAME>_...),
# devicetree labels and node names with suffixes of up to 11 characters ("_rsc_table")
# within the 31 a node name holds, and resource-table names (31 bytes and a NUL).
RULES = {
    "system": Rule(r"[a-z][a-z0-9_-]*", 64, "lowercase letters, digits, '_' and '-', "
                   "starting with a letter", "it names the output directory and files; "
                   "keep it to 64"),
    "name": Rule(r"[a-z][a-z0-9_]*", 20, _LOWER, "with the suffixes amp-config adds it "
                 "must fit a 31-character devicetree node name; keep it to 20"),
    "board": Rule(r"[a-z0-9][a-z0-9_-]*", 64, "lowercase letters, digits, '_' and '-'",
                  "it is a file name under a board root; keep it to 64"),
    # a Zephyr board target: board[@revision][/soc[/cluster[/variant]]] (hwmv2)
    "target": Rule(r"[A-Za-z0-9][A-Za-z0-9_.+-]*(@[A-Za-z0-9_.+-]+)?(/[A-Za-z0-9_.+-]*)*",
                   128, "a Zephyr board target such as kv260_r5 or qemu_cortex_r5 "
                   "(board[@revision][/qualifiers])", "it goes on a west build command line "
                   "and into comments; keep it to 128"),
    "core": Rule(r"[a-z][a-z0-9_]*", 20, _LOWER, "keep it to 20"),
}
# What a string must be where it is written (names the tool derives, board strings).
# A resource-table name is a C string in a char[32]: printable ASCII but the two
# characters a C string escapes, spaces only inside (Linux prints it in its logs).
_RSC_CHAR = r"[\x21\x23-\x5b\x5d-\x7e]"
OUTPUT_RULES = {
    "rsc_name": Rule(f"{_RSC_CHAR}([ {_RSC_CHAR[1:-1]}]*{_RSC_CHAR})?",
                     RSC_NAME_SIZE - 1, "printable ASCII (inner spaces allowed) without '\"' "
                     "or '\\'",
                     f"the resource table's name field holds {RSC_NAME_SIZE - 1} characters "
                     "and a NUL"),
    "dts_node": Rule(r"[A-Za-z][A-Za-z0-9,._+-]*", DTS_NAME_MAX,
                     "letters, digits and , . _ + -, starting with a letter",
                     f"a devicetree node name holds {DTS_NAME_MAX} characters"),
    "dts_unit": Rule(r"[0-9A-Za-z,._+-]+", 64, "hex digits and ','", "keep it to 64"),
    "dts_label": Rule(r"[A-Za-z_][A-Za-z0-9_]*", 63, "letters, digits and '_', not starting "
                      "with a digit", "keep a devicetree label to 63"),
    "dts_compatible": Rule(r"[A-Za-z0-9][A-Za-z0-9,._+-]*", 127, "letters, digits and "
                           ", . _ + - (vendor,device)", "keep a compatible to 127"),
    "c_identifier": Rule(r"[A-Za-z_][A-Za-z0-9_]*", 63, "letters, digits and '_', not "
                         "starting with a digit", "C compilers must tell apart the first 63 "
                         "characters of a macro name"),
    "kconfig_symbol": Rule(r"[A-Z0-9_]+", 63, "uppercase letters, digits and '_'",
                           "keep a Kconfig symbol to 63"),
    "program": Rule(r"[A-Za-z0-9_.+/-]+", 255, "a program name or path of letters, digits "
                    "and _ . + / -", "keep it to 255"),
    "argument": Rule(r"[^\x00-\x1f\x7f]+", 1024, "printable characters on one line",
                     "keep one argument to 1024"),
    "text": Rule(r"[^\x00-\x08\x0a-\x1f\x7f]*", 1024, "text on one line",
                 "descriptions are copied into comments; keep one to 1024 characters",
                 "text on one line"),
}
_ALL = {**RULES, **OUTPUT_RULES}


class NameProblem(ValueError):
    """A name that cannot be written where it goes; str() is the problem words."""


def rule(kind: str) -> Rule:
    return _ALL[kind]


def problem(kind: str, value) -> str:
    """'' when value is a good `kind`, else what is wrong ('is not a valid name',
    'is 40 characters long; the resource table's name field holds 31 ...')."""
    if kind == "file":
        return file_name_problem(value)
    return _ALL[kind].problem(value)


def fix(kind: str) -> str:
    """What a good `kind` looks like, for the '; ...' part of a message."""
    if kind == "file":
        return f"use a file name of at most {FILE_NAME_MAX} bytes without '/' or control " \
            "characters"
    return _ALL[kind].fix()


def check(kind: str, value) -> str:
    """value, or NameProblem with the words of problem()."""
    text = problem(kind, value)
    if text:
        raise NameProblem(text)
    return value


def file_name_problem(part: str) -> str:
    """'' when part is a usable file or directory name, else what is wrong with it."""
    if part in ("", ".", ".."):
        return f"'{part}' is not a file name"
    if "/" in part or "\\" in part or not part.isprintable():
        return "holds a path separator or a control character"
    if len(part.encode("utf-8", "surrogateescape")) > FILE_NAME_MAX:
        return f"is longer than {FILE_NAME_MAX} bytes"
    return ""


# -- free text into an output ---------------------------------------------------------

_LINE_BREAKS = re.compile(r"[\n\r\x0b\x0c\x85\u2028\u2029]+")
_C_STYLE = ("c", "dts", "ld")           # /* ... */ and // comments
_HASH = ("kconfig", "cmake", "shell", "conf", "args")   # '#' to the end of the line
KINDS = _C_STYLE + _HASH + ("xml",)


def one_line(text: str) -> str:
    """text on one line: line breaks become spaces, other control and format
    characters (NUL, ESC, bidi overrides) become \\xNN / \\uNNNN escapes."""
    text = _LINE_BREAKS.sub(" ", str(text))
    if text.isprintable():
        return text
    import unicodedata  # only for a text that is not printable
    out = []
    for ch in text:
        if ch == "\t" or ch == " " or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl",
                                                                       "Zp"):
            out.append(ch)
        else:
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
    return "".join(out)


def comment(text: str, kind: str) -> str:
    """Free text as the body of a one-line comment in an output of `kind`
    (c, dts, ld: inside /* */ or after //; kconfig, cmake, shell, conf, args: after
    '#'; xml: inside <!-- -->). It cannot close the comment, continue it onto the
    next line or start a new line."""
    text = one_line(text)
    if kind in _C_STYLE:
        text = text.replace("*/", "* /").replace("/*", "/ *").replace("??", "? ?")
        return text.rstrip("\\").rstrip() if text.endswith("\\") else text
    if kind in _HASH:
        return text.rstrip("\\").rstrip() if text.endswith("\\") else text
    if kind == "xml":               # a comment: no entities, but never "--"
        text = "".join(ch if ord(ch) >= 0x20 or ch == "\t" else " " for ch in text)
        while "--" in text:
            text = text.replace("--", "- -")
        return text + " " if text.endswith("-") else text
    raise ValueError(f"no comment syntax for output kind {kind!r}")


def xml_text(text: str) -> str:
    """Text content (or an attribute value in double quotes) of XML 1.0: & < > "
    escaped, characters XML cannot carry at all written as \\xNN."""
    text = one_line(text)
    if not text.isprintable():          # (a printable text has no character below 0x20)
        text = "".join(ch if ch in "\t\n\r" or ord(ch) >= 0x20 else f"\\x{ord(ch):02x}"
                       for ch in text)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def c_string(text: str) -> str:
    """A C string literal, quotes included (no trigraph can form in it)."""
    return _quoted(text).replace("??", "?\\?")


def dts_string(text: str) -> str:
    """A devicetree (dtc) string literal, quotes included."""
    return _quoted(text)


def kconfig_string(text: str) -> str:
    """A Kconfig string value (CONFIG_X="..."), quotes included."""
    return _quoted(text)


def _quoted(text):
    text = str(text)
    if text.isprintable() and '"' not in text and "\\" not in text:
        return '"' + text + '"'         # nothing to escape (no control character, no DEL)
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append(f"\\{ord(ch):03o}")     # octal: a hex escape would eat the next digit
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def shell_in_quotes(text: str) -> str:
    """Text inside a double-quoted shell word ("... {{ x }} ..."): \\ " $ ` escaped,
    so nothing in it is expanded or ends the quotes; on one line."""
    if "\x00" in str(text):
        raise NameProblem("a shell word cannot hold a NUL")
    return re.sub(r'([\\"$`])', r"\\\1", one_line(text))


def shell_word(text: str) -> str:
    """One word of a POSIX shell command line (quoted when it needs to be)."""
    if "\x00" in str(text):
        raise NameProblem("a shell word cannot hold a NUL")
    import shlex  # only where a shell script is written
    return shlex.quote(str(text))

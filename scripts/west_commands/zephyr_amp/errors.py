"""One family of exceptions for everything a user can get wrong.

Library code raises these; the west commands turn them into one line on
stderr and an exit code. Nothing here calls sys.exit().

Every message is one line a terminal shows as it is: str() of any AmpError
escapes control characters (a NUL, an ESC, a newline in a name or a path) the
way Python writes them in a string ("\\n", "\\x00", "\\u2028"), and never shows
a negative number as an address.
"""

import re

# Characters a message never carries raw: C0/C1 controls and DEL (Cc), format
# characters such as bidi overrides and zero-width ones (Cf), line and paragraph
# separators (Zl, Zp), and lone surrogates (bytes of a non-UTF-8 file name).
_UNSAFE = {"Cc", "Cf", "Zl", "Zp", "Cs"}
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
MAX_MESSAGE = 2000        # characters: a message is a line a terminal can show
_NEGATIVE_HEX = re.compile(r"(?<![\w.])-0x[0-9a-fA-F]+")


def escape_controls(text: str) -> str:
    """text with every unsafe character written as an escape, on one line."""
    if text.isprintable():
        return text
    import unicodedata  # only for a text that is not printable
    out = []
    for ch in text:
        if ch == " " or unicodedata.category(ch) not in _UNSAFE:
            out.append(ch)
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        elif 0xdc80 <= ord(ch) <= 0xdcff:        # os.fsdecode's stand-in for a raw byte
            out.append(f"\\x{ord(ch) - 0xdc00:02x}")
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


def shown(value) -> str:
    """A value (name, path, user text) as a message shows it: str(), escaped."""
    return escape_controls(str(value))


def clip(value, limit: int = 60) -> str:
    """A user's value as a message echoes it: at most `limit` characters, and how long
    it was when it is longer (a 1 MB name is not echoed whole)."""
    text = str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def address(n: int) -> str:
    """An address or size for a message: hex when 0 <= n < 2**64, else words that
    say where it went (a negative number is never an address)."""
    if n < 0:
        return "below address 0"
    if n >> 64:
        return "beyond the 64-bit address space"
    return f"{n:#x}"


def _negative(m):
    return "(below address 0)"


class AmpError(Exception):
    """Base of every error the user can fix. str() is the whole message."""

    exit_code = 1

    def __str__(self):
        text = super().__str__()
        if len(text) > MAX_MESSAGE:
            text = text[:MAX_MESSAGE] + f"... ({len(text)} characters)"
        return _NEGATIVE_HEX.sub(_negative, escape_controls(text))


class InputError(AmpError):
    """Something wrong in an input file, at a known place.

    file: the path as the user gave it; line, column: 1-based (0 = unknown);
    key: the dotted path of the offending key (links[0].vring.num);
    what: what is wrong; fix: what would be right (may be empty).
    """

    def __init__(self, file, line, column, key, what, fix=""):
        self.file = str(file)
        self.line = line
        self.column = column
        self.key = key
        self.what = what
        self.fix = fix
        super().__init__(self._text())

    def _text(self):
        where = self.file
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        text = f"{where}: "
        if self.key:
            text += f"{self.key}: "
        text += self.what
        if self.fix:
            text += f"; {self.fix}"
        return text


class LayoutError(InputError):
    """The system is well formed but cannot be laid out (overlap, no room, ...)."""


class UsageError(AmpError):
    """The command could not run (missing file, bad option, missing tool)."""

    exit_code = 2


class OutputError(UsageError):
    """The output directory cannot be written as asked (the user's own folder, a
    symbolic link, an unsafe file name). Exit 2, as amp-config has always given for
    a directory it will not replace (tests/test_golden.py holds it to that)."""

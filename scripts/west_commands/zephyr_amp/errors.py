"""One family of exceptions for everything a user can get wrong.

Library code raises these; the west commands turn them into one line on
stderr and an exit code. Nothing here calls sys.exit().
"""


class AmpError(Exception):
    """Base of every error the user can fix. str() is the whole message."""

    exit_code = 1


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

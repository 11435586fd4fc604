"""Names and strings that reach a generated file: one check, one set of limits."""

FILE_NAME_MAX = 255          # bytes of one path component (ext4, XFS, btrfs, NTFS, APFS)


def file_name_problem(part: str) -> str:
    """'' when part is a usable file or directory name, else what is wrong with it."""
    if part in ("", ".", ".."):
        return f"'{part}' is not a file name"
    if "/" in part or "\\" in part or not part.isprintable():
        return "holds a path separator or a control character"
    if len(part.encode("utf-8", "surrogateescape")) > FILE_NAME_MAX:
        return f"is longer than {FILE_NAME_MAX} bytes"
    return ""

"""QEMU and ivshmem-server command lines -> QemuFacts, IvshmemServerFacts.

Both are read from an arguments file: one argument per line (what amp-config
writes as <domain>/qemu.args and <link>/ivshmem-server.args), or shell words
(a command line copied from a script: quotes, backslash-newline, # comments,
the program name first). From QEMU's: the ivshmem devices (ivshmem-doorbell
with its -chardev socket, ivshmem-plain with its -object memory backend).
From ivshmem-server's: the socket (-S), the shared memory (-m/-M), its size
(-l) and the vectors per peer (-n), the server's defaults where not given.
"""

import json
import re
import shlex
from pathlib import Path

from .. import facts as F
from ..errors import InputError

_SERVER_VALUE = {"p": "pidfile", "S": "socket", "m": "shm", "M": "shm", "l": "size",
                 "n": "vectors"}
_SERVER_FLAG = {"h", "v", "F"}
_QEMU_WORDS = {"-device", "-chardev", "-object", "-machine", "-cpu", "-kernel", "-nographic",
               "-nic", "-netdev", "-global", "-smp", "-serial", "-monitor", "-append"}
# what a QEMU command line has at least one of (else it is some other tool's)
_QEMU_ANY = _QEMU_WORDS | {"-m", "-M", "-S", "-s", "-bios", "-drive", "-display", "-icount",
                           "-semihosting", "-semihosting-config", "-d", "-D", "-name", "-rtc",
                           "-accel", "-enable-kvm", "-initrd", "-dtb", "-L", "-vga", "-net"}
_OPTION = re.compile(r"--?[A-Za-z]")
_SIZE = re.compile(r"(\d+)(?:\.0*)?\s*([bkmgtpe]?)i?b?", re.IGNORECASE)
_SHIFT = {"": 0, "b": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}
_SHELL_HINT = re.compile(r"^\s*(-\S+\s+\S|\S+\s*\\$|#|qemu-system|ivshmem-server)")


def looks_like_args(path: Path, text: str) -> bool:
    """An arguments file: named *.args, or its first word an option or a program."""
    if path.suffix == ".args":
        return True
    words = [ln.strip() for ln in text.splitlines() if ln.strip() and
             not ln.lstrip().startswith("#")]
    return bool(words) and (bool(_OPTION.match(words[0])) or
                            Path(words[0].split()[0]).name.startswith(("qemu-system",
                                                                       "ivshmem-server")))


def tokens(text: str, display: str) -> list:
    """[(argument, line)]: one per line, or shell words when a line holds an option with
    its value, a continuation, a comment or the program."""
    lines = text.splitlines()
    if not any(_SHELL_HINT.match(ln) for ln in lines):
        return [(ln.strip(), n) for n, ln in enumerate(lines, 1) if ln.strip()]
    out, parts = [], []
    for n, ln in enumerate(lines + [""], 1):
        parts.append((ln[:-1] if ln.endswith("\\") else ln, n))
        if ln.endswith("\\"):
            continue
        out += _words(parts, display)
        parts = []
    return out


def _words(parts, display):
    """The shell words of one logical line, each with the line it is on (the first line
    of the logical one when a quote spans lines)."""
    try:
        return [(w, n) for text, n in parts for w in shlex.split(text, comments=True)]
    except ValueError:
        pass
    try:
        return [(w, parts[0][1]) for w in shlex.split(" ".join(t for t, _ in parts),
                                                      comments=True)]
    except ValueError as e:
        raise InputError(display, parts[0][1], 0, "", f"cannot split it into shell words: "
                         f"{e}", "close the quote, or write one argument per line") from None


def _program(args, display, names):
    """The arguments less a leading program name (qemu-system-aarch64 ...)."""
    if not args:
        raise InputError(display, 0, 0, "", "is an empty arguments file",
                         "give the QEMU or ivshmem-server arguments, one per line")
    first, line = args[0]
    if _OPTION.match(first):
        return args
    if Path(first).name.startswith(names):
        return args[1:]
    raise InputError(display, line, 0, "", f"is not a command line: its first argument "
                     f"'{first[:40]}' is no option (QEMU's and ivshmem-server's start with "
                     "'-')", "give QEMU's or ivshmem-server's arguments, one per line")


def is_server(path: Path, args) -> bool:
    if "ivshmem-server" in path.name or (args and Path(args[0][0]).name ==
                                         "ivshmem-server"):
        return True
    if "qemu" in path.name or (args and Path(args[0][0]).name.startswith("qemu")):
        return False
    opts = [a for a, _ in args if a.startswith("-")]
    return bool(opts) and all(len(a) == 2 and a[1] in _SERVER_VALUE.keys() | _SERVER_FLAG
                              for a in opts) and not any(a in _QEMU_WORDS for a in opts)


def size(text: str, display: str, line: int, what: str) -> int:
    m = _SIZE.fullmatch(text.strip())
    if not m:
        raise InputError(display, line, 0, "", f"{what} '{text[:40]}' is not a size",
                         "give bytes, or a number with K, M or G")
    return int(m[1]) << _SHIFT[m[2].lower()]


def options(value: str) -> tuple:
    """QEMU's 'driver,key=value,...' (',,' is a comma), or its JSON form '{"driver": ...}'
    -> (driver, {key: value})."""
    if value.lstrip().startswith("{"):
        try:
            doc = json.loads(value)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            props = {k: str(v).lower() if isinstance(v, bool) else str(v)
                     for k, v in doc.items()}
            return props.pop("driver", None) or props.pop("qom-type", None) or \
                props.pop("backend", None), props
    parts = [p.replace("\0", ",") for p in value.replace(",,", "\0").split(",")]
    driver = parts[0] if parts and "=" not in parts[0] else None
    props = dict(p.split("=", 1) if "=" in p else (p, "on") for p in parts[driver is not None:])
    return props.pop("driver", None) or props.pop("qom-type", None) or driver, props


def read_qemu(text: str, display: str) -> F.QemuFacts:
    args = _program(tokens(text, display), display, ("qemu",))
    opts = ["-" + a.lstrip("-") for a, _ in args if _OPTION.match(a)]
    if not any(o in _QEMU_ANY for o in opts):
        raise InputError(display, args[0][1], 0, "", "is not a QEMU command line: none of "
                         f"its options ({', '.join(opts[:4]) or 'none'}) is QEMU's",
                         "give QEMU's arguments (qemu.args) or ivshmem-server's "
                         "(ivshmem-server.args), one per line")
    chardevs, objects, devices = {}, {}, []
    for i, (tok, line) in enumerate(args):
        opt = "-" + tok.lstrip("-") if tok.startswith("-") else None
        if opt not in ("-chardev", "-object", "-device"):
            continue
        if i + 1 >= len(args):
            raise InputError(display, line, 0, "", f"{tok} has no value", f"give {tok} "
                             "its value as the next argument")
        value, vline = args[i + 1]
        driver, props = options(value)
        if opt == "-device":
            devices.append((driver, props, vline))
        elif "id" in props:
            (chardevs if opt == "-chardev" else objects)[props["id"]] = (driver, props, vline)
    out = F.QemuFacts(display)
    for driver, props, line in devices:
        if driver in ("ivshmem-doorbell", "ivshmem-plain"):
            out.ivshmem.append(_ivshmem(driver, props, line, chardevs, objects, display))
    return out


def _ivshmem(driver, props, line, chardevs, objects, display):
    where = F.Where(display, line)
    if driver == "ivshmem-doorbell":
        ref = props.get("chardev")
        dev = chardevs.get(ref)
        if dev is None:
            raise InputError(display, line, 0, "", f"ivshmem-doorbell names chardev="
                             f"{ref}, and no -chardev has that id" if ref else
                             "ivshmem-doorbell has no chardev= (the ivshmem-server socket)",
                             "add -chardev socket,id=ID,path=SOCKET and chardev=ID")
        vectors = props.get("vectors", "1")
        if not vectors.isdigit():
            raise InputError(display, line, 0, "", f"vectors={vectors} is not a number",
                             "give the MSI-X vectors, e.g. vectors=2")
        return F.QemuIvshmem(props.get("id", ref), "doorbell", where, vectors=int(vectors),
                             socket=dev[1].get("path"))
    ref = props.get("memdev")
    obj = objects.get(ref)
    if obj is None:
        raise InputError(display, line, 0, "", f"ivshmem-plain names memdev={ref}, and no "
                         "-object has that id" if ref else "ivshmem-plain has no memdev=",
                         "add -object memory-backend-file,id=ID,share=on,mem-path=FILE,"
                         "size=SIZE and memdev=ID")
    if "size" not in obj[1]:
        raise InputError(display, obj[2], 0, "", f"the memory backend {ref} has no size=",
                         "give size=, e.g. size=4M")
    return F.QemuIvshmem(props.get("id", ref), "plain", where, mem_path=obj[1].get("mem-path"),
                         size=size(obj[1]["size"], display, obj[2], "size="),
                         size_where=F.Where(display, obj[2]))


def read_server(text: str, display: str) -> F.IvshmemServerFacts:
    args = _program(tokens(text, display), display, ("ivshmem-server",))
    out = F.IvshmemServerFacts(display, F.Where(display, args[0][1] if args else 0))
    i = 0
    while i < len(args):
        tok, line = args[i]
        opt = tok[1:] if len(tok) == 2 and tok.startswith("-") else None
        if opt in _SERVER_FLAG:
            i += 1
            continue
        if opt not in _SERVER_VALUE:
            raise InputError(display, line, 0, "", f"'{tok[:40]}' is not an ivshmem-server "
                             "option", "use -F -v -p PIDFILE -S SOCKET -m DIR (or -M NAME) "
                             "-l SIZE -n VECTORS")
        if i + 1 >= len(args):
            raise InputError(display, line, 0, "", f"{tok} has no value",
                             f"give {tok} its value as the next argument")
        value, vline = args[i + 1]
        out.wheres[opt] = F.Where(display, vline)
        key = _SERVER_VALUE[opt]
        if key == "size":
            out.size = size(value, display, vline, "-l")
        elif key == "vectors":
            if not value.isdigit():
                raise InputError(display, vline, 0, "", f"-n {value} is not a number",
                                 "give the vectors per peer, e.g. -n 2")
            out.vectors = int(value)
        elif key != "pidfile":
            setattr(out, key, value)
        i += 2
    return out

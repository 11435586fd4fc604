"""Is there a compiler for this architecture? Asked before any build starts.

Zephyr picks its toolchain from ZEPHYR_TOOLCHAIN_VARIANT: unset or 'zephyr'
means the Zephyr SDK (found through ZEPHYR_SDK_INSTALL_DIR, CMake's package
registry or the usual install folders), 'gnuarmemb' a GNU Arm Embedded tree
at GNUARMEMB_TOOLCHAIN_PATH, 'cross-compile' the compiler ${CROSS_COMPILE}gcc.
We look the same way, so that a missing toolchain is one message naming what
to install before the first build, not a CMake error in the middle of the
matrix. With the variant unset and no SDK, a GNU cross compiler on PATH is
accepted too (it is what the test stand-in builds with). Other variants
(llvm, host, ...) are not checked.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Mapping, Optional

from .errors import UsageError

SDK_TRIPLES = {"arm": "arm-zephyr-eabi", "aarch64": "aarch64-zephyr-elf"}
GNU_PREFIXES = {"arm": ["arm-none-eabi-"],
                "aarch64": ["aarch64-zephyr-elf-", "aarch64-none-elf-", "aarch64-linux-gnu-"]}
DEBIAN_PACKAGES = {"arm": "gcc-arm-none-eabi", "aarch64": "gcc-aarch64-linux-gnu"}

_SDK_GLOBS = ["~/zephyr-sdk-*", "~/.local/zephyr-sdk-*", "~/.local/opt/zephyr-sdk-*",
              "~/bin/zephyr-sdk-*", "/opt/zephyr-sdk-*", "/usr/zephyr-sdk-*",
              "/usr/local/zephyr-sdk-*"]


def sdk_dirs(environ: Mapping) -> list:
    """Candidate Zephyr SDK folders, in the order Zephyr's FindZephyr-sdk looks."""
    home = Path(environ.get("HOME") or Path.home())
    dirs = []
    if environ.get("ZEPHYR_SDK_INSTALL_DIR"):
        dirs.append(Path(environ["ZEPHYR_SDK_INSTALL_DIR"]))
    registry = home / ".cmake" / "packages" / "Zephyr-sdk"
    if registry.is_dir():
        for entry in sorted(registry.iterdir()):
            try:
                dirs.append(Path(entry.read_text().strip()).parent)
            except OSError:
                pass
    for pattern in _SDK_GLOBS:
        base = home if pattern.startswith("~") else Path("/")
        rel = pattern[2:] if pattern.startswith("~") else pattern[1:]
        dirs.extend(sorted(base.glob(rel)))
    return dirs


def compiler(arch: str, environ: Optional[Mapping] = None) -> Optional[str]:
    """The C compiler a build for `arch` ('arm', 'aarch64') would use.

    Returns its path, or None when the variant is not one we can check;
    raises UsageError naming what was looked for and how to get it.
    """
    environ = os.environ if environ is None else environ
    path = environ.get("PATH", "")
    variant = environ.get("ZEPHYR_TOOLCHAIN_VARIANT", "")
    if variant == "gnuarmemb":
        root = environ.get("GNUARMEMB_TOOLCHAIN_PATH", "")
        gcc = Path(root) / "bin" / "arm-none-eabi-gcc"
        if arch == "arm" and root and gcc.is_file():
            return str(gcc)
        if arch != "arm":
            raise UsageError(f"ZEPHYR_TOOLCHAIN_VARIANT=gnuarmemb has no compiler for {arch}; "
                             "unset it to use the Zephyr SDK")
        raise UsageError(f"ZEPHYR_TOOLCHAIN_VARIANT=gnuarmemb but {gcc} does not exist; set "
                         "GNUARMEMB_TOOLCHAIN_PATH to the folder that holds bin/arm-none-eabi-gcc")
    if variant == "cross-compile":
        prefix = environ.get("CROSS_COMPILE", "")
        found = shutil.which(prefix + "gcc", path=path) if prefix else None
        if found:
            return found
        raise UsageError(f"ZEPHYR_TOOLCHAIN_VARIANT=cross-compile but {prefix or '<unset>'}gcc "
                         "is not found; set CROSS_COMPILE to the compiler's prefix, e.g. "
                         "/usr/bin/arm-none-eabi-")
    if variant not in ("", "zephyr"):
        return None
    triple = SDK_TRIPLES.get(arch)
    if triple is None:
        return None
    looked = []
    for sdk in sdk_dirs(environ):
        gcc = sdk / triple / "bin" / f"{triple}-gcc"
        if gcc.is_file():
            return str(gcc)
        looked.append(str(sdk))
    if variant == "":
        for prefix in GNU_PREFIXES.get(arch, ()):
            found = shutil.which(prefix + "gcc", path=path)
            if found:
                return found
    where = (f"the Zephyr SDK ({', '.join(looked)})" if looked
             else "the Zephyr SDK (none installed: looked at $ZEPHYR_SDK_INSTALL_DIR, "
             "~/zephyr-sdk-*, /opt/zephyr-sdk-*)")
    gnu = " or ".join(p + "gcc" for p in GNU_PREFIXES.get(arch, ()))
    text = f"no {arch} compiler: found neither {triple}-gcc in {where}"
    if variant == "" and gnu:
        text += f" nor {gnu} on PATH"
    text += (f"; install the Zephyr SDK with its {triple} toolchain "
             f"(Zephyr 4.x: west sdk install -t {triple})")
    if variant == "" and arch in DEBIAN_PACKAGES:
        text += f", or a GNU cross compiler (Debian/Ubuntu: apt install {DEBIAN_PACKAGES[arch]})"
    raise UsageError(text)

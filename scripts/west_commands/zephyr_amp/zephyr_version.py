"""Which Zephyr the generated files target.

The generated files follow the targeted Zephyr where its APIs differ (lib/open-amp's
resource table changed in 4.2; the virtio drivers exist only from 4.x). amp-config
targets the workspace's Zephyr: the VERSION file of ZEPHYR_BASE, else of the west
workspace's zephyr project; without either, --zephyr-version (default 4.4).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

from .errors import UsageError

SUPPORTED = ("4.4", "3.7")
DEFAULT = "4.4"


def parse_version_file(text: str) -> Optional[str]:
    """'MAJOR.MINOR' of a zephyr/VERSION file's text (None when it has neither line)."""
    major = re.search(r"^\s*VERSION_MAJOR\s*=\s*(\d+)", text, re.M)
    minor = re.search(r"^\s*VERSION_MINOR\s*=\s*(\d+)", text, re.M)
    if not (major and minor):
        return None
    return f"{int(major.group(1))}.{int(minor.group(1))}"


def zephyr_tree(zephyr_base: Optional[str] = None, topdir: Optional[str] = None,
                manifest=None) -> Optional[Path]:
    """The Zephyr tree to read VERSION from: zephyr_base (or $ZEPHYR_BASE), else the
    zephyr project of the west workspace at topdir (of manifest, a west Manifest
    already read, when given); None when there is none."""
    base = zephyr_base or os.environ.get("ZEPHYR_BASE")
    if base:
        return Path(base)
    if manifest is None and topdir:
        try:
            from west.manifest import Manifest
            manifest = Manifest.from_topdir(topdir=str(topdir))
        except Exception:       # no manifest, or west cannot read it: no tree
            return None
    if manifest is not None:
        for p in manifest.projects:
            if p.name == "zephyr" and p.abspath:
                return Path(p.abspath)
    return None


def of_tree(tree: Optional[Path]) -> Optional[tuple]:
    """(version, VERSION file) of a Zephyr tree; None when it has no readable VERSION."""
    if tree is None:
        return None
    path = Path(tree) / "VERSION"
    try:
        version = parse_version_file(path.read_text(encoding="utf-8"))
    except OSError:
        return None
    return (version, path) if version else None


def check(version: str, origin: str = "--zephyr-version") -> str:
    """version as 'MAJOR.MINOR' if it is one this module generates for; else a UsageError
    naming where the version came from."""
    m = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.\d+)?\s*", str(version))
    norm = f"{int(m.group(1))}.{int(m.group(2))}" if m else str(version)
    if norm not in SUPPORTED:
        raise UsageError(f"{origin}: Zephyr {version} is not supported (zephyr-amp "
                         f"generates for Zephyr {' and '.join(SUPPORTED)}); pass "
                         f"--zephyr-version {DEFAULT}, or use a workspace of one of those")
    return norm


def target(option: Optional[str] = None, zephyr_base: Optional[str] = None,
           topdir: Optional[str] = None, manifest=None) -> str:
    """The version amp-config targets: the workspace's zephyr/VERSION when there is one
    (an option that disagrees with it is an error), else option, else DEFAULT; checked.
    manifest: the workspace's west Manifest when the caller has it (not read again)."""
    found = of_tree(zephyr_tree(zephyr_base, topdir, manifest))
    if not found:
        return check(option or DEFAULT)
    version, path = found
    version = check(version, str(path))
    if option and check(option) != version:
        raise UsageError(f"--zephyr-version {option}: the workspace's Zephyr is {version} "
                         f"({path}); leave --zephyr-version out, or generate outside "
                         f"that workspace (unset ZEPHYR_BASE)")
    return version


def at_least(version: str, minimum: tuple) -> bool:
    """True when 'MAJOR.MINOR' is at least (major, minor)."""
    major, minor = (int(x) for x in version.split("."))
    return (major, minor) >= tuple(minimum)

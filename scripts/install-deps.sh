#!/usr/bin/env bash
# Install everything the west amp-* commands and their tests use, on a fresh
# Debian/Ubuntu machine: the Debian packages (every one named, nothing left to
# "recommends"), then this package with its Python dependencies.
# Used by scripts/bootstrap.sh and .ci/run.
#
#   PYTHON=path/to/python3 bash scripts/install-deps.sh   # default: python3
#
# pip installs into that interpreter. A Debian system Python refuses pip
# (PEP 668, "externally-managed-environment"); there, outside a virtual
# environment, this script passes --break-system-packages, which puts the
# packages in /usr/local (root) or ~/.local, never over Debian's own. To keep
# them apart, make a venv first and give its python3 as PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# What each package is for:
#   gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi
#                   compile and link the generated C for the Cortex-R5 (tests)
#   gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu   the same for Cortex-A53
#   device-tree-compiler   dtc and fdtoverlay: build and apply the Linux overlays
#   qemu-system-arm        qemu-system-aarch64: boot the QEMU systems
#   ninja-build cmake      what west build and amp-build's builds run
#   cpp                    preprocess devicetree as Zephyr's build does
#   git                    west workspaces, amp-build's revisions
#   python3 python3-pip python3-venv   the commands, pip, and venvs
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi \
    gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu \
    device-tree-compiler qemu-system-arm \
    ninja-build cmake cpp git python3 python3-pip python3-venv >/dev/null

PIP=("$PYTHON" -m pip install -q --disable-pip-version-check)
if "$PYTHON" - <<'PY'
import sys, sysconfig, pathlib
managed = pathlib.Path(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED").is_file()
sys.exit(0 if managed and sys.prefix == sys.base_prefix else 1)
PY
then
    echo "install-deps.sh: $("$PYTHON" -c 'import sys; print(sys.executable)') is Debian's" \
         "(externally managed): pip --break-system-packages (see the top of this script)"
    PIP+=(--break-system-packages)
fi
# requirements.txt is what the commands import; .[test] adds the tests' own
"${PIP[@]}" -r requirements.txt -e '.[test]'

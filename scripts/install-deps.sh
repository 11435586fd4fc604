#!/usr/bin/env bash
# Install what west amp-config/-validate/-build and their tests use:
# Debian packages (cross compilers, dtc, QEMU) and this package with its
# Python dependencies. Used by scripts/bootstrap.sh and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi \
    gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu \
    device-tree-compiler qemu-system-arm ninja-build cpp git >/dev/null

python3 -m pip install -q --disable-pip-version-check -e '.[test]'

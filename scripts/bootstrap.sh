#!/usr/bin/env bash
# Quick start: install everything, make this checkout a west workspace (if
# it is not in one already), then run west amp-config on the bundled default
# system and show its memory map.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

if ! west topdir >/dev/null 2>&1; then
    # west init -l makes the parent directory the workspace; Zephyr itself is
    # not cloned (no `west update`), so its manifest import is filtered out
    # until you want it: west config -d manifest.project-filter && west update
    west init -l .
    west config manifest.project-filter -- -zephyr
fi

west amp-config systems/kv260-rpmsg.yaml --show

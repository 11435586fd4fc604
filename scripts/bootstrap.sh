#!/usr/bin/env bash
# Quick start: install what the commands and the tests need, make a west
# workspace in a folder this script names (never a folder you did not name:
# not this clone's parent), and generate the bundled default system there.
#
#   bash scripts/bootstrap.sh [--workspace DIR] [--no-install]
#
# --workspace DIR  the workspace folder (default: .workspace inside this
#                  clone, which git ignores). DIR must be new, empty, or a
#                  workspace this script made for this clone.
# --no-install     skip scripts/install-deps.sh (Debian packages and pip).
# PYTHON=...       the python3 to install into and run west with (as for
#                  install-deps.sh; default python3).
#
# The workspace's manifest repository is this clone, reached through the
# link DIR/zephyr-amp (west's manifest.path); Zephyr is not cloned and its
# import is filtered out (manifest.project-filter -zephyr) until you want it:
#   cd DIR && west config -d manifest.project-filter && west update
# Run the west amp-* commands inside DIR; amp-config, amp-validate and
# python3 -m zephyr_amp work anywhere.
set -euo pipefail
CLONE=$(cd "$(dirname "$0")/.." && pwd -P)
WS="$CLONE/.workspace"
INSTALL=1

while [ $# -gt 0 ]; do
    case "$1" in
        --workspace) [ $# -ge 2 ] || { echo "bootstrap.sh: --workspace needs a DIR" >&2; exit 2; }
                     WS="$2"; shift 2 ;;
        --workspace=*) WS="${1#*=}"; shift ;;
        --no-install) INSTALL=0; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "bootstrap.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$INSTALL" = 1 ]; then
    bash "$CLONE/scripts/install-deps.sh"
fi

mkdir -p "$WS"
WS=$(cd "$WS" && pwd -P)
LINK="$WS/zephyr-amp"
case "$CLONE/" in
    "$WS/"*) [ "$WS" = "$CLONE/.workspace" ] || {
        echo "bootstrap.sh: $WS contains this clone; name a folder inside it or elsewhere" >&2
        exit 2; } ;;
esac

if [ -d "$WS/.west" ]; then
    if [ ! -L "$LINK" ] || [ "$(cd "$LINK" && pwd -P)" != "$CLONE" ]; then
        echo "bootstrap.sh: $WS is already a west workspace, not one of this clone;" \
             "name another folder with --workspace DIR" >&2
        exit 2
    fi
    echo "=== west workspace $WS (already set up)"
else
    if [ -n "$(ls -A "$WS")" ]; then
        echo "bootstrap.sh: $WS is not empty; name a new or empty folder with --workspace DIR" >&2
        exit 2
    fi
    # what `west init -l` writes, with the manifest repository reached through
    # a link in the workspace: `west init -l` would take the clone's parent
    if [ "$WS" = "$CLONE/.workspace" ]; then
        ln -s .. "$LINK"
    else
        ln -s "$CLONE" "$LINK"
    fi
    mkdir "$WS/.west"
    cat > "$WS/.west/config" <<CONFIG
[manifest]
path = zephyr-amp
file = west.yml
project-filter = -zephyr
CONFIG
    echo "=== west workspace $WS (manifest: $LINK -> $CLONE; Zephyr not cloned)"
fi

cd "$WS"
# the west pip installed for ${PYTHON:-python3}, even where its scripts folder
# (~/.local/bin for a user install) is not on PATH
"${PYTHON:-python3}" -m west amp-config zephyr-amp/systems/kv260-rpmsg.yaml --show
echo
if ! command -v west >/dev/null 2>&1; then
    echo "Note: west is not on your PATH; add the folder pip put it in:" \
         "$("${PYTHON:-python3}" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')" \
         "(or ~/.local/bin for a user install)"
fi
echo "Workspace: $WS   (run the west amp-* commands there)"
echo "Generated: $WS/amp/kv260-rpmsg/"
echo "Next: python3 -m pytest -q   (in $CLONE)"

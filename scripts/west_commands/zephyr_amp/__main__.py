"""python -m zephyr_amp <command> ...: the west commands without west (see cli.py)."""

import sys

from .cli import main

sys.exit(main())

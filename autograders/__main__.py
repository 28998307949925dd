"""``python -m autograders ...``: see :mod:`autograders.cli`."""

from __future__ import annotations

import sys

from autograders.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``python -m autograders ...``: see :mod:`autograders.cli`."""

from __future__ import annotations

import os
import signal
import sys


def _interrupted_early(signum: int, frame: object) -> None:
    """Ctrl-C (or SIGTERM) before a command has started anything: exit quietly at once."""
    os.write(2, b"interrupted before anything was graded\n")
    os._exit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _interrupted_early)  # before the imports below (~0.5 s)
    signal.signal(signal.SIGTERM, _interrupted_early)
    from autograders.cli import main

    sys.exit(main(sys.argv[1:]))

"""What Ctrl-C and SIGTERM do to a running batch (``python -m autograders batch``).

* The first SIGINT sets :attr:`BatchSignals.stop`: the batch takes no new submission, records
  those that finish within a few seconds, abandons the rest and exits 130 after printing
  ``interrupted: N recorded, M left; run the same command again to resume``.
* A second SIGINT, or SIGTERM, ends everything at once: every descendant process (Dask
  workers, their sandboxes) is killed, the same counts are printed, and the process exits
  130 (SIGINT) or 143 (SIGTERM).  A submission being recorded at that instant is rolled back
  by its transaction, so the next run grades it again; nothing recorded is lost.

No traceback is printed either way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

import psutil


class _Counts(Protocol):
    recorded: int

    @property
    def left(self) -> int: ...


def exit_code(signum: int) -> int:
    """The shell's convention: 128 + the signal's number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + int(signum)


def resume_hint(counts: _Counts) -> str:
    return (f"{counts.recorded} recorded, {counts.left} left; run the same command again to "
            "resume")


def kill_descendants(settle: float = 0.2, rounds: int = 25) -> int:
    """SIGKILL every descendant process of this one; return how many were killed.

    Scans again until a scan finds none, so a process started meanwhile (a respawned worker,
    a sandbox being set up) goes too.
    """
    me = psutil.Process()
    killed = 0
    for _ in range(rounds):
        try:
            children = me.children(recursive=True)
        except psutil.Error:
            break
        if not children:
            break
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()
                killed += 1
        psutil.wait_procs(children, timeout=settle)
        time.sleep(0.01)
    return killed


#: Called (with no argument) before a hard stop kills the child processes, e.g. to tell Dask's
#: nannies not to restart the workers about to be killed.
BEFORE_HARD_STOP: list[Callable[[], None]] = []


def kill_trees(pids: list[int], wait: float = 0.2) -> None:
    """SIGKILL each process of ``pids`` and all its descendants (found before killing)."""
    procs = []
    for pid in pids:
        if pid <= 0:
            continue
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            procs += [proc, *proc.children(recursive=True)]
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(procs, timeout=wait)


def _kill_resource_tracker() -> None:
    """Silence multiprocessing's resource tracker, then kill it: it would otherwise report every
    semaphore of the processes killed next (and be relaunched to report more)."""
    from multiprocessing import resource_tracker

    tracker = resource_tracker._resource_tracker
    tracker._send = lambda *args, **kwargs: None  # type: ignore[method-assign]
    pid = getattr(tracker, "_pid", None)
    if pid:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


class BatchSignals:
    """Context manager installing the SIGINT/SIGTERM policy above (main thread only)."""

    def __init__(self, counts: _Counts) -> None:
        self.counts = counts
        self.stop = threading.Event()
        self._old: dict[int, Any] = {}

    def __enter__(self) -> BatchSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and not self.stop.is_set():
            self.stop.set()
            return
        self.hard_stop(signum)

    def hard_stop(self, signum: int) -> None:
        """Kill every child process, say what is left, exit now (never returns)."""
        try:
            warnings.simplefilter("ignore")  # e.g. multiprocessing's notes on what it leaves
            for hook in list(BEFORE_HARD_STOP):
                with contextlib.suppress(Exception):
                    hook()
            _kill_resource_tracker()  # first: it would report on every process killed below
            kill_descendants()
            os.write(2, f"\nstopped at once: {resume_hint(self.counts)}\n".encode())
        finally:
            os._exit(exit_code(signum))

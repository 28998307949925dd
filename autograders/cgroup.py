"""A memory cgroup per sandboxed worker, where this machine lets the grader make one.

The kernel then enforces the worker's memory cap exactly (its OOM killer stops the worker the
moment the cap is reached), where a watchdog polling ``/proc`` could be a few hundred MB late.
Both cgroup versions are handled:

* v1: a child of the grader's own group in the ``memory`` hierarchy, with
  ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes``, so no swapping around it);
* v2: a child of the grader's own group, used only where the ``memory`` controller is enabled
  for its children (``memory.max`` exists there), with ``memory.swap.max = 0``.

Where neither works (no permission, no controller), :func:`problem` says why and the sandbox
falls back to its resident-set watchdog.  Groups are named ``mmids-worker-<grader pid>-<n>``;
groups left behind by a grader that was killed are removed by the next one.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
from pathlib import Path

_ROOT = Path("/sys/fs/cgroup")
_PREFIX = "mmids-worker-"
_counter = itertools.count()


@functools.cache
def _own_group() -> tuple[Path, int] | None:
    """(folder of this process's memory cgroup, version), or ``None`` (read once)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder = _ROOT / "memory" / path.lstrip("/")
            if folder.is_dir():
                return folder, 1
    for line in lines:
        if line.startswith("0::"):
            folder = _ROOT / line[3:].lstrip("/")
            if (folder / "cgroup.controllers").exists():
                return folder, 2
    return None


class MemoryCgroup:
    """One worker's memory cgroup: ``join_file`` is written by the worker before it starts."""

    def __init__(self, folder: Path, version: int, limit: int) -> None:
        self.folder, self.version, self.limit = folder, version, limit
        self.join_file = str(folder / "cgroup.procs")

    @classmethod
    def create(cls, limit: int) -> MemoryCgroup:
        """A new group capped at ``limit`` bytes; ``OSError`` if this machine does not allow it."""
        found = _own_group()
        if found is None:
            raise OSError("no memory cgroup controller is mounted")
        parent, version = found
        folder = parent / f"{_PREFIX}{os.getpid()}-{next(_counter)}"
        folder.mkdir()
        group = cls(folder, version, limit)
        try:
            if version == 1:
                (folder / "memory.limit_in_bytes").write_text(str(limit))
                swap = folder / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    swap.write_text(str(limit))
            else:
                if not (folder / "memory.max").exists():
                    raise OSError("the memory controller is not enabled for child cgroups")
                (folder / "memory.max").write_text(str(limit))
                swap = folder / "memory.swap.max"
                if swap.exists():
                    swap.write_text("0")
        except OSError:
            group.remove()
            raise
        return group

    def join(self) -> None:
        """Move the calling process into the group (run in the child, before ``exec``)."""
        with open(self.join_file, "w") as fh:
            fh.write(str(os.getpid()))

    def oom_killed(self) -> bool:
        """Did the kernel's OOM killer stop a process of this group?"""
        try:
            if self.version == 1:
                text = (self.folder / "memory.oom_control").read_text()
            else:
                text = (self.folder / "memory.events").read_text()
        except (OSError, ValueError):
            return False
        counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
        return int(counts.get("oom_kill", "0")) > 0

    def remove(self, wait: float = 2.0) -> None:
        """Delete the group once its processes are gone (a group still busy after ``wait``
        seconds is left for the next grader to remove)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                self.folder.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.02)


def _remove_stale(parent: Path) -> None:
    """Remove empty groups of graders that no longer run (killed before cleaning up)."""
    try:
        entries = list(parent.glob(f"{_PREFIX}*"))
    except OSError:
        return
    for folder in entries:
        pid = folder.name[len(_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
            try:
                folder.rmdir()
            except OSError:
                pass


@functools.cache
def problem() -> str | None:
    """``None`` where a memory cgroup can be made here, else the reason it cannot.

    Asked once per grader process, which is also when groups left behind by killed graders
    are removed.
    """
    found = _own_group()
    if found is not None:
        _remove_stale(found[0])
    try:
        MemoryCgroup.create(64 * 2**20).remove()
    except OSError as exc:
        where = f" in {found[0]}" if found is not None else ""
        return (f"no memory cgroup for the workers ({exc.strerror or exc}{where}); the "
                "resident-set watchdog is used")
    return None

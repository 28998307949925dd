"""The fallback isolation where bubblewrap cannot run but the grader is root: a separate user.

A Gradescope container runs the autograder as root under Docker's default seccomp profile,
which usually refuses the namespaces bubblewrap needs.  There the worker runs instead as a
dedicated unprivileged user (created by the autograder's ``setup.sh``), dropped to with
``setpriv`` (no supplementary groups, no capabilities, ``no_new_privs``), with the same resource
limits (set before the drop, so the user cannot raise them), in a private home folder (mode
0700).  Everything the student's code must not reach is hidden by file permissions instead of
mounts: the grader's files and the differentiation libraries live in folders the user cannot
enter.  :func:`probe` checks that, as the user, before any student code runs.

What a separate user cannot give, and bubblewrap does: its own network (the code can open
sockets), its own process view (it can list other processes, though not signal or trace
them) and a size-capped ``/tmp``.  :func:`probe` returns those as plain-words gaps.

The sandbox user must be dedicated to one grader process: ending a worker ends every process
of that user (a forked child that left the worker's process group included).  :func:`claim`
enforces it with a lock, and refuses a user that already runs processes.
"""

from __future__ import annotations

import fcntl
import grp
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SandboxUser:
    """An unprivileged account the worker runs as (never uid 0)."""

    name: str
    uid: int
    gid: int

    @classmethod
    def lookup(cls, user: str | int) -> SandboxUser:
        """The account named (or numbered) ``user``; ``ValueError`` if unknown or root."""
        try:
            entry = pwd.getpwuid(user) if isinstance(user, int) else pwd.getpwnam(user)
        except KeyError:
            raise ValueError(f"there is no user {user!r} to run student code as") from None
        if entry.pw_uid == 0 or entry.pw_gid == 0:
            raise ValueError(f"user {entry.pw_name!r} is root or in group root: it cannot "
                             "be the sandbox user")
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    def group_name(self) -> str:
        try:
            return grp.getgrgid(self.gid).gr_name
        except KeyError:
            return str(self.gid)


_CLAIMS: dict[int, int] = {}


def claim(user: SandboxUser) -> str | None:
    """Make ``user`` this grader process's own (a lock held until the process ends).

    Ending a worker ends every process of the user, so two graders sharing one would kill
    each other's workers and share one ``RLIMIT_NPROC`` budget.  ``None`` once claimed, else
    why not (another grader holds it, or the user already runs processes).
    """
    if user.uid in _CLAIMS:
        return None
    path = Path(tempfile.gettempdir()) / f"mmids-sandbox-user-{user.uid}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        return f"cannot lock {path}: {exc.strerror or exc}"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return (f"another grader process already runs student code as {user.name!r}; each "
                "needs a sandbox user of its own")
    running = pids_of(user.uid)
    if running:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        return (f"user {user.name!r} already runs {len(running)} processes (pids "
                f"{', '.join(map(str, running[:5]))}); the sandbox user must run nothing else")
    _CLAIMS[user.uid] = fd
    return None


def setpriv_argv(user: SandboxUser) -> list[str]:
    """The command prefix that drops root to ``user``: no groups, no capabilities at all."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise FileNotFoundError("`setpriv` (util-linux) is needed to run code as another user")
    return [setpriv, f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def make_home(user: SandboxUser) -> Path:
    """A fresh private folder owned by ``user`` (mode 0700): the worker's HOME, TMPDIR and cwd."""
    home = Path(tempfile.mkdtemp(prefix="mmids-worker-"))
    os.chown(home, user.uid, user.gid)
    home.chmod(0o700)
    return home


def pids_of(uid: int) -> list[int]:
    """Pids of every process whose real uid is ``uid`` (from ``/proc``)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Uid:"):
                        if int(line.split()[1]) == uid:
                            found.append(int(entry))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return found


def kill_all(user: SandboxUser, python: str | Path, wait: float = 5.0) -> bool:
    """SIGKILL every process of ``user`` (``kill(-1)`` run as that user); True once none is left.

    ``kill(-1)`` reaches every process the caller may signal, in one system call, so children
    that left the worker's process group (``setsid``) or were orphaned are ended too.
    """
    deadline = time.monotonic() + wait
    while pids_of(user.uid):
        try:
            subprocess.run([str(python), "-I", "-S", "-c",
                            f"import os; os.kill(-1, {int(signal.SIGKILL)})"],
                           user=user.uid, group=user.gid, extra_groups=[], env={},
                           cwd="/", capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            pass
        if time.monotonic() > deadline:
            return not pids_of(user.uid)
        time.sleep(0.02)
    return True


_PROBE = """\
import json, os, sys
hidden, writable = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {"numpy": None, "readable": [], "writable": []}
try:
    import numpy
    out["numpy"] = numpy.__version__
except Exception as exc:
    out["error"] = f"{type(exc).__name__}: {exc}"
out["readable"] = [p for p in hidden if os.access(p, os.R_OK)]
out["writable"] = [p for p in writable if os.access(p, os.W_OK)]
print(json.dumps(out))
"""


def probe(user: SandboxUser, python: str | Path, *, hidden: list[str],
          read_only: list[str]) -> tuple[str | None, list[str]]:
    """Run ``python`` as ``user`` and check what it can reach: ``(problem, gaps)``.

    ``problem`` (refuse to grade) when the user cannot start the interpreter or import numpy,
    or can write to one of ``read_only`` (the interpreter, its packages, ``mmids``: code the
    grader itself runs).  ``gaps`` lists, in plain words, what this isolation does not
    enforce, including every path of ``hidden`` (grader files, differentiation libraries) the
    user can read.
    """
    if os.geteuid() != 0:
        return "only root can run student code as another user", []
    if user.uid == os.getuid():
        return f"the sandbox user {user.name!r} is the grader's own user", []
    problem = claim(user)
    if problem is not None:
        return problem, []
    try:
        argv = setpriv_argv(user)
    except FileNotFoundError as exc:
        return str(exc), []
    home = make_home(user)
    try:
        done = subprocess.run(argv + [str(python), "-I", "-c", _PROBE, json.dumps(hidden),
                                      json.dumps(read_only)],
                              capture_output=True, text=True, timeout=60, cwd=home,
                              env={"HOME": str(home), "PATH": "/usr/bin:/bin"}, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"could not start {python} as user {user.name!r}: {exc}", []
    finally:
        shutil.rmtree(home, ignore_errors=True)
    try:
        seen = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return (f"user {user.name!r} cannot run {python} (exit {done.returncode}): "
                f"{done.stderr.strip()[-300:]}"), []
    if seen.get("numpy") is None:
        return f"user {user.name!r} cannot import numpy with {python}: {seen.get('error')}", []
    if seen["writable"]:
        return (f"user {user.name!r} can write to {', '.join(seen['writable'])}, which the "
                "grader itself runs: install them as root, read-only for others"), []
    gaps = [f"as user {user.name!r} (no bubblewrap here) the student's code has the network "
            "(it can open sockets), sees the other processes of the machine (it cannot signal "
            "or trace them), and /tmp is not size-capped (only each file, by RLIMIT_FSIZE)"]
    if seen["readable"]:
        gaps.append(f"user {user.name!r} can read {', '.join(seen['readable'])}: only the "
                    "import blocker and the grader's screening keep these out of the "
                    "student's code (make their folders unreadable to others, mode 0700)")
    return None, gaps

"""A light, sandboxed worker process per submission, built on bubblewrap.

The worker sees a read-only view of the system (``/usr``), the Python installation, the
virtual environment (and the package folders its interpreter puts on ``sys.path``) and the
``mmids`` package, and a private size-capped ``/tmp`` tmpfs; nothing else of the course
directory (gradebook, submissions, source notebooks, ``autograders/``) exists inside, and the
folders of differentiation libraries (torch, jax, ...) are covered by empty mounts.  It has no
network (own, empty network namespace), its own PID/IPC/UTS namespaces, dies with its parent,
and runs as an unprivileged uid with no capabilities.  Limits:

==================  ==============================================================
wall clock          per request, enforced by the grader (``Limits.call_seconds``)
CPU time            ``RLIMIT_CPU`` (SIGXCPU, then SIGKILL)
file size           ``RLIMIT_FSIZE`` (also caps the captured stdout/stderr file)
output size         watchdog on the captured stdout/stderr file
memory              a memory cgroup (:mod:`autograders.cgroup`) where the machine allows
                    one, a generous ``RLIMIT_AS`` (``import torch`` needs a few GB of
                    address space), and a watchdog on the summed resident set of the
                    sandbox processes (the cap where no cgroup can be made)
processes           ``RLIMIT_NPROC``, set by the worker's first statement inside the
                    sandbox, so it counts the sandbox's processes only (fork bombs)
/tmp                tmpfs of ``Limits.tmp_bytes``
==================  ==============================================================

Who runs it:

* **root**: bwrap runs privileged and drops to a uid of its own per grader process
  (``setpriv``) before Python starts;
* **an ordinary user** (an instructor on a JupyterHub): bwrap creates a user namespace
  (``--unshare-user``, nested ones disabled).  ``RLIMIT_NPROC`` is set inside that namespace,
  and since Linux 5.14 the kernel counts it per (user namespace, uid): the limit counts the
  sandbox's processes, never the instructor's others.  Where unprivileged user namespaces are
  disabled, :func:`sandbox_problem` says which setting to change (:mod:`autograders.userns`);
* **root where bubblewrap cannot run** (a Gradescope container) and the caller opted in with
  :func:`run_as_user`: the worker runs as that dedicated unprivileged user
  (:mod:`autograders.runas`), with the same limits and file permissions instead of mounts.

:func:`enforcement_gaps` lists, in plain words, what the isolation in use cannot enforce here.
The cgroup needs write access to the grader's own cgroup folder (root, or a delegated
subtree); without it the watchdog, which polls ``/proc``, is the memory cap.
Where no isolation can run, :func:`sandbox_problem` says why and the grader refuses to run
student code unless the instructor explicitly asks for an unsandboxed worker.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograders import cgroup, rpc, runas, userns, worker
from autograders.cgroup import MemoryCgroup
from autograders.monitor import DIFFERENTIATION_LIBRARIES, installed_locations
from autograders.runas import SandboxUser

MiB = 2**20
GiB = 2**30


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker (seconds and bytes)."""

    call_seconds: float = 10.0
    setup_seconds: float = 20.0
    cpu_seconds: int = 60
    address_space: int = 8 * GiB
    rss_bytes: int = 2 * GiB
    file_bytes: int = 16 * MiB
    output_bytes: int = 1 * MiB
    tmp_bytes: int = 64 * MiB
    processes: int = 32

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not value > 0:
                raise ValueError(f"Limits.{name} must be positive, got {value!r}")


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot run here; untrusted code must not run unsandboxed by accident."""


class WorkerDied(Exception):
    """The worker is gone (crash, limit, timeout); ``str()`` says why in plain words."""


def _python_install() -> Path:
    """The Python installation the venv's interpreter resolves to (``sys.base_prefix``)."""
    return Path(sys.base_prefix).resolve()


@functools.cache
def _worker_python() -> Path:
    """The interpreter the worker runs: this venv's ``bin/python`` under the venv's real path
    (so a venv reached through a symlink still finds its ``pyvenv.cfg`` inside the sandbox)."""
    if sys.prefix != sys.base_prefix:
        exe = Path(sys.prefix).resolve() / "bin" / "python"
        if exe.exists():
            return exe
    return Path(sys.executable)


@functools.cache
def _worker_view() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(sys.path, differentiation library locations)`` as the worker's interpreter sees them.

    Asked once per process from ``python -I`` (what the worker runs): a venv whose ``.pth``
    files add package folders outside the venv gets those folders mounted, and a library
    installed there is hidden like one in the venv.
    """
    code = ("import importlib.util, json, os, sys\n"
            "libs = []\n"
            "for name in json.loads(sys.argv[1]):\n"
            "    try:\n"
            "        spec = importlib.util.find_spec(name)\n"
            "    except (ImportError, ValueError):\n"
            "        continue\n"
            "    if spec is None:\n"
            "        continue\n"
            "    for folder in spec.submodule_search_locations or ():\n"
            "        libs.append(os.path.realpath(folder))\n"
            "        break\n"
            "    else:\n"
            "        if spec.origin and os.path.isfile(spec.origin):\n"
            "            libs.append(os.path.realpath(spec.origin))\n"
            "print(json.dumps([sys.path, libs]))\n")
    try:
        done = subprocess.run([str(_worker_python()), "-I", "-c", code,
                               json.dumps(sorted(DIFFERENTIATION_LIBRARIES))],
                              capture_output=True, text=True, timeout=60, check=True)
        path, libs = json.loads(done.stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return (), ()
    return tuple(str(p) for p in path), tuple(str(p) for p in libs)


def _hidden_locations() -> list[str]:
    """Folders (or files) of every differentiation library the grader or the worker can find."""
    return sorted({*installed_locations().values(), *_worker_view()[1]})


def _mmids_dir() -> Path | None:
    try:
        import mmids
    except ImportError:
        return None
    return Path(mmids.__file__).resolve().parent


def _holds_grader(folder: Path) -> bool:
    """Would mounting ``folder`` (or putting it on the worker's path) expose the grader?"""
    return (folder / "autograders").is_dir()


def _read_only_paths() -> list[Path]:
    """Where the sandbox mounts read-only folders (each shows what its resolved path holds)."""
    paths = [Path("/usr"), _python_install(), Path(sys.prefix).resolve()]
    for entry in _worker_view()[0]:
        path = Path(entry).absolute()  # mounted where the worker will look for it
        if (path.exists() and not any(path.is_relative_to(p) for p in paths)
                and not _holds_grader(path.resolve())):
            paths.append(path)
    mm = _mmids_dir()
    if mm is not None and not any(mm.is_relative_to(p) for p in paths):
        paths.append(mm)
    return paths


_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/nsswitch.conf")


@functools.cache
def _bwrap_supports(option: str) -> bool:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False
    try:
        done = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return option in done.stdout + done.stderr


def bwrap_argv(limits: Limits, uid: int, *, hide_libraries: bool = True) -> list[str]:
    """The bubblewrap command line (everything before the worker command).

    With ``hide_libraries`` the folders of the differentiation libraries installed in the venv
    (:data:`autograders.monitor.DIFFERENTIATION_LIBRARIES`: torch, jax, ...) are covered by
    empty, read-only mounts, so no trick of the student's code can import them.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (`bwrap`) is not installed")
    argv = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--hostname", "sandbox", "--clearenv"]
    # The private /tmp comes first, so that read-only paths that lie under /tmp (a course
    # checked out in /tmp, say) are mounted on top of it instead of being hidden by it.
    argv += ["--size", str(limits.tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp"]
    made: set[str] = {"/", "/tmp"}
    read_only = ["/"]  # remounted read-only once everything is mounted

    def parents_of(path: Path) -> None:
        for parent in reversed(path.parents):
            if str(parent) in made:
                continue
            if parent.parent == Path("/tmp"):
                # a read-only path under /tmp: its folders get a tmpfs of their own, made
                # read-only at the end (the private /tmp itself stays writable)
                argv.extend(["--perms", "0755", "--tmpfs", str(parent)])
                read_only.append(str(parent))
            else:
                argv.extend(["--perms", "0755", "--dir", str(parent)])
            made.add(str(parent))

    for link in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        target = Path("/") / link
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), str(target)]
            made.add(str(target))
    for path in _read_only_paths():
        parents_of(path)
        argv += ["--ro-bind", str(path.resolve()), str(path)]
        made.add(str(path))
    prefix = Path(sys.prefix).absolute()
    if prefix.is_symlink() and str(prefix) not in made:  # a venv linked from elsewhere
        parents_of(prefix)
        argv += ["--symlink", str(prefix.resolve()), str(prefix)]
    if hide_libraries:
        for location in _hidden_locations():
            if os.path.isdir(location):
                argv += ["--perms", "0555", "--tmpfs", location, "--remount-ro", location]
            else:
                argv += ["--ro-bind", "/dev/null", location]
    argv += ["--perms", "0755", "--dir", "/etc"]
    for etc in _ETC_FILES:
        argv += ["--ro-bind-try", etc, etc]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    # the root folder and the mount points made on it read-only (for an ordinary user they
    # belong to the sandbox's own uid): only /tmp is writable
    for folder in reversed(read_only):
        argv += ["--remount-ro", folder]
    argv += ["--chdir", "/tmp"]
    env = {"HOME": "/tmp", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TMPDIR": "/tmp",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for key, value in env.items():
        argv += ["--setenv", key, value]
    if os.geteuid() == 0:
        # bwrap runs privileged: keep only the right to drop to an unprivileged uid, and drop
        # to it before Python starts (RLIMIT_NPROC does not apply to uid 0).
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise SandboxUnavailable("`setpriv` (util-linux) is needed to drop root in the sandbox")
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--", setpriv,
                 f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                 "--bounding-set=-all", "--no-new-privs"]
    else:
        # an ordinary user: a user namespace of the sandbox's own (its RLIMIT_NPROC count
        # starts at zero), in which the student's code may not create further ones
        argv += ["--unshare-user"]
        if _bwrap_supports("--disable-userns"):
            argv += ["--disable-userns"]
        argv += ["--"]
    return argv


@functools.cache
def sandbox_problem() -> str | None:
    """``None`` when bubblewrap works here, else the reason it does not (with the fix, where
    the reason is that this user may not create user namespaces)."""
    try:
        argv = bwrap_argv(Limits(), _sandbox_uid()) + [str(_worker_python()), "-I", "-c", "pass"]
    except SandboxUnavailable as exc:
        return str(exc)
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, text=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap failed to start: {exc}"
    if done.returncode != 0:
        if os.geteuid() != 0:
            advice = userns.explain(done.stderr, read=userns.read_sysctl)
            if advice is not None:
                return advice
        return f"bubblewrap failed (exit {done.returncode}): {done.stderr.strip()[:300]}"
    return None


def _sandbox_uid() -> int:
    """An unprivileged uid for this grader process's sandboxes (its own RLIMIT_NPROC budget)."""
    return 61000 + os.getpid() % 4000


# ------------------------------------------------------------------ isolation in use
_FALLBACK: dict[str, Any] = {"user": None, "instead_of_bwrap": False}


def run_as_user(user: str | int | None, *, instead_of_bwrap: bool = False) -> None:
    """Where bubblewrap cannot run, run workers as this dedicated unprivileged ``user``.

    For a grader running as root in a container that refuses namespaces (Gradescope); the user
    must serve this one grader process only (see :mod:`autograders.runas`).
    ``instead_of_bwrap`` uses the user even where bubblewrap works (to test the fallback).
    ``None`` switches the fallback off.  ``ValueError`` if the user does not exist or is root.
    """
    _FALLBACK["user"] = None if user is None else SandboxUser.lookup(user)
    _FALLBACK["instead_of_bwrap"] = bool(instead_of_bwrap)
    isolation.cache_clear()
    _user_check.cache_clear()


@functools.cache
def _user_check() -> tuple[str | None, tuple[str, ...]]:
    user: SandboxUser | None = _FALLBACK["user"]
    if user is None:
        return "no sandbox user was configured", ()
    import autograders

    hidden = [*_hidden_locations(), str(Path(autograders.__file__).resolve().parent)]
    read_only = [str(_python_install()), str(Path(sys.prefix).resolve()),
                 *(p for p in _worker_view()[0] if "-packages" in p)]
    mm = _mmids_dir()
    if mm is not None:
        read_only.append(str(mm))
    problem, gaps = runas.probe(user, _worker_python(), hidden=hidden, read_only=read_only)
    return problem, tuple(gaps)


@functools.cache
def isolation() -> str | None:
    """How student code is isolated here: ``"bwrap"``, ``"user"`` (see :func:`run_as_user`),
    or ``None`` (it must not run)."""
    if not _FALLBACK["instead_of_bwrap"] and sandbox_problem() is None:
        return "bwrap"
    if _FALLBACK["user"] is not None and _user_check()[0] is None:
        return "user"
    return None


def isolation_problem() -> str | None:
    """``None`` when student code can be isolated here, else why not (bubblewrap's reason, and
    the sandbox user's where one was configured)."""
    if isolation() is not None:
        return None
    reasons = [] if _FALLBACK["instead_of_bwrap"] else [sandbox_problem() or "?"]
    if _FALLBACK["user"] is not None:
        reasons.append(f"running as user {_FALLBACK['user'].name!r} is not safe here: "
                       f"{_user_check()[0]}")
    return "; ".join(reasons)


def enforcement_gaps() -> list[str]:
    """What the isolation in use cannot enforce on this machine, one plain sentence each."""
    mode = isolation()
    gaps: list[str] = []
    if mode is None:
        return gaps
    if mode == "bwrap" and os.geteuid() != 0 and not userns.nproc_counted_per_namespace():
        gaps.append(f"processes: this kernel ({os.uname().release}, older than 5.14) counts "
                    "RLIMIT_NPROC over every process of your user, not per sandbox, so the "
                    f"limit of {Limits().processes} processes includes your own: while you run "
                    "that many, the student's code cannot start any process")
    problem = cgroup.problem()
    if problem is not None:
        gaps.append(f"memory: {problem} (it samples every {Worker.POLL * 1000:g} ms, so a "
                    "fast allocation can exceed the cap for that long)")
    if mode == "user":
        gaps += _user_check()[1]
    return gaps


def _bootstrap(nproc: int | None = None, path: Sequence[str] = ()) -> str:
    """The worker's command-line program: limits first, then the worker's own code.

    ``nproc``: ``RLIMIT_NPROC`` (soft and hard), set before anything else runs.  Set here,
    inside the sandbox's user namespace, it counts only the sandbox's own processes.
    ``path``: folders put first on ``sys.path`` (the ``mmids`` the grader mounted).
    """
    sources = {"rpc": Path(rpc.__file__).read_text(), "worker": Path(worker.__file__).read_text()}
    head = "import sys, types\n"
    if nproc is not None:
        head = ("import resource\n"
                f"resource.setrlimit(resource.RLIMIT_NPROC, ({int(nproc)}, {int(nproc)}))\n"
                + head)
    for folder in reversed(list(path)):
        head += f"sys.path.insert(0, {str(folder)!r})\n"
    return (
        head +
        "def _load(name, src):\n"
        "    m = types.ModuleType(name)\n"
        "    sys.modules[name] = m\n"
        "    exec(compile(src, name + '.py', 'exec'), m.__dict__)\n"
        "    return m\n"
        f"_rpc = _load('sandbox_rpc', {sources['rpc']!r})\n"
        f"_load('sandbox_worker', {sources['worker']!r}).main(_rpc)\n"
    )


def _worker_path(mode: str | None) -> list[str]:
    """Where the worker finds the same ``mmids`` as the grader (when not on its own path)."""
    mm = _mmids_dir()
    if mm is None or str(mm.parent) in _worker_view()[0]:
        return []
    if mode != "bwrap" and _holds_grader(mm.parent):  # without mounts the grader would show
        return []
    return [str(mm.parent)]


def _set_limits(limits: Limits, group: MemoryCgroup | None = None) -> None:
    """preexec_fn: resource limits inherited by bwrap and the worker (not async-signal-unsafe).

    With a memory cgroup the child joins it here, before anything of the worker is loaded.
    ``RLIMIT_NPROC`` is not among them: the worker sets it itself, inside the sandbox.
    """
    if group is not None:
        group.join()
    pairs = [
        (resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1)),
        (resource.RLIMIT_AS, (limits.address_space, limits.address_space)),
        (resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_NOFILE, (256, 256)),
    ]
    for res, value in pairs:
        resource.setrlimit(res, value)


def _process_tree(root: int) -> list[int]:
    """Pids of ``root`` and all its descendants, from one scan of ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            continue
    return total


def _signal_reason(sig: int, limits: Limits) -> str:
    if sig == signal.SIGXCPU:
        return f"it used more than {limits.cpu_seconds} s of CPU time"
    if sig == signal.SIGXFSZ:
        return (f"it wrote a file or printed output larger than "
                f"{limits.file_bytes // MiB} MB")
    if sig == signal.SIGKILL:
        return ("it was killed (CPU time limit of "
                f"{limits.cpu_seconds} s, or the system ran out of memory)")
    name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
    return f"it crashed with signal {name}"


class Worker:
    """One running worker process (sandboxed unless ``sandboxed=False``).

    ``request(msg, timeout)`` sends one message and returns the reply; any failure (death,
    timeout, limit, malformed reply) kills the worker and raises :class:`WorkerDied` whose
    message explains what happened in plain words.
    """

    POLL = 0.05

    def __init__(self, limits: Limits, *, sandboxed: bool = True,
                 hide_libraries: bool = True) -> None:
        #: ``"bwrap"``, ``"user"`` (a separate unprivileged user) or ``None`` (unsandboxed)
        self.mode = isolation() if sandboxed else None
        self._user: SandboxUser | None = None
        self._home: Path | None = None
        if sandboxed and self.mode is None:
            raise SandboxUnavailable(isolation_problem() or "no sandbox can run here")
        env: dict[str, str] | None = None  # bwrap clears the environment itself
        cwd = tempfile.gettempdir()
        if self.mode == "bwrap":
            argv = bwrap_argv(limits, _sandbox_uid(), hide_libraries=hide_libraries)
        elif self.mode == "user":
            self._user = _FALLBACK["user"]
            assert self._user is not None
            argv = runas.setpriv_argv(self._user)
            self._home = runas.make_home(self._user)
            cwd = str(self._home)
            env = {"HOME": cwd, "TMPDIR": cwd, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                   "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        else:
            argv = []
            env = {"PATH": "/usr/bin:/bin", "HOME": tempfile.gettempdir(),
                   "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        #: the kernel-enforced memory cap, where the machine allows one (else the watchdog's)
        self.cgroup: MemoryCgroup | None = None
        if sandboxed and cgroup.problem() is None:
            try:
                self.cgroup = MemoryCgroup.create(limits.rss_bytes)
            except OSError:
                self.cgroup = None
        argv += [str(_worker_python()), "-I", "-B", "-c",
                 _bootstrap(limits.processes if sandboxed else None, _worker_path(self.mode))]
        self.limits = limits
        self._reason: str | None = None
        self._closed = False
        self._output = tempfile.TemporaryFile(prefix="mmids-worker-out-")
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._output,
            preexec_fn=functools.partial(_set_limits, limits, self.cgroup),
            start_new_session=True, close_fds=True, env=env, cwd=cwd,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._to, self._from = self._proc.stdin.fileno(), self._proc.stdout.fileno()
        self.peak_rss = 0
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, daemon=True)
        self._watchdog.start()

    def _pids(self) -> list[int]:
        """The sandbox's processes: the worker's tree (its PID namespace), or every process of
        the sandbox user (whose children may have left the tree)."""
        if self._user is not None:
            return runas.pids_of(self._user.uid)
        return _process_tree(self._proc.pid)

    # ---------------------------------------------------------------- lifecycle
    def _watch(self) -> None:
        while not self._stop.wait(self.POLL):
            if self._proc.poll() is not None:
                return
            try:
                out = os.fstat(self._output.fileno()).st_size
            except (OSError, ValueError):
                return
            if out > self.limits.output_bytes:
                self.kill(f"it printed more than {self.limits.output_bytes // 1024} KB of output")
                return
            rss = _rss(self._pids())
            self.peak_rss = max(self.peak_rss, rss)
            if rss > self.limits.rss_bytes:
                self.kill(f"it used more than {self.limits.rss_bytes // MiB} MB of memory")
                return

    def kill(self, reason: str) -> None:
        """Stop the worker (and everything in its PID namespace, or every process of the
        sandbox user) and remember why."""
        if self._reason is None:
            self._reason = reason
        if self._closed:  # the sandbox user's processes may belong to the next worker now
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self._user is not None:
            runas.kill_all(self._user, _worker_python())

    @property
    def alive(self) -> bool:
        return self._reason is None and self._proc.poll() is None

    def close(self) -> None:
        """Ask the worker to exit (then kill it if still running) and release its resources."""
        self._stop.set()
        if self._watchdog is not threading.current_thread():
            self._watchdog.join(timeout=10)  # no late kill from it once the next worker runs
        if self.alive:
            try:
                rpc.send(self._to, {"op": "exit"})
                self._proc.wait(timeout=0.5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill("it was stopped by the grader")
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            pass
        for fh in (self._proc.stdin, self._proc.stdout):
            try:
                fh.close()  # type: ignore[union-attr]
            except OSError:
                pass
        self._output.close()
        if self.cgroup is not None:
            self.cgroup.remove()
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None
        self._closed = True

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def output(self, limit: int = 2000) -> str:
        """The first ``limit`` characters the student's code printed."""
        self._output.seek(0)
        return self._output.read(limit).decode(errors="replace")

    # ---------------------------------------------------------------- messages
    def _death(self) -> WorkerDied:
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill("it stopped answering")
            code = self._proc.wait()
        if self._reason is not None:
            return WorkerDied(self._reason)
        if self.cgroup is not None and self.cgroup.oom_killed():
            self._reason = (f"it used more than {self.limits.rss_bytes // MiB} MB of memory "
                            "(stopped by the kernel's memory limit)")
        elif code > 128:
            self._reason = _signal_reason(code - 128, self.limits)
        elif code < 0:
            self._reason = _signal_reason(-code, self.limits)
        else:
            self._reason = (f"the worker process exited with code {code} (did the code call "
                            "os._exit or end the interpreter?)")
        return WorkerDied(self._reason)

    def request(self, msg: dict[str, Any], timeout: float) -> Any:
        """Send ``msg``, wait at most ``timeout`` seconds of wall clock for the reply."""
        if self._reason is not None:
            raise WorkerDied(self._reason)
        try:
            rpc.send(self._to, msg)
            reply = rpc.recv(self._from, timeout=timeout)
            # output printed during this request counts against it, not against a later one
            if os.fstat(self._output.fileno()).st_size > self.limits.output_bytes:
                self.kill(f"it printed more than {self.limits.output_bytes // 1024} KB of output")
                raise self._death()
            return reply
        except rpc.RpcTimeout:
            self.kill(f"it did not finish within {timeout:g} s (infinite loop?)")
            raise self._death() from None
        except (rpc.RpcClosed, BrokenPipeError):
            raise self._death() from None
        except rpc.RpcError as exc:
            self.kill(f"it sent back something that is not a valid result ({exc})")
            raise self._death() from None

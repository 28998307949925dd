"""A light, sandboxed worker process per submission, built on bubblewrap.

The worker sees a read-only view of the system (``/usr``), the Python installation, the
virtual environment and the ``mmids`` package, and a private size-capped ``/tmp`` tmpfs;
nothing else of the course directory (gradebook, submissions, source notebooks,
``autograders/``) exists inside, and the folders of differentiation libraries (torch, jax,
...) are covered by empty mounts.  It has no network (own, empty network namespace), its own
PID/IPC/UTS namespaces, dies with its parent, and runs as an unprivileged uid with no
capabilities.  Limits:

==================  ==============================================================
wall clock          per request, enforced by the grader (``Limits.call_seconds``)
CPU time            ``RLIMIT_CPU`` (SIGXCPU, then SIGKILL)
file size           ``RLIMIT_FSIZE`` (also caps the captured stdout/stderr file)
output size         watchdog on the captured stdout/stderr file
memory              a memory cgroup (:mod:`autograders.cgroup`) where the machine allows
                    one, a generous ``RLIMIT_AS`` (``import torch`` needs a few GB of
                    address space), and a watchdog on the summed resident set of the
                    sandbox processes (the cap where no cgroup can be made)
processes           ``RLIMIT_NPROC`` for the sandbox's own uid (fork bombs)
/tmp                tmpfs of ``Limits.tmp_bytes``
==================  ==============================================================

The cgroup needs write access to the grader's own cgroup folder (root, or a delegated
subtree); without it the watchdog, which polls ``/proc``, is the memory cap.
Where bubblewrap cannot run, :func:`sandbox_problem` says why and the grader refuses to run
student code unless the instructor explicitly asks for an unsandboxed worker.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograders import cgroup, rpc, worker
from autograders.cgroup import MemoryCgroup
from autograders.monitor import installed_locations

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


def _mmids_dir() -> Path | None:
    try:
        import mmids
    except ImportError:
        return None
    return Path(mmids.__file__).resolve().parent


def _read_only_paths() -> list[Path]:
    paths = [Path("/usr"), _python_install(), Path(sys.prefix).resolve()]
    mm = _mmids_dir()
    if mm is not None:
        paths.append(mm)
    return paths


_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/nsswitch.conf")


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
    for link in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        target = Path("/") / link
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), str(target)]
            made.add(str(target))
    for path in _read_only_paths():
        for parent in reversed(path.parents):
            if str(parent) not in made:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        argv += ["--ro-bind", str(path), str(path)]
        made.add(str(path))
    if hide_libraries:
        for location in installed_locations().values():
            if os.path.isdir(location):
                argv += ["--perms", "0555", "--tmpfs", location, "--remount-ro", location]
            else:
                argv += ["--ro-bind", "/dev/null", location]
    argv += ["--perms", "0755", "--dir", "/etc"]
    for etc in _ETC_FILES:
        argv += ["--ro-bind-try", etc, etc]
    argv += ["--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp"]
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
        argv += ["--unshare-user", "--"]
    return argv


@functools.cache
def sandbox_problem() -> str | None:
    """``None`` when bubblewrap works here, else the reason it does not."""
    try:
        argv = bwrap_argv(Limits(), _sandbox_uid()) + [sys.executable, "-I", "-c", "pass"]
    except SandboxUnavailable as exc:
        return str(exc)
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, text=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap failed to start: {exc}"
    if done.returncode != 0:
        return f"bubblewrap failed (exit {done.returncode}): {done.stderr.strip()[:300]}"
    return None


def _sandbox_uid() -> int:
    """An unprivileged uid for this grader process's sandboxes (its own RLIMIT_NPROC budget)."""
    return 61000 + os.getpid() % 4000


def _bootstrap() -> str:
    sources = {"rpc": Path(rpc.__file__).read_text(), "worker": Path(worker.__file__).read_text()}
    return (
        "import sys, types\n"
        "def _load(name, src):\n"
        "    m = types.ModuleType(name)\n"
        "    sys.modules[name] = m\n"
        "    exec(compile(src, name + '.py', 'exec'), m.__dict__)\n"
        "    return m\n"
        f"_rpc = _load('sandbox_rpc', {sources['rpc']!r})\n"
        f"_load('sandbox_worker', {sources['worker']!r}).main(_rpc)\n"
    )


def _set_limits(limits: Limits, sandboxed: bool, group: MemoryCgroup | None = None) -> None:
    """preexec_fn: resource limits inherited by bwrap and the worker (not async-signal-unsafe).

    With a memory cgroup the child joins it here, before anything of the worker is loaded.
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
    if sandboxed:
        pairs.append((resource.RLIMIT_NPROC, (limits.processes, limits.processes)))
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
        if sandboxed:
            problem = sandbox_problem()
            if problem is not None:
                raise SandboxUnavailable(problem)
            argv = bwrap_argv(limits, _sandbox_uid(), hide_libraries=hide_libraries)
        else:
            argv = []
        #: the kernel-enforced memory cap, where the machine allows one (else the watchdog's)
        self.cgroup: MemoryCgroup | None = None
        if sandboxed and cgroup.problem() is None:
            try:
                self.cgroup = MemoryCgroup.create(limits.rss_bytes)
            except OSError:
                self.cgroup = None
        argv += [str(Path(sys.prefix) / "bin" / "python"), "-I", "-B", "-c", _bootstrap()]
        self.limits = limits
        self._reason: str | None = None
        self._output = tempfile.TemporaryFile(prefix="mmids-worker-out-")
        env = None if sandboxed else {"PATH": "/usr/bin:/bin", "HOME": tempfile.gettempdir(),
                                      "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._output,
            preexec_fn=functools.partial(_set_limits, limits, sandboxed, self.cgroup),
            start_new_session=True, close_fds=True, env=env,
            cwd=tempfile.gettempdir(),
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._to, self._from = self._proc.stdin.fileno(), self._proc.stdout.fileno()
        self.peak_rss = 0
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, daemon=True)
        self._watchdog.start()

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
            rss = _rss(_process_tree(self._proc.pid))
            self.peak_rss = max(self.peak_rss, rss)
            if rss > self.limits.rss_bytes:
                self.kill(f"it used more than {self.limits.rss_bytes // MiB} MB of memory")
                return

    def kill(self, reason: str) -> None:
        """Stop the worker (and everything in its PID namespace) and remember why."""
        if self._reason is None:
            self._reason = reason
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    @property
    def alive(self) -> bool:
        return self._reason is None and self._proc.poll() is None

    def close(self) -> None:
        """Ask the worker to exit (then kill it if still running) and release its resources."""
        self._stop.set()
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

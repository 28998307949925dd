"""Where a batch's grading tasks run: a Dask cluster, started here or already running.

* :func:`local_engine` starts a ``distributed.LocalCluster`` on this machine: ``workers``
  processes with one thread each, no memory limit of Dask's own (the sandbox has its limits;
  Dask's nanny would otherwise restart a worker that crosses a fraction of the machine's
  memory), scheduler and workers on 127.0.0.1, the dashboard on a free port when bokeh is
  installed.  The worker processes start with SIGINT blocked, so a Ctrl-C in the terminal
  reaches only the batch (:mod:`autograders.interrupt` decides what it does).
* :func:`connect` uses an existing scheduler (``dask scheduler`` + ``dask worker``,
  dask-jobqueue on Slurm/PBS, dask-kubernetes).  Every worker needs this repository's
  ``autograders`` and ``mmids`` (the same files: :func:`fingerprint` is compared), the grading
  dependencies and bubblewrap; run it with ``--nthreads 1``.

One task (:func:`grade_task`) grades one submission: the notebook's bytes travel in the task,
so workers need no shared file system, and the result comes back by value (plain dicts, lists,
strings and numbers).  The client alone writes the gradebook.  :class:`WarmUp`, a worker
plugin, imports torch and computes the checks' seeded oracle values once per worker process
(in a background thread, so the worker keeps answering the scheduler); the first task on a
worker waits for it.  A worker lost mid-task is Dask's to retry: the scheduler resubmits its
tasks elsewhere (``distributed.scheduler.allowed-failures`` times, then the client resubmits).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
from distributed import Client, LocalCluster, WorkerPlugin

from autograders import interrupt, submission
from autograders.interrupt import kill_trees
from autograders.monitor import DIFFERENTIATION_LIBRARIES
from autograders.sandbox import Limits, SandboxUnavailable, Worker, WorkerDied, sandbox_problem

#: Dask settings of the clusters started here (an existing cluster keeps its own).
LOCAL_CONFIG = {
    "distributed.scheduler.allowed-failures": 3,
    "distributed.admin.tick.limit": "30s",  # no "event loop unresponsive" chatter
}


# -------------------------------------------------------------------------------- identity
@functools.cache
def fingerprint() -> str:
    """Hash of this process's ``autograders`` and ``mmids`` sources: the grader's version.

    A worker whose fingerprint differs from the client's would grade with other checks.
    """
    import mmids

    digest = hashlib.sha256()
    for package in (Path(submission.__file__).parent, Path(mmids.__file__).parent):
        for path in sorted(package.rglob("*.py")):
            digest.update(str(path.relative_to(package.parent)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _refuse_without_sandbox(sandboxed: bool) -> None:
    if sandboxed:
        problem = sandbox_problem()
        if problem is not None:
            raise SandboxUnavailable(submission.sandbox_refusal(problem,
                                                            socket.gethostname()))


# -------------------------------------------------------------------------------- warm-up
_WARM_LOCK = threading.Lock()
_WARMED: set[str] = set()


def warm(assignments: Iterable[str]) -> None:
    """Import torch (one thread) and run every check of each assignment once, in this process.

    Idempotent and thread-safe: later calls return at once, concurrent ones wait.
    """
    with _WARM_LOCK:
        for name in assignments:
            if name in _WARMED:
                continue
            try:
                import torch

                torch.set_num_threads(1)
            except ImportError:  # pragma: no cover - torch is a grading dependency
                pass
            submission.warm_up(submission.resolve(name))
            _WARMED.add(name)


class WarmUp(WorkerPlugin):
    """Worker plugin: warm up once per worker process, in the background."""

    name = "mmids-grader-warm-up"

    def __init__(self, assignments: Sequence[str]) -> None:
        self.assignments = tuple(assignments)

    def setup(self, worker: Any) -> None:
        threading.Thread(target=warm, args=(self.assignments,), name="mmids-warm-up",
                         daemon=True).start()


# -------------------------------------------------------------------------------- tasks
def grade_task(assignment: str, student: str, data: bytes, limits: Limits, sandboxed: bool,
               pristine: list[tuple[str, str]]) -> dict[str, Any]:
    """One task: grade one notebook (its bytes) in a sandbox on this worker, result by value."""
    _refuse_without_sandbox(sandboxed)
    warm([assignment])
    result = submission.grade_notebook(assignment, data, student=student, limits=limits,
                                       sandboxed=sandboxed, pristine=pristine)
    out = result.as_dict()
    out.update(host=socket.gethostname(), fingerprint=fingerprint())
    return out


def preflight_task(pristine: list[tuple[str, str]], limits: Limits,
                   sandboxed: bool) -> dict[str, Any]:
    """Run the assignment's own set-up cells in a sandbox here; report what failed."""
    _refuse_without_sandbox(sandboxed)
    host = socket.gethostname()
    error = None
    if pristine:
        try:
            with Worker(limits, sandboxed=sandboxed) as w:
                reply = w.request({"op": "setup", "cells": pristine, "driver": "",
                                   "blocked": sorted(DIFFERENTIATION_LIBRARIES)},
                                  limits.setup_seconds)
            errors = reply.get("cell_errors") if isinstance(reply, dict) else None
            if not isinstance(errors, dict):
                error = "the grading sandbox sent back a malformed reply"
            elif errors:
                gid, err = next(iter(errors.items()))
                error = submission.environment_message(str(gid), str(err)[:500], host)
        except WorkerDied as exc:
            error = f"the grading sandbox on {host} could not run the set-up cells: {exc}"
    return {"host": host, "fingerprint": fingerprint(), "error": error}


# -------------------------------------------------------------------------------- engine
@dataclass
class Engine:
    """A Dask client, and the local cluster behind it when this process started one."""

    client: Client
    cluster: LocalCluster | None = None
    owns_client: bool = True
    config: Any = None  # the dask.config.set() in force while the local cluster lives
    expected: int = 1  # workers to wait for before the set-up check

    def dashboard(self) -> str | None:
        """The dashboard's address, or ``None`` when the scheduler serves none (its web server
        runs without bokeh too, but then serves no dashboard page)."""
        try:
            services = self.client.scheduler_info().get("services", {})
            if "dashboard" not in services:
                return None
            if self.cluster is not None:
                served = has_bokeh()
            else:
                served = bool(self.client.run_on_scheduler(has_bokeh))
        except Exception:  # noqa: BLE001 - a dashboard is a convenience
            return None
        return str(self.client.dashboard_link) if served else None

    def workers(self) -> dict[str, int]:
        """``{address: threads}`` of the workers connected now."""
        info = self.client.scheduler_info(n_workers=-1).get("workers", {})
        return {addr: int(w.get("nthreads", 1)) for addr, w in info.items()}

    def __post_init__(self) -> None:
        if self.cluster is not None:
            interrupt.BEFORE_HARD_STOP.append(self.no_respawn)

    def no_respawn(self) -> None:
        """Tell the local nannies not to restart workers that die from now on."""
        quiet_dask()
        for nanny in list(self.cluster.workers.values()) if self.cluster is not None else []:
            with contextlib.suppress(Exception):
                nanny.close_gracefully()

    def abandon(self) -> None:
        """Stop this machine's workers at once (no respawn), with their sandboxes."""
        if self.cluster is not None:
            self.no_respawn()
            pids = [pid for n in list(self.cluster.workers.values())
                    if (pid := getattr(n, "pid", None))]
            kill_trees(pids + [_forkserver_pid()])  # it may still be starting workers

    def close(self) -> None:
        with contextlib.suppress(ValueError):
            interrupt.BEFORE_HARD_STOP.remove(self.no_respawn)
        quiet_dask()
        if self.owns_client:
            with contextlib.suppress(Exception):
                self.client.close(timeout=5)
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close(timeout=10)
        if self.config is not None:
            self.config.__exit__(None, None, None)
            self.config = None


def quiet_dask() -> None:
    """Silence distributed's logging in this process (shutdown notices are not errors), and
    tornado's, which reports a worker start cut short by the shutdown."""
    for name in ("distributed", "tornado", "tornado.application", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def has_bokeh() -> bool:
    return importlib.util.find_spec("bokeh") is not None


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT in this block: a process spawned meanwhile inherits it across ``exec``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


#: Imported once by the fork server the local workers are forked from (faster start-up).
FORKSERVER_PRELOAD = ("autograders.cluster", "torch")


def _start_forkserver() -> None:
    """Start multiprocessing's fork server (the local workers' parent) with SIGINT ignored.

    It and every worker it forks, including those a nanny restarts later, keep ignoring
    SIGINT, so a Ctrl-C in the terminal (sent to the whole process group) reaches only the
    batch.  SIGINT is ignored only for the instant the server is spawned.  (A blocked signal
    mask would not do: multiprocessing's spawn clears it.)
    """
    import multiprocessing.forkserver

    from distributed.utils import get_mp_context

    ctx = get_mp_context()  # distributed's own preload list (numpy, ...) is set here
    server = multiprocessing.forkserver._forkserver
    ctx.set_forkserver_preload([*getattr(server, "_preload_modules", []),
                                *FORKSERVER_PRELOAD])
    with _sigint_ignored(), _single_threaded_blas():
        multiprocessing.forkserver.ensure_running()


#: Thread-pool sizes of the numerical libraries, for the fork server and its workers.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """The fork server starts with one-thread BLAS and OpenMP (this process keeps its own).

    A worker is forked from the server after numpy and torch were imported there; a BLAS
    thread pool created before the fork does not exist in the child, and OpenBLAS then spins
    forever in ``exec_blas_async`` waiting for it (seen: a worker's warm-up stuck at 100 % CPU
    in a matrix product). Dask's ``pre-spawn-environ`` would set the same variables, but only
    for workers that start a new interpreter, not for forked ones. One thread per worker is
    what the cluster wants anyway: N workers on N cores.
    """
    saved = {k: os.environ.get(k) for k in SINGLE_THREADED}
    os.environ.update(SINGLE_THREADED)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _forkserver_pid() -> int:
    import multiprocessing.forkserver

    return int(getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None) or 0)


def local_engine(workers: int) -> Engine:
    """Start a local cluster of ``workers`` processes (one thread each) and a client.

    Returns at once: the workers start in the background (:meth:`Engine.workers` lists those
    connected), so a Ctrl-C meanwhile is handled at once.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    config = dask.config.set({**LOCAL_CONFIG,
                              "distributed.worker.multiprocessing-method": "forkserver"})
    try:
        _start_forkserver()
        cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True,
                               memory_limit=0, host="127.0.0.1",
                               dashboard_address=":0",  # a free port: batches may overlap
                               worker_dashboard_address=None, silence_logs=logging.CRITICAL)
        client = Client(cluster, set_as_default=False)
        cluster.scale(workers)
    except BaseException:
        config.__exit__(None, None, None)
        raise
    return Engine(client, cluster, config=config, expected=workers)


def connect(address: str, timeout: float = 30.0) -> Engine:
    """A client of the existing scheduler at ``address`` (``tcp://host:port``)."""
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    return Engine(client)

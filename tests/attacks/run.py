"""Grade the attack class in one batch and write what happened as JSON.

    python -m tests.attacks.run OUT.json [--repo DIR] [--workers 2]

Run from a checkout (or a copy of one: ``mmids/``, ``autograders/``, ``tests/attacks/`` and the
files the attacks try to read), by whoever the test wants to grade as: the ordinary-user test
(``tests/test_grading_nonroot.py``) runs it as a user it created.  It writes the class into a
temporary folder, grades it with :data:`ATTACK_LIMITS`, measures how many processes a worker
may start (:func:`fork_probe`) and records the isolation in use and what it cannot enforce.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

from autograders import sandbox
from autograders.batch import BatchConfig, run_batch
from autograders.gradebook import Gradebook
from autograders.sandbox import Limits, Worker
from tests.attacks.notebooks import write_attack_class

#: Small limits that keep the batch short (the same as ``tests/test_grading_sandbox.py``'s).
ATTACK_LIMITS = Limits(call_seconds=2.0, setup_seconds=15.0, cpu_seconds=20,
                       rss_bytes=2**30, output_bytes=2**20, file_bytes=16 * 2**20)


def grade_attack_class(repo: Path, limits: Limits = ATTACK_LIMITS,
                       workers: int = 2) -> dict[str, dict[str, Any]]:
    """``{student: graded row}`` of the attack class, graded in one sandboxed batch."""
    with tempfile.TemporaryDirectory(prefix="mmids-attacks-") as tmp:
        submitted, db = Path(tmp) / "submitted", Path(tmp) / "gradebook.db"
        Gradebook(f"sqlite:///{db}").close()
        with socket.create_server(("127.0.0.1", 0)) as server:
            secrets = write_attack_class(submitted, db, repo, server.getsockname()[1])
            missing = [str(p) for p in secrets if not p.exists()]
            if missing:
                raise FileNotFoundError(f"the attacks would aim at missing files: {missing}")
            report = run_batch("vjps", submitted, BatchConfig(f"sqlite:///{db}", limits),
                               workers=workers, progress=False)
    return {r["student"]: r for r in report.graded}


_FORKER = """\
import os, time
def forks():
    children = 0
    while children < 200:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
    return children
"""


def fork_probe(limits: Limits = ATTACK_LIMITS) -> int:
    """How many children a sandboxed worker could start before ``fork`` failed (max 200)."""
    with Worker(limits) as w:
        w.request({"op": "setup", "cells": [("forks", _FORKER)], "driver": ""}, 15)
        reply = w.request({"op": "call", "name": "forks", "args": []}, 30)
    if not reply.get("ok"):
        raise RuntimeError(f"the fork probe failed: {reply}")
    return int(reply["value"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.attacks.run")
    parser.add_argument("out", type=Path)
    parser.add_argument("--repo", type=Path, default=Path.cwd())
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    result = {"uid": os.getuid(), "isolation": sandbox.isolation(),
              "sandbox_problem": sandbox.sandbox_problem(),
              "gaps": sandbox.enforcement_gaps(), "processes_limit": ATTACK_LIMITS.processes}
    if result["isolation"] is not None:
        result["rows"] = grade_attack_class(args.repo.resolve(), workers=args.workers)
        result["forks"] = fork_probe()
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

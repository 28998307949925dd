"""Gradescope: grade one submission in Gradescope's container, and the ``gradescope`` command.

``python -m autograders gradescope vjps --out autograder.zip`` builds the autograder zip
(:mod:`autograders.gradescope_build`, which says what is in it).  In Gradescope's container
``run_autograder`` calls :func:`run_main`: the notebook in ``$AUTOGRADER_ROOT/submission/``
(default ``/autograder``) is graded by the same checks as ``python -m autograders grade``, its
code running in the bubblewrap sandbox where the container allows it, else as the unprivileged
sandbox user with the same limits (:func:`autograders.sandbox.run_as_user`), and
``$AUTOGRADER_ROOT/results/results.json`` is written in Gradescope's format: ``score``,
``execution_time``, ``output`` (for the whole submission), ``tests`` (one per graded cell:
``name``, ``number``, ``score``, ``max_score``, ``status``, ``output`` = the plain-words
feedback, ``visibility``), ``extra_data``.  A missing, unreadable or misnamed notebook scores 0,
and ``output`` says what was found.

This module ships inside the zip; it imports nothing the container lacks (no nbgrader).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: The zip's configuration file (next to ``autograders/`` in ``/autograder/source``).
CONFIG = "mmids_autograder.json"
DEFAULT_USER = "mmids-student"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


def find_notebook(folder: Path, expected: str) -> tuple[Path | None, str]:
    """``(notebook to grade, note)``; ``(None, why)`` when it is missing, misnamed or unreadable.

    The notebook may sit in a subfolder (an uploaded folder or zip), if only one has its name.
    """
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    files = [p for p in files if ".ipynb_checkpoints" not in p.parts]
    exact = sorted((p for p in files if p.name == expected), key=lambda p: len(p.parts))
    if not exact:
        shown = ", ".join(f"`{p.relative_to(folder)}`" for p in files[:10]) or "no files at all"
        more = f" and {len(files) - 10} more" if len(files) > 10 else ""
        return None, (f"No notebook named `{expected}` was submitted (found: {shown}{more}). "
                      f"Submit your notebook under the name `{expected}`.")
    if len(exact) > 1 and len(exact[0].parts) == len(exact[1].parts):
        shown = ", ".join(f"`{p.relative_to(folder)}`" for p in exact)
        return None, f"Several notebooks are named `{expected}` ({shown}): submit only one."
    path = exact[0]
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        return None, f"`{expected}` was submitted but cannot be read ({exc.strerror or exc})."
    where = path.relative_to(folder)
    return path, ("" if where == Path(expected) else f"Graded `{where}`.")


def _zero(spec: Any, why: str, visibility: str) -> dict[str, Any]:
    tests = [{"name": c.grade_id, "number": str(i), "score": 0.0, "max_score": c.max_points,
              "status": "failed", "output": f"Not graded: {why}", "visibility": visibility}
             for i, c in enumerate(spec.checks, 1)]
    return {"score": 0.0, "output": why, "visibility": visibility, "stdout_visibility": "hidden",
            "tests": tests}


def results(spec: Any, result: Any, visibility: str, note: str = "") -> dict[str, Any]:
    """Gradescope's ``results.json`` for a :class:`~autograders.batch.SubmissionResult`."""
    tests = [{"name": c.grade_id, "number": str(i), "score": c.points,
              "max_score": c.max_points, "status": "passed" if c.points >= c.max_points
              else "failed", "output": c.message, "visibility": visibility}
             for i, c in enumerate(result.results, 1)]
    lines = [f"{spec.notebook}: {result.score:g} / {result.max_score:g} points."]
    lines += [note] if note else []
    lines += [f"Note: {n}" for n in result.notes]
    return {"score": round(result.score, 4), "execution_time": round(result.seconds, 2),
            "output": "\n".join(lines), "visibility": visibility,
            "stdout_visibility": "hidden", "tests": tests}


def _isolate(root: Path, mode: str, user: str) -> str | None:
    """Choose how student code is isolated; ``None`` if it can be, else why not."""
    from autograders import sandbox

    if mode not in ("auto", "user"):
        return f"MMIDS_SANDBOX must be auto or user, not {mode!r}"
    if mode == "user" or sandbox.sandbox_problem() is not None:
        if os.geteuid() == 0:
            root.chmod(0o700)  # nothing of the autograder is reachable by the sandbox user
        try:
            sandbox.run_as_user(user, instead_of_bwrap=mode == "user")
        except ValueError as exc:
            bwrap = None if mode == "user" else sandbox.sandbox_problem()
            return f"{bwrap}; and {exc}" if bwrap else str(exc)
    return sandbox.isolation_problem()


def run(root: Path, *, source: Path | None = None, mode: str = "auto",
        user: str | None = None) -> tuple[dict[str, Any], int]:
    """Grade ``root/submission``, write ``root/results/results.json``: ``(results, exit code)``."""
    from autograders import sandbox
    from autograders.batch import grade_submission
    from autograders.core import ASSIGNMENTS

    source = source or Path(__file__).resolve().parents[1]
    config = json.loads((source / CONFIG).read_text())
    spec = ASSIGNMENTS[config["assignment"]]
    visibility = config.get("visibility", "visible")
    start = time.perf_counter()
    code = 0
    notebook, note = find_notebook(root / "submission", spec.notebook)
    if notebook is None:
        payload = _zero(spec, note, visibility)
    else:
        problem = _isolate(root, mode, user or config.get("sandbox_user", DEFAULT_USER))
        if problem is not None:
            why = ("The autograder could not isolate your code on this machine, so it did not "
                   "run it. Please tell your instructor (the reason is in the autograder's "
                   "output).")
            payload, code = _zero(spec, why, visibility), 1
            print(f"error: no sandbox can run here: {problem}")
        else:
            print(f"isolation: {sandbox.isolation()}")
            for gap in sandbox.enforcement_gaps():
                print(f"not enforced here: {gap}")
            result = grade_submission(spec, notebook, student="gradescope")
            payload = results(spec, result, visibility, note)
    payload["execution_time"] = round(time.perf_counter() - start, 2)
    payload["extra_data"] = {"assignment": spec.name, "notebook": str(notebook or ""),
                             "isolation": sandbox.isolation() if notebook else None}
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, out)
    for test in payload["tests"]:
        print(f"[{test['score']:g}/{test['max_score']:g}] {test['name']}")
    print(f"total: {payload['score']:g} / {spec.max_points:g}  ({out})")
    return payload, code


def run_main(argv: Sequence[str] | None = None) -> int:
    """``run_autograder``'s entry point: ``run --root /autograder`` (see :func:`run`)."""
    parser = argparse.ArgumentParser(prog="python -m autograders.gradescope run")
    parser.add_argument("--root", type=Path,
                        default=Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")))
    args = parser.parse_args(argv)
    try:
        _, code = run(args.root, mode=os.environ.get("MMIDS_SANDBOX", "auto"),
                      user=os.environ.get("MMIDS_SANDBOX_USER") or None)
    except Exception as exc:  # noqa: BLE001 - the student still gets a result that says so
        out = args.root / "results" / "results.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"score": 0.0, "tests": [], "output": (
            "The autograder failed while grading. Please tell your instructor (the reason "
            "is in the autograder's output).")}))
        print(f"error: the autograder failed: {type(exc).__name__}: {exc}")
        raise
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m autograders gradescope <assignment> --out autograder.zip`` (or ``run ...``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:
        return run_main(argv[1:])
    from autograders import gradescope_build

    return gradescope_build.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())

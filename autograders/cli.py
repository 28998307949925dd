"""Command line of the out-of-kernel grader (``python -m autograders``).

``grade <assignment> <submission.ipynb> [--json]``
    grade one submitted notebook in a sandboxed worker; ``--json`` prints
    ``{"cells": [{grade_id, points, max_points, message}, ...], "total": ..., ...}``.
``batch <assignment> <submitted_dir> [--db URL] [--workers N] [--shard i/n] [--json-dir DIR]``
    grade ``<submitted_dir>/<student>/<assignment>/<notebook>`` for every student into the
    gradebook (SQLite file by default, PostgreSQL with ``--db postgresql://...``), resumably.
``export [--db URL] [--out grades.csv]``
    write the gradebook in nbgrader's CSV export format.
``gradescope <assignment> --out autograder.zip``
    build a Gradescope autograder for the assignment (:mod:`autograders.gradescope`).

Every command refuses to run student code when bubblewrap cannot run, unless
``--unsafe-no-sandbox`` is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from autograders.sandbox import Limits, SandboxUnavailable, enforcement_gaps, sandbox_problem

DEFAULT_DB = "sqlite:///gradebook_ook.db"


def _add_limits(p: argparse.ArgumentParser) -> None:
    d = Limits()
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run student code WITHOUT bubblewrap (only for trusted submissions)")
    p.add_argument("--call-seconds", type=float, default=d.call_seconds,
                   help="wall-clock limit per call of a student function (s)")
    p.add_argument("--setup-seconds", type=float, default=d.setup_seconds,
                   help="wall-clock limit to start the worker and run the answer cells (s)")
    p.add_argument("--cpu-seconds", type=int, default=d.cpu_seconds,
                   help="CPU-time limit per worker (s)")
    p.add_argument("--memory-mb", type=int, default=d.rss_bytes // 2**20,
                   help="resident memory limit per worker (MB)")


def _limits(args: argparse.Namespace) -> Limits:
    return Limits(call_seconds=args.call_seconds, setup_seconds=args.setup_seconds,
                  cpu_seconds=args.cpu_seconds, rss_bytes=args.memory_mb * 2**20)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograders",
                                     description="Out-of-kernel, sandboxed grading.")
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade one submitted notebook")
    g.add_argument("assignment")
    g.add_argument("notebook", type=Path)
    g.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_limits(g)
    b = sub.add_parser("batch", help="grade a directory of submissions into the gradebook")
    b.add_argument("assignment")
    b.add_argument("submitted", type=Path, help="directory <student>/<assignment>/<notebook>")
    b.add_argument("--db", default=DEFAULT_DB, help=f"gradebook URL (default {DEFAULT_DB})")
    b.add_argument("--workers", type=int, default=1, help="parallel grader processes")
    b.add_argument("--shard", default="1/1", help="grade only shard i of n (e.g. 2/3)")
    b.add_argument("--json-dir", type=Path, default=None,
                   help="also write <student>.json per graded submission here")
    b.add_argument("--csv", type=Path, default=None,
                   help="after grading, export the gradebook to this CSV (nbgrader format)")
    b.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_limits(b)
    e = sub.add_parser("export", help="export the gradebook in nbgrader's CSV format")
    e.add_argument("--db", default=DEFAULT_DB)
    e.add_argument("--out", type=Path, default=Path("grades.csv"))
    e.add_argument("--assignment", action="append", default=None)
    e.add_argument("--nbgrader-db", default=None, metavar="URL",
                   help="also write the grades into this nbgrader gradebook (e.g. "
                        "sqlite:///exercises/gradebook.db); needs --assignment")
    return parser


def _check_sandbox(args: argparse.Namespace) -> str | None:
    if args.unsafe_no_sandbox:
        print("warning: --unsafe-no-sandbox: student code runs with your rights",
              file=sys.stderr)
        return None
    problem = sandbox_problem()
    if problem is None:
        for gap in enforcement_gaps():  # what this machine's sandbox cannot enforce, once
            print(f"note: {gap}", file=sys.stderr)
        return None
    return (f"error: the sandbox cannot run here ({problem}); refusing to run student code. "
            "Pass --unsafe-no-sandbox only if you trust every submission.")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gradescope"]:  # python -m autograders gradescope <assignment> --out ...
        from autograders import gradescope

        return gradescope.main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "export":
        from autograders.gradebook import Gradebook

        if args.nbgrader_db and not args.assignment:
            print("error: --nbgrader-db needs --assignment", file=sys.stderr)
            return 2
        with Gradebook(args.db) as gb:
            n = gb.export_csv(args.out, args.assignment)
            print(f"wrote {n} rows to {args.out}")
            if args.nbgrader_db:
                from autograders import batch
                from autograders.gradebook import write_to_nbgrader

                for name in args.assignment:
                    spec = batch.resolve(name)
                    k = write_to_nbgrader(gb, args.nbgrader_db, spec.name,
                                          Path(spec.notebook).stem)
                    print(f"wrote {k} {spec.name} submissions into {args.nbgrader_db}")
        return 0
    refusal = _check_sandbox(args)
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return 3
    from autograders import batch

    try:
        limits = _limits(args)
        if args.command == "grade":
            if not args.notebook.is_file():
                print(f"error: {args.notebook} is not a file", file=sys.stderr)
                return 2
            result = batch.grade_submission(args.assignment, args.notebook, limits=limits,
                                            sandboxed=not args.unsafe_no_sandbox)
            if args.json:
                print(json.dumps(result.as_dict(), indent=1))
            else:
                for cell in result.results:
                    print(f"[{cell.points:g}/{cell.max_points:g}] {cell.grade_id}\n"
                          f"    " + cell.message.replace("\n", "\n    "))
                for note in result.notes:
                    print(f"note: {note}")
                print(f"total: {result.score:g} / {result.max_score:g}")
            return 0
        config = batch.BatchConfig(args.db, limits, not args.unsafe_no_sandbox, args.json_dir)
        report = batch.run_batch(args.assignment, args.submitted, config, workers=args.workers,
                                 shard=batch.parse_shard(args.shard),
                                 progress=not args.no_progress)
        print(report.summary_table())
        if args.csv is not None:
            from autograders.gradebook import Gradebook

            with Gradebook(args.db) as gb:
                n = gb.export_csv(args.csv, [batch.resolve(args.assignment).name])
            print(f"wrote {n} rows to {args.csv}")
        return 0
    except (ValueError, SandboxUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

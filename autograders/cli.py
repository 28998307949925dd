"""Command line of the out-of-kernel grader (``python -m autograders``).

``grade <assignment> <submission.ipynb> [--json] [--student ID]``
    grade one submitted notebook in a sandboxed worker; ``--json`` prints
    ``{"student", "cells": [{grade_id, points, max_points, message}, ...], "total", ...}``.
``batch <assignment> <submitted_dir> [--workers N | --scheduler tcp://HOST:PORT] [--db URL]``
    grade ``<submitted_dir>/<student>/<assignment>/<notebook>`` for every student on a Dask
    cluster (local, or an existing one) into the gradebook, resumably.
``export [--course DIR] [--db URL] [--out CSV]``
    write the gradebook in nbgrader's CSV export format.
``gradescope <assignment> --out autograder.zip``
    build a Gradescope autograder for the assignment (:mod:`autograders.gradescope`).

Every command refuses to run student code when bubblewrap cannot run, unless
``--unsafe-no-sandbox`` is given.  Exit codes: :data:`EXIT_CODES`.  A new subcommand is one
``(name, add_arguments, run)`` entry of :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from autograders.sandbox import Limits, SandboxUnavailable, enforcement_gaps, sandbox_problem

REPO = Path(__file__).resolve().parents[1]
#: The course folder of this repository; ``export`` works on it unless ``--course`` is given.
DEFAULT_COURSE = REPO / "exercises"
GRADEBOOK_NAME = "gradebook_ook.db"
CSV_NAME = "grades_ook.csv"

OK, NOT_GRADED, USAGE, NO_SANDBOX, ENVIRONMENT = 0, 1, 2, 3, 4
EXIT_CODES = """\
exit codes:
  0    graded (whatever the score); batch: every submission graded or already recorded
  1    grade: the file could not be graded (not a notebook, or none of the assignment's
       answer cells: another assignment's notebook); batch: at least one submission could
       not be graded (listed in the table; recorded as 0 with the reason when the
       submission was at fault, not recorded when the grader failed)
  2    usage: bad arguments, unknown assignment, no such file or directory, no scheduler
  3    the sandbox (bubblewrap) cannot run, so no student code was run
  4    the grader's environment is broken (the assignment's own set-up cells fail in the
       sandbox, or a Dask worker runs another version of the grader): nothing was graded
  130  batch interrupted by Ctrl-C (143: by SIGTERM); run the same command again to resume
"""


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


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _error(text: str, code: int) -> int:
    print(f"error: {text}", file=sys.stderr, flush=True)
    return code


def _check_sandbox(args: argparse.Namespace) -> str | None:
    if args.unsafe_no_sandbox:
        _say("warning: --unsafe-no-sandbox: student code runs with your rights")
        return None
    problem = sandbox_problem()
    if problem is None:
        for gap in enforcement_gaps():  # what this machine's sandbox cannot enforce, once
            print(f"note: {gap}", file=sys.stderr)
        return None
    from autograders.submission import sandbox_refusal

    return sandbox_refusal(problem)


def _course_of_notebook(path: Path) -> Path | None:
    """``<course>/submitted/<student>/<assignment>/<notebook>`` -> ``<course>``."""
    parents = path.absolute().parents
    return parents[3] if len(parents) > 3 else None


def _preimport(module: str) -> None:
    """Import ``module`` in a background thread (a later ``import`` waits for it)."""
    import importlib
    import threading

    def load() -> None:
        try:
            importlib.import_module(module)
        except ImportError:  # then the grader itself reports it where it needs the module
            pass

    threading.Thread(target=load, name=f"import-{module}", daemon=True).start()


# -------------------------------------------------------------------------------- grade
def _grade_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("assignment")
    p.add_argument("notebook", type=Path)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--student", default=None,
                   help="student id for the result (default: <student> of the path "
                        "<submitted>/<student>/<assignment>/<notebook>)")
    _add_limits(p)


def _grade(args: argparse.Namespace) -> int:
    from autograders import submission

    try:
        spec = submission.resolve(args.assignment)
    except ValueError as exc:
        return _error(str(exc), USAGE)
    if not args.notebook.is_file():
        return _error(f"{args.notebook} is not a file", USAGE)
    refusal = _check_sandbox(args)
    if refusal is not None:
        return _error(refusal, NO_SANDBOX)
    _preimport("torch")  # the oracles need it: load it while the notebook is read
    student = args.student or submission.student_from_path(args.notebook, spec.name)
    found = submission.pristine_setup(spec, _course_of_notebook(args.notebook))
    result = submission.grade_submission(spec, args.notebook, student=student,
                                         limits=_limits(args),
                                         sandboxed=not args.unsafe_no_sandbox,
                                         pristine=found[1] if found else ())
    if result.environment_error is not None:
        return _error(f"the grader's environment is broken: {result.environment_error}",
                      ENVIRONMENT)
    if args.json:
        print(json.dumps(result.as_dict(), indent=1))
    else:
        for cell in result.results:
            print(f"[{cell.points:g}/{cell.max_points:g}] {cell.grade_id}\n"
                  f"    " + cell.message.replace("\n", "\n    "))
        for note in result.notes:
            print(f"note: {note}")
        print(f"total: {result.score:g} / {result.max_score:g}")
    if result.problem is not None:
        print(f"not graded: {result.problem}", file=sys.stderr)
        return NOT_GRADED
    return OK


# -------------------------------------------------------------------------------- batch
def _default_workers() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0))))


def _batch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("assignment")
    p.add_argument("submitted", type=Path, help="directory <student>/<assignment>/<notebook>")
    p.add_argument("--db", default=None,
                   help=f"gradebook URL (default sqlite:///<submitted>/../{GRADEBOOK_NAME}; "
                        "postgresql://user@host/dbname for PostgreSQL)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None,
                       help="grader processes of the local Dask cluster started for this batch "
                            f"(default: the CPUs available, at most 8: {_default_workers()})")
    where.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                       help="send the tasks to this existing Dask scheduler instead")
    p.add_argument("--json-dir", type=Path, default=None,
                   help="also write <student>.json per graded submission here")
    p.add_argument("--csv", type=Path, default=None,
                   help="after grading, export the gradebook to this CSV (nbgrader format)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_limits(p)


def _batch(args: argparse.Namespace) -> int:
    from autograders import batch
    from autograders.interrupt import BatchSignals, exit_code, resume_hint

    try:
        spec = batch.resolve(args.assignment)
    except ValueError as exc:
        return _error(str(exc), USAGE)
    if not args.submitted.is_dir():
        return _error(f"{args.submitted} is not a directory of submissions", USAGE)
    workers = args.workers if args.workers is not None else _default_workers()
    if workers < 1:
        return _error(f"--workers must be >= 1, got {workers}", USAGE)
    if args.scheduler is None:
        refusal = _check_sandbox(args)
        if refusal is not None:
            return _error(refusal, NO_SANDBOX)
    elif args.unsafe_no_sandbox:
        _say("warning: --unsafe-no-sandbox: student code runs with the workers' rights")
    db = args.db or batch.default_db(args.submitted)
    _say(f"gradebook: {db}")
    config = batch.BatchConfig(db, _limits(args), not args.unsafe_no_sandbox, args.json_dir)
    tally = batch.Tally()
    with BatchSignals(tally) as signals:
        try:
            report = batch.run_batch(spec, args.submitted, config, workers=workers,
                                     scheduler=args.scheduler, progress=not args.no_progress,
                                     stop=signals.stop, tally=tally, say=_say)
        except SandboxUnavailable as exc:
            return _error(str(exc), NO_SANDBOX)
        except ValueError as exc:
            return _error(str(exc), USAGE)
    if report.environment_error is not None:
        _error(f"the grader's environment is broken: {report.environment_error}", ENVIRONMENT)
        _say(f"stopped before grading the class: {resume_hint(tally)}")
        return ENVIRONMENT
    if report.interrupted:
        _say(f"interrupted: {resume_hint(tally)}")
        return exit_code(signal.SIGINT)
    print(report.summary_table())
    if args.json_dir is not None and report.graded:
        print(f"wrote {len(report.graded)} JSON files to {args.json_dir.absolute()}")
    print(f"gradebook: {db}")
    if args.csv is not None:
        from autograders.gradebook import Gradebook

        with Gradebook(db) as gb:
            n = gb.export_csv(args.csv, [spec.name])
        print(f"wrote {n} rows to {args.csv.absolute()}")
    return NOT_GRADED if report.could_not_grade else OK


# -------------------------------------------------------------------------------- export
def _export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--course", type=Path, default=DEFAULT_COURSE,
                   help=f"course folder (default {DEFAULT_COURSE})")
    p.add_argument("--db", default=None,
                   help=f"gradebook URL (default sqlite:///<course>/{GRADEBOOK_NAME})")
    p.add_argument("--out", type=Path, default=None,
                   help=f"CSV file to write (default <course>/{CSV_NAME})")
    p.add_argument("--assignment", action="append", default=None)
    p.add_argument("--nbgrader-db", default=None, metavar="URL",
                   help="also write the grades into this nbgrader gradebook (e.g. "
                        "sqlite:///exercises/gradebook.db); needs --assignment")


def _export(args: argparse.Namespace) -> int:
    from autograders.gradebook import Gradebook

    if args.nbgrader_db and not args.assignment:
        return _error("--nbgrader-db needs --assignment", USAGE)
    db = args.db or f"sqlite:///{args.course.absolute() / GRADEBOOK_NAME}"
    out = args.out or args.course / CSV_NAME
    with Gradebook(db) as gb:
        n = gb.export_csv(out, args.assignment)
        print(f"wrote {n} rows from {db} to {out.absolute()}")
        if args.nbgrader_db:
            from autograders.gradebook import write_to_nbgrader
            from autograders.submission import resolve

            for name in args.assignment:
                spec = resolve(name)
                k = write_to_nbgrader(gb, args.nbgrader_db, spec.name, Path(spec.notebook).stem)
                print(f"wrote {k} {spec.name} submissions into {args.nbgrader_db}")
    return OK


# -------------------------------------------------------------------------------- main
Command = tuple[str, str, Callable[[argparse.ArgumentParser], None],
                Callable[[argparse.Namespace], int]]

#: ``(name, help, add_arguments, run)`` of every subcommand.
COMMANDS: list[Command] = [
    ("grade", "grade one submitted notebook", _grade_arguments, _grade),
    ("batch", "grade a directory of submissions into the gradebook (Dask)", _batch_arguments,
     _batch),
    ("export", "export the gradebook in nbgrader's CSV format", _export_arguments, _export),
]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograders",
                                     description="Out-of-kernel, sandboxed grading.",
                                     epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text, add_arguments, _run in COMMANDS:
        p = sub.add_parser(name, help=help_text, epilog=EXIT_CODES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add_arguments(p)
    # Listed for --help only: main() hands "gradescope ..." to autograders.gradescope first.
    sub.add_parser("gradescope", help="build a Gradescope autograder zip "
                                      "(python -m autograders gradescope --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gradescope"]:  # python -m autograders gradescope <assignment> --out ...
        from autograders import gradescope

        return gradescope.main(argv[1:])
    args = _parser().parse_args(argv)
    run = {name: run for name, _h, _a, run in COMMANDS}[args.command]
    return run(args)

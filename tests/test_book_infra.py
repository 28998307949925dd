"""The book's set-up: what `make book` / `make test` install, and the build extensions in _ext/.

The Makefile is read with ``make -n`` in a copy (nothing is installed or built); the extensions
are imported from ``_ext/`` and exercised directly, including a real kernel start for the
transport encryption that keeps the build log free of ipykernel's TCP warning.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load_ext(name: str):
    spec = importlib.util.spec_from_file_location(f"_ext_{name}", REPO / "_ext" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


quiet_log = _load_ext("quiet_log")
local_mathjax = _load_ext("local_mathjax")


# --- the Makefile: each target installs what it needs and only that ----------------------------


def _dry_run(tmp_path: Path, target: str) -> str:
    """``make -n <target>`` in a copy of the Makefile and pyproject.toml with no .venv."""
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(REPO / name, tmp_path / name)
    # Run as a top-level make even under `make test`: the outer make's MAKEFLAGS/MAKELEVEL would
    # add "Entering directory" lines (and its flags) to the dry run.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", target], cwd=tmp_path, env=env,
        capture_output=True, text=True, check=True,
    )
    return result.stdout


def _apt_lists(commands: str) -> list[list[str]]:
    """The package lists of every apt-install loop (``for p in <packages>; do``)."""
    import re

    return [m.split() for m in re.findall(r"for p in ([^;]*); do", commands)]


def test_make_book_installs_only_the_book(tmp_path: Path) -> None:
    commands = _dry_run(tmp_path, "book")
    assert "pip install --quiet -e '.[book]'" in commands
    assert ".[dev]" not in commands
    assert _apt_lists(commands) == [["graphviz"]]
    assert "npm" not in commands and "node" not in commands  # MathJax comes from PyPI
    assert commands.rstrip().endswith("jupyter-book build . -W -n --keep-going")


def test_make_test_installs_everything(tmp_path: Path) -> None:
    commands = _dry_run(tmp_path, "test")
    assert "pip install --quiet -e '.[dev]'" in commands
    packages = {p for lst in _apt_lists(commands) for p in lst}
    assert {"graphviz", "chromium", "chromium-driver", "bubblewrap", "postgresql"} <= packages
    assert "axe-core@" in commands and "--prefix .venv/axe" in commands
    assert "MMIDS_NO_SKIP=1 .venv/bin/python -m pytest" in commands


def test_book_extra_pins_mathjax_and_the_overridden_theme() -> None:
    import tomllib

    book = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "django-static-mathjax==3.2.2.1" in book["book"]
    assert "pydata-sphinx-theme==0.17.1" in book["book"]  # _ext/templates/ override its markup


# --- local_mathjax: MathJax 3 from the PyPI package, copied once --------------------------------


def test_mathjax_release_is_version_3() -> None:
    root = local_mathjax.mathjax_root()
    assert local_mathjax.mathjax_version(root).startswith("3.")
    assert (root / "es5" / "tex-mml-chtml.js").stat().st_size > 100_000


def test_copy_release_copies_only_what_changed(tmp_path: Path) -> None:
    source, target = tmp_path / "es5", tmp_path / "site" / "mathjax"
    (source / "input").mkdir(parents=True)
    (source / "tex.js").write_text("one")
    (source / "input" / "tex.js").write_text("two")
    assert local_mathjax.copy_release(source, target) == 2
    assert (target / "input" / "tex.js").read_text() == "two"
    assert local_mathjax.copy_release(source, target) == 0
    (source / "tex.js").write_text("changed")
    assert local_mathjax.copy_release(source, target) == 1
    assert (target / "tex.js").read_text() == "changed"


# --- quiet_log: no config dumps, no unencrypted kernels, warnings untouched ---------------------


def _record(level: int, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("sphinx.myst_nb.sphinx_ext", level, __file__, 1, msg, args, None)


def test_config_dump_filter_drops_only_the_dumps() -> None:
    from myst_nb.core.config import NbParserConfig
    from myst_parser.config.main import MdParserConfig

    keep = quiet_log.DropConfigDump().filter
    assert not keep(_record(logging.INFO, "myst v%s: %s", "3.0.1", MdParserConfig()))
    assert not keep(_record(logging.INFO, "myst-nb v%s: %s", "1.4.0", NbParserConfig()))
    assert keep(_record(logging.INFO, "Executing notebook using local CWD"))
    assert keep(_record(logging.WARNING, "bad config %s", MdParserConfig()))


def test_kernels_start_encrypted_without_the_tcp_warning(tmp_path: Path) -> None:
    """With the extension's default, a kernel gets CurveZMQ keys and prints no TCP warning."""
    from jupyter_client.manager import KernelManager

    trait = KernelManager.class_traits()["transport_encryption"]
    default = trait.default_value
    try:
        assert quiet_log.encrypt_kernel_transport()
        km = KernelManager(kernel_name="python3")
        assert km.transport_encryption == "auto"  # read (and kept by km) before the reset
    finally:  # other tests in this process start kernels with jupyter_client's own default
        trait.default_value = default
    assert KernelManager().transport_encryption == default
    stderr = tmp_path / "kernel.stderr"
    with stderr.open("w") as err:
        km.start_kernel(stderr=err, stdout=subprocess.DEVNULL, cwd=str(tmp_path))
        try:
            client = km.client()
            client.start_channels()
            client.wait_for_ready(timeout=60)
            info = json.loads(Path(km.connection_file).read_text())
            assert info.get("curve_secretkey"), f"no CurveZMQ key for the kernel: {info}"
            reply = client.execute_interactive("x = 6 * 7", timeout=60)
            assert reply["content"]["status"] == "ok"
            client.stop_channels()
        finally:
            km.shutdown_kernel(now=True)
    log = stderr.read_text()
    assert "without encryption" not in log, log

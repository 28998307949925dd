"""Shared fixtures: a seeded random generator, a hypothesis profile, the offline data folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Deterministic and quick property tests: same examples on every run, no per-example deadline
# (the first call into torch or BLAS can be slow on a busy machine).
settings.register_profile(
    "mmids",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "mmids"))


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--screenshots``: the browser check of the book saves one screenshot per chapter."""
    parser.addoption(
        "--screenshots",
        action="store_true",
        default=False,
        help="save a full-page screenshot of every book chapter under _build/screenshots/ "
        "(tests/test_book_site.py; same as MMIDS_SCREENSHOTS=1)",
    )


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh numpy Generator with a fixed seed for each test."""
    return np.random.default_rng(20261122)


@pytest.fixture(scope="session", autouse=True)
def mmids_data_dir() -> Iterator[Path | None]:
    """Point ``MMIDS_DATA_DIR`` at ``../shared/data`` when it is unset (tests never download)."""
    if os.environ.get("MMIDS_DATA_DIR"):
        yield Path(os.environ["MMIDS_DATA_DIR"])
        return
    if not SHARED_DATA.is_dir():
        yield None
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MMIDS_DATA_DIR", str(SHARED_DATA))
        yield SHARED_DATA


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Under ``MMIDS_NO_SKIP=1`` (set by ``make test``) a skipped test is a failure.

    Tests that need the machine's bubblewrap or PostgreSQL skip with a reason where those cannot
    run; the project's own test run installs both, so there a skip would hide a broken feature.
    """
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("MMIDS_NO_SKIP") == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under MMIDS_NO_SKIP=1 (make test runs everything): {reason}"

"""Grading as an ordinary user (issue 12, item 2), as on a JupyterHub where nbgrader runs as the
instructor.

The attack corpus of ``tests/attacks/`` is graded, in one batch with 2 grader processes, by a
REAL unprivileged user this module creates (``useradd``; removed at the end; when the tests run
as an ordinary user, by that user), from that user's own copy of ``mmids/``, ``autograders/``
and ``tests/attacks/`` and with a venv made by Debian's ``/usr/bin/python3.11``.  While it
grades, the user runs 40 other processes: the sandbox's process limit (32) must neither count
them (or no worker could start) nor stop holding a fork bomb.

Where unprivileged user namespaces are disabled, ``grade`` must refuse with the fix: simulated
with a fake ``bwrap`` on ``PATH`` that prints bubblewrap's real error, and with an injected
reader of the kernel settings.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autograders import sandbox, userns
from tests.attacks.corpus import ATTACKS
from tests.attacks.notebooks import HONEST_STUDENTS, HONEST_VJPS, submission
from tests.attacks.verdict import problems
from tests.unprivileged import (
    User,
    chown_tree,
    copy_tree,
    setup_problem,
    temporary_folder,
    temporary_user,
    user_python,
)

#: What the ordinary user gets: the grader, the package, the attack corpus, and the files the
#: attacks try to read (which the user owns, so only the sandbox stands between them).
COPIED = ("mmids", "autograders", "tests/attacks", "tests/unprivileged.py", "tests/conftest.py",
          "exercises/README.md", "exercises/source/vjps/vjps.ipynb")
BACKGROUND = 40


@pytest.fixture(scope="module")
def ordinary_user() -> Iterator[dict[str, Any]]:
    """The user, its copy of the course and its Python: ``{user, root, python, env}``."""
    problem = setup_problem()
    if problem is not None:
        pytest.skip(problem)
    with temporary_user() as user:
        root = temporary_folder(user, "mmids-nonroot-")
        try:
            copy_tree(root, COPIED)
            submission(root / "honest.ipynb", HONEST_VJPS)
            chown_tree(root, user)
            python = user_python(root / "venv", user, readers=user)
            env = {"PATH": "/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8",
                   "PYTHONPATH": str(root)}
            yield {"user": user, "root": root, "python": python, "env": env}
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _start_background(user: User, env: dict[str, str]) -> subprocess.Popen:
    script = f"for i in $(seq {BACKGROUND}); do sleep 900 & done; wait"
    proc = subprocess.Popen(user.argv(["sh", "-c", script], env), start_new_session=True)
    deadline = time.monotonic() + 20
    while len(_sleepers(user)) < BACKGROUND and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc


def _sleepers(user: User) -> list[int]:
    found = []
    for pid in user.pids():
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "sleep":
                found.append(pid)
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def attack_run(ordinary_user: dict[str, Any]) -> dict[str, Any]:
    """The attack batch and the fork probe, run by the ordinary user next to 40 of its processes."""
    user: User = ordinary_user["user"]
    root: Path = ordinary_user["root"]
    background = _start_background(user, ordinary_user["env"])
    try:
        before = len(_sleepers(user))
        start = time.perf_counter()
        done = user.run([str(ordinary_user["python"]), "-m", "tests.attacks.run",
                         str(root / "result.json"), "--repo", str(root)],
                        env=ordinary_user["env"], cwd=root, timeout=900)
        seconds = time.perf_counter() - start
        after = len(_sleepers(user))
        deadline = time.monotonic() + 10
        while user.pids_in_other_user_namespaces() and time.monotonic() < deadline:
            time.sleep(0.1)
        leftovers = user.pids_in_other_user_namespaces()
    finally:
        for pid in _sleepers(user):
            subprocess.run(["kill", "-9", str(pid)], check=False)
        background.kill()
        background.wait(timeout=30)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((root / "result.json").read_text())
    return {**result, "before": before, "after": after, "leftovers": leftovers,
            "seconds": seconds, "stderr": done.stderr}


@pytest.mark.slow  # the whole attack corpus as another user (about 30 s on 2 busy cores)
def test_the_ordinary_user_grades_in_its_own_user_namespace(attack_run: dict[str, Any]) -> None:
    assert attack_run["uid"] != 0
    assert attack_run["isolation"] == "bwrap", attack_run["sandbox_problem"]
    assert attack_run["before"] >= BACKGROUND and attack_run["after"] >= BACKGROUND
    rows = attack_run["rows"]
    assert len(rows) == len(ATTACKS) + len(HONEST_STUDENTS)
    for student in HONEST_STUDENTS:
        assert rows[student]["score"] == rows[student]["max_score"] == 15, rows[student]


@pytest.mark.slow
@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_is_defeated_when_an_ordinary_user_grades(attack_run: dict[str, Any],
                                                         attack) -> None:
    assert problems(attack_run["rows"][f"attack_{attack.name}"], attack) == []


@pytest.mark.slow
def test_process_limit_counts_the_sandbox_only(attack_run: dict[str, Any]) -> None:
    # 40 processes of the same user run meanwhile: a count over the whole user would leave
    # no room for a single child (or for bwrap itself); the sandbox still stops at its limit
    limit = attack_run["processes_limit"]
    assert BACKGROUND > limit
    assert limit - 3 <= attack_run["forks"] < limit, attack_run["forks"]


@pytest.mark.slow
def test_nothing_is_left_behind_and_the_gaps_are_said(attack_run: dict[str, Any],
                                                      ordinary_user: dict[str, Any]) -> None:
    root: Path = ordinary_user["root"]
    assert attack_run["leftovers"] == []  # no sandboxed process (fork bomb included) is left
    for path in ("mmids/evil.py", "evil", ".venv/evil", "venv/evil"):
        assert not (root / path).exists(), path
    gaps = attack_run["gaps"]
    if userns.nproc_counted_per_namespace():  # the process limit is enforced per sandbox
        assert not any(g.startswith("processes:") for g in gaps), gaps
    # without a delegated cgroup the memory cap is the watchdog's: at most that one gap
    assert [g for g in gaps if not g.startswith("memory:")] == [], gaps


@pytest.mark.slow
def test_grade_command_works_and_says_the_gaps_once(ordinary_user: dict[str, Any],
                                                    attack_run: dict[str, Any]) -> None:
    done = ordinary_user["user"].run(
        [str(ordinary_user["python"]), "-m", "autograders", "grade", "vjps",
         str(ordinary_user["root"] / "honest.ipynb"), "--json"],
        env=ordinary_user["env"], cwd=ordinary_user["root"], timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["total"] == out["max_total"] == 15
    notes = [line for line in done.stderr.splitlines() if line.startswith("note: ")]
    assert notes == [f"note: {gap}" for gap in attack_run["gaps"]]


# ------------------------------------------------------------------ user namespaces disabled
BWRAP_DEBIAN_ERROR = ("bwrap: No permissions to create new namespace, likely because the kernel "
                      "does not allow non-privileged user namespaces. See "
                      "<https://deb.li/bubblewrap> or "
                      "<file:///usr/share/doc/bubblewrap/README.Debian.gz>.")
BWRAP_APPARMOR_ERROR = "bwrap: setting up uid map: Permission denied"


def _fake_bwrap(folder: Path, error: str) -> Path:
    """A ``bwrap`` that fails as the real one does where user namespaces are disabled."""
    folder.mkdir(parents=True, exist_ok=True)
    fake = folder / "bwrap"
    fake.write_text(f"#!/bin/sh\necho {error!r} >&2\nexit 1\n")
    fake.chmod(0o755)
    return folder


def test_grade_refuses_with_the_fix_where_user_namespaces_are_off(
        ordinary_user: dict[str, Any]) -> None:
    root: Path = ordinary_user["root"]
    user: User = ordinary_user["user"]
    fake = _fake_bwrap(root / "fakebin", BWRAP_DEBIAN_ERROR)
    chown_tree(fake, user)
    env = {**ordinary_user["env"], "PATH": f"{fake}:/usr/bin:/bin"}
    done = user.run([str(ordinary_user["python"]), "-m", "autograders", "grade", "vjps",
                     str(root / "honest.ipynb"), "--json"], env=env, cwd=root, timeout=300)
    assert done.returncode == 3 and done.stdout == ""
    err = done.stderr
    assert "unprivileged user namespaces are disabled" in err
    assert "sudo sysctl -w kernel.unprivileged_userns_clone=1" in err
    assert "sudo sysctl -w user.max_user_namespaces=15000" in err
    assert "/etc/apparmor.d/bwrap" in err and "userns," in err
    assert "bubblewrap failed (exit" not in err  # not the raw error alone
    assert "refusing to run student code" in err


@pytest.mark.parametrize("settings,error,expected,absent", [
    ({"kernel.unprivileged_userns_clone": "0"}, BWRAP_DEBIAN_ERROR,
     "sudo sysctl -w kernel.unprivileged_userns_clone=1", "apparmor"),
    ({"user.max_user_namespaces": "0", "kernel.unprivileged_userns_clone": "1"},
     BWRAP_DEBIAN_ERROR, "sudo sysctl -w user.max_user_namespaces=15000", "userns_clone"),
    ({"kernel.apparmor_restrict_unprivileged_userns": "1", "user.max_user_namespaces": "63000"},
     BWRAP_APPARMOR_ERROR, "sudo apparmor_parser -r /etc/apparmor.d/bwrap", "max_user"),
], ids=["debian-sysctl", "max-user-namespaces", "ubuntu-24.04-apparmor"])
def test_the_message_names_the_setting_that_is_off(settings: dict[str, str], error: str,
                                                   expected: str, absent: str) -> None:
    message = userns.explain(error, read=settings.get)
    assert message is not None and expected in message and absent not in message
    assert "unprivileged user namespaces are disabled" in message
    assert error.split(": ", 1)[1][:30] in message  # bubblewrap's own words are kept


def test_other_bwrap_failures_are_not_blamed_on_user_namespaces() -> None:
    assert userns.explain("bwrap: Can't mount proc on /newroot/proc: Device busy",
                          read={}.get) is None


def test_sandbox_problem_reads_the_kernel_settings(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    # an ordinary user on Ubuntu 24.04: bwrap fails setting up the uid map, AppArmor is why
    fake = _fake_bwrap(tmp_path / "bin", BWRAP_APPARMOR_ERROR)
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    ubuntu = {"kernel.apparmor_restrict_unprivileged_userns": "1"}
    monkeypatch.setattr(userns, "read_sysctl", ubuntu.get)
    sandbox.sandbox_problem.cache_clear()
    try:
        problem = sandbox.sandbox_problem()
    finally:
        sandbox.sandbox_problem.cache_clear()
    assert problem is not None
    assert "kernel.apparmor_restrict_unprivileged_userns = 1" in problem
    assert "profile bwrap /usr/bin/bwrap" in problem and "sysctl -w kernel.unpriv" not in problem


@pytest.mark.parametrize("release,per_namespace", [
    ("5.10.0-28-amd64", False), ("5.13.19", False), ("5.14.0-427.el9", True),
    ("6.8.0-45-generic", True)])
def test_nproc_is_per_user_namespace_from_linux_5_14(release: str, per_namespace: bool) -> None:
    assert userns.nproc_counted_per_namespace(release) is per_namespace


def test_an_old_kernel_is_said_once(monkeypatch: pytest.MonkeyPatch) -> None:
    if sandbox.isolation() != "bwrap":
        pytest.skip(f"bubblewrap cannot run: {sandbox.sandbox_problem()}")
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(userns, "nproc_counted_per_namespace", lambda release=None: False)
    gaps = sandbox.enforcement_gaps()
    assert len([g for g in gaps if g.startswith("processes:")]) == 1

"""``mmids.gradcheck.tally``: the book's count of checks run, with no bookkeeping in cells."""

from __future__ import annotations

import subprocess
import sys

import pytest
from IPython.core.interactiveshell import InteractiveShell

from mmids.gradcheck import tally


@pytest.fixture
def shell() -> InteractiveShell:
    ip = InteractiveShell.instance()
    tally.start()
    yield ip
    kept = [t for t in ip.ast_transformers if not isinstance(t, tally.CountChecks)]
    ip.ast_transformers[:] = kept


def run(ip: InteractiveShell, code: str) -> None:
    result = ip.run_cell(code)
    result.raise_error()


def test_counts_asserts_and_assert_calls_as_run(shell: InteractiveShell) -> None:
    run(shell, "import numpy as np\nfrom mmids.gradcheck import assert_close")
    assert tally.count() == 0
    run(shell, "assert 1 + 1 == 2")
    assert tally.count() == 1
    run(shell, "for i in range(5):\n    assert i >= 0")
    assert tally.count() == 6
    run(shell, "r = assert_close(np.ones(3), np.ones(3))\nnp.testing.assert_allclose(1.0, 1.0)")
    assert tally.count() == 8
    run(shell, "def f(x):\n    assert x > 0\n    return x\ny = f(1) + f(2)")
    assert tally.count() == 10
    run(shell, "np.linalg.norm(np.ones(2))")  # an ordinary call is not a check
    assert tally.count() == 10


def test_values_pass_through_and_failures_still_raise(shell: InteractiveShell) -> None:
    run(shell, "from mmids.gradcheck import assert_close\nimport numpy as np")
    run(shell, "rep = assert_close(np.zeros(2), np.zeros(2))\nok = rep.ok")
    assert shell.user_ns["ok"] is True
    result = shell.run_cell("assert 1 == 2, 'expected failure'")
    assert isinstance(result.error_in_exec, AssertionError)
    assert "expected failure" in str(result.error_in_exec)


def test_start_resets_and_does_not_register_twice(shell: InteractiveShell) -> None:
    run(shell, "assert True")
    assert tally.count() == 1
    tally.start()
    assert tally.count() == 0
    run(shell, "assert True")
    assert tally.count() == 1  # one transformer, not two
    assert sum(isinstance(t, tally.CountChecks) for t in shell.ast_transformers) == 1


def test_outside_ipython_it_refuses() -> None:
    code = "from mmids.gradcheck import tally\ntally.start()"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "not in a plain Python script" in proc.stderr

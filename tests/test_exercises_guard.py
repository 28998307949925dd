"""The in-notebook side of grading: answer screening, the guard, the namespace caller."""

from __future__ import annotations

import numpy as np
import pytest

import mmids.gradcheck
from autograders import core, guard, hidden
from tests.corpora.tools import namespace_for


@pytest.mark.parametrize("source", [
    "import torch\ndef f(x): return x",
    "from jax import grad",
    "import autograd.numpy as anp",
    "from mmids.functions import softmax_vjp",
    "import mmids.kron",
    "from scipy.optimize import approx_fprime",
    "m = __import__('to' + 'rch')",
    "exec('import torch')",
    "import sys\nt = sys.modules['torch']",
    "import importlib\nimportlib.import_module('jax')",
])
def test_screen_refuses_differentiation_libraries_and_hidden_imports(source: str) -> None:
    message = core.screen_source(source)
    assert message is not None and "No credit" in message


@pytest.mark.parametrize("source", [
    "import numpy as np\ndef f(x): return np.tanh(x)",
    "from mmids import check",
    "import math\nfrom functools import reduce",
    "from scipy.special import expit",
])
def test_screen_allows_plain_numpy_answers(source: str) -> None:
    assert core.screen_source(source) is None


def test_screen_reports_syntax_errors_plainly() -> None:
    assert "syntax error" in core.screen_source("def f(x)\n    return x")


def test_guard_restores_patched_numpy_and_gradcheck() -> None:
    original_allclose, original_compare = np.allclose, mmids.gradcheck.compare
    original_code = mmids.gradcheck.relative_error.__code__
    try:
        np.allclose = lambda *a, **k: True
        mmids.gradcheck.compare = lambda *a, **k: None
        mmids.gradcheck.relative_error.__code__ = (lambda *a, **k: 0.0).__code__
        guard.restore()
        assert np.allclose is original_allclose
        assert mmids.gradcheck.compare is original_compare
        assert mmids.gradcheck.relative_error.__code__ is original_code
        assert not np.allclose(1.0, 2.0)
    finally:
        np.allclose, mmids.gradcheck.compare = original_allclose, original_compare
        mmids.gradcheck.relative_error.__code__ = original_code


def test_monkeypatching_inside_the_student_function_gains_nothing() -> None:
    cheat = """
import numpy as np
import mmids.gradcheck as G

def softmax_vjp(z, p):
    np.allclose = lambda *a, **k: True
    np.max = lambda *a, **k: 0.0
    class Ok:
        ok, worst, n_bad = True, [], 0
    G.compare = lambda *a, **k: Ok()
    return np.zeros_like(p)
"""
    ns = namespace_for("vjps", {"softmax_vjp": cheat})
    spec = core.ASSIGNMENTS["vjps"]
    result = core.run_check(spec, spec.check("test_softmax_vjp"), hidden.NamespaceCaller(ns))
    assert result.points == 0.0
    assert np.max(np.array([1.0, 3.0])) == 3.0  # restored after the call


def test_caller_stops_infinite_loops_and_exits_and_keeps_stderr_clean(
        capfd: pytest.CaptureFixture[str]) -> None:
    ns: dict = {}
    exec("import sys, warnings\n"
         "def loops(x):\n    while True:\n        pass\n"
         "def exits(x):\n    sys.exit(3)\n"
         "def noisy(x):\n    print('hello', file=sys.stderr)\n"
         "    warnings.warn('careful')\n    return x * 2\n", ns)
    call = hidden.NamespaceCaller(ns, time_limit=0.5)
    with pytest.raises(core.StudentCodeError, match="did not return within"):
        call("loops", 1.0)
    with pytest.raises(core.StudentCodeError, match="was not called again"):
        call("loops", 1.0)
    with pytest.raises(core.StudentCodeError, match="SystemExit"):
        call("exits", 1.0)
    with pytest.raises(core.StudentCodeError, match="not defined"):
        call("missing", 1.0)
    assert call("noisy", np.ones(2)).tolist() == [2.0, 2.0]
    assert capfd.readouterr().err == ""


def test_hidden_run_prints_feedback_and_returns_points(capsys: pytest.CaptureFixture[str]) -> None:
    ns = namespace_for("vjps")
    points = hidden.run("vjps", "test_kron_vjp", ns)
    out = capsys.readouterr()
    assert points == 2.0
    assert "test_kron_vjp: 2 / 2 points" in out.out and out.err == ""


def test_hidden_run_refuses_torch_imported_in_another_cell() -> None:
    ns = namespace_for("vjps")
    exec("import torch\n"
         "def tanh_vjp(t, p):\n"
         "    x = torch.tensor(t, requires_grad=True)\n"
         "    torch.tanh(x).backward(torch.tensor(p))\n"
         "    return x.grad.numpy()\n", ns)
    assert hidden.run("vjps", "test_tanh_vjp", ns) == 0.0


@pytest.mark.parametrize("answer", [
    # the reference package's torch helper, imported as the allowed `mmids.check`
    "from mmids import check\n"
    "def tanh_vjp(t, p):\n"
    "    return check.torch_vjp(lambda u: u.tanh(), t, p)\n",
    # a dynamic import the static screen cannot read
    "import builtins\n"
    "def tanh_vjp(t, p):\n"
    "    torch = getattr(builtins, '__imp' + 'ort__')('torch')\n"
    "    x = torch.tensor(t, requires_grad=True)\n"
    "    torch.tanh(x).backward(torch.tensor(p))\n"
    "    return x.grad.numpy()\n",
    # switching the run-time monitor off first
    "import sys, builtins\n"
    "def tanh_vjp(t, p):\n"
    "    getattr(sys, 'setpro' + 'file')(None)\n"
    "    torch = getattr(builtins, '__imp' + 'ort__')('torch')\n"
    "    x = torch.tensor(t, requires_grad=True)\n"
    "    torch.tanh(x).backward(torch.tensor(p))\n"
    "    return x.grad.numpy()\n",
], ids=["mmids_check_torch_vjp", "dynamic_import", "monitor_switched_off"])
def test_hidden_run_refuses_torch_used_at_run_time(answer: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ns = namespace_for("vjps")
    exec(answer, ns)
    assert hidden.run("vjps", "test_tanh_vjp", ns) == 0.0
    out = capsys.readouterr().out
    assert "Refused" in out and ("torch" in out or "setprofile" in out), out


def test_run_time_monitor_reports_a_recursion_error_as_an_error_not_a_refusal(
        capsys: pytest.CaptureFixture[str]) -> None:
    # CPython drops the profile hook at the recursion limit; that must not look like cheating
    ns = namespace_for("vjps")
    exec("import numpy as np\n"
         "def _deep(n):\n    return _deep(n + 1)\n"
         "def tanh_vjp(t, p):\n    return _deep(0)\n", ns)
    assert hidden.run("vjps", "test_tanh_vjp", ns) == 0.0
    out = capsys.readouterr().out
    assert "RecursionError" in out and "Refused" not in out, out


def test_run_time_monitor_lets_numpy_answers_through() -> None:
    ns = namespace_for("vjps")
    exec("import numpy as np\n"
         "def tanh_vjp(t, p):\n"
         "    return (1 - np.tanh(t) ** 2) * p\n", ns)
    assert hidden.run("vjps", "test_tanh_vjp", ns) == core.ASSIGNMENTS["vjps"].check(
        "test_tanh_vjp").max_points


def test_grade_never_raises_for_a_broken_namespace() -> None:
    results = core.grade("backprop", hidden.NamespaceCaller({}, time_limit=1.0))
    assert [r.points for r in results] == [0.0] * len(results)
    assert all(r.message for r in results)


def test_late_guard_detects_replaced_library_functions() -> None:
    original = np.allclose
    try:
        np.allclose = lambda *a, **k: True
        assert "numpy.allclose" in guard.tampered()
    finally:
        np.allclose = original
    assert guard.tampered() == []


@pytest.mark.parametrize(("received", "phrase"), [
    (lambda e: -e, "sign is flipped"),
    (lambda e: e.T, "transpose"),
    (lambda e: e / 4.0, "divided by the batch size N = 4"),
    (lambda e: 2.0 * e, "extra factor 2"),
    (lambda e: np.stack([e / 4.0] * 4), "batch not summed"),
    (lambda e: e.reshape(-1), "reshape them"),
    (lambda e: e.reshape(-1, order="F"), "column-major"),
    (lambda e: np.zeros_like(e), "all zeros"),
])
def test_diagnose_names_generic_mistakes(received, phrase: str) -> None:
    from autograders.diagnose import diagnose

    e = np.random.default_rng(1).standard_normal((3, 5))
    message = diagnose(e, received(e), batch_size=4)
    assert message is not None and phrase in message, message


def test_diagnose_stays_silent_on_unrelated_values() -> None:
    from autograders.diagnose import diagnose

    rng = np.random.default_rng(2)
    assert diagnose(rng.standard_normal((3, 5)), rng.standard_normal((3, 5))) is None

"""mmids.gradcheck: finite differences, torch helpers, reports, catching wrong derivatives."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from mmids import gradcheck as G


def test_import_mmids_does_not_import_torch() -> None:
    code = (
        "import sys, mmids, mmids.functions, mmids.kron, mmids.gradcheck; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_numerical_gradient_of_quadratic(rng: np.random.Generator) -> None:
    A = rng.standard_normal((5, 5))
    x = rng.standard_normal(5)
    g = G.numerical_gradient(lambda u: u @ A @ u, x)
    np.testing.assert_allclose(g, (A + A.T) @ x, rtol=1e-7, atol=1e-8)


def test_numerical_gradient_keeps_the_input_shape(rng: np.random.Generator) -> None:
    X = rng.standard_normal((3, 4))
    g = G.numerical_gradient(lambda U: np.sum(U**3), X)
    assert g.shape == (3, 4)
    np.testing.assert_allclose(g, 3 * X**2, rtol=1e-7, atol=1e-8)


def test_numerical_gradient_rejects_vector_valued_f() -> None:
    with pytest.raises(ValueError, match="scalar-valued"):
        G.numerical_gradient(lambda u: 2 * u, np.ones(3))


@pytest.mark.parametrize("eps", [0.0, -1e-6, float("nan")])
def test_bad_eps(eps: float) -> None:
    with pytest.raises(ValueError, match="eps must be a positive"):
        G.numerical_jacobian(np.sin, np.ones(2), eps=eps)


def test_numerical_jacobian_rows_are_outputs_cols_are_inputs(rng: np.random.Generator) -> None:
    A = rng.standard_normal((2, 3))
    x = rng.standard_normal(3)
    J = G.numerical_jacobian(lambda u: A @ u, x)
    assert J.shape == (2, 3)
    np.testing.assert_allclose(J, A, rtol=1e-8, atol=1e-9)


def test_numerical_jacobian_flattens_row_major() -> None:
    # f(X) = X^T moves entry (i, j) of a 2x3 matrix to entry (j, i) of a 3x2 matrix.
    X = np.arange(6.0).reshape(2, 3)
    J = G.numerical_jacobian(lambda U: U.T, X)
    assert J.shape == (6, 6)
    expected = np.zeros((6, 6))
    for i in range(2):
        for j in range(3):
            expected[j * 2 + i, i * 3 + j] = 1.0
    np.testing.assert_allclose(J, expected, atol=1e-9)


def test_numerical_vjp_is_jacobian_transpose_times_p(rng: np.random.Generator) -> None:
    A = rng.standard_normal((4, 3))
    x = rng.standard_normal(3)
    p = rng.standard_normal(4)
    v = G.numerical_vjp(lambda u: np.tanh(A @ u), x, p)
    J = (1 - np.tanh(A @ x) ** 2)[:, None] * A
    np.testing.assert_allclose(v, J.T @ p, rtol=1e-7, atol=1e-9)
    with pytest.raises(ValueError, match=r"shape of f\(x\)"):
        G.numerical_vjp(lambda u: A @ u, x, np.ones(3))


def test_numerical_derivatives_do_not_see_mutation_by_f(rng: np.random.Generator) -> None:
    def f(u: np.ndarray) -> np.ndarray:
        out = u**2
        u[:] = 0.0  # a careless function that overwrites its argument
        return out

    x = rng.standard_normal(3)
    np.testing.assert_allclose(G.numerical_jacobian(f, x), np.diag(2 * x), rtol=1e-7, atol=1e-8)


def test_torch_helpers_match_closed_forms(rng: np.random.Generator) -> None:
    A = rng.standard_normal((4, 3))
    x = rng.standard_normal(3)
    p = rng.standard_normal(4)
    At = torch.tensor(A)
    np.testing.assert_allclose(G.torch_jacobian(lambda u: At @ u, x), A, rtol=1e-14)
    np.testing.assert_allclose(G.torch_vjp(lambda u: At @ u, x, p), A.T @ p, rtol=1e-12)
    np.testing.assert_allclose(
        G.torch_gradient(lambda u: (u**2).sum(), x), 2 * x, rtol=1e-14
    )
    X = rng.standard_normal((2, 3))
    J = G.torch_jacobian(lambda U: U.T, X)
    np.testing.assert_allclose(J, G.numerical_jacobian(lambda U: U.T, X), atol=1e-9)


def test_torch_vjp_of_constant_output_is_zero() -> None:
    x = np.ones(3)
    v = G.torch_vjp(lambda u: torch.zeros(2, dtype=torch.float64), x, np.ones(2))
    np.testing.assert_array_equal(v, np.zeros(3))
    with pytest.raises(ValueError, match="shape of f_torch"):
        G.torch_vjp(lambda u: 2 * u, x, np.ones(2))


def test_relative_error_is_safe_near_zero() -> None:
    assert G.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    # differences far below the floor stay small instead of exploding
    assert G.relative_error(np.zeros(3), np.full(3, 1e-14)) == pytest.approx(1e-6)
    # relative to the scale of the whole array, not entry by entry
    assert G.relative_error([1.0, 0.0], [1.0, 1e-9]) == pytest.approx(1e-9)
    assert G.relative_error([2.0, 4.0], [2.0, 5.0]) == pytest.approx(0.2)
    assert G.relative_error([1.0, np.nan], [1.0, 1.0]) == np.inf
    with pytest.raises(ValueError, match="shape mismatch"):
        G.relative_error(np.zeros(2), np.zeros(3))


def test_compare_passes_within_tolerance(rng: np.random.Generator) -> None:
    e = rng.standard_normal((3, 4))
    report = G.compare(e, e * (1 + 1e-9), name="same")
    assert report.ok and bool(report)
    assert report.max_abs_error < 1e-8
    assert str(report).startswith("[ok] same")


def test_compare_names_the_worst_entries(rng: np.random.Generator) -> None:
    e = rng.standard_normal((3, 4))
    a = e.copy()
    a[1, 2] += 0.5
    a[2, 0] += 0.01
    report = G.compare(e, a, name="demo")
    assert not report.ok
    assert report.n_bad == 2
    assert report.worst[0][0] == (1, 2)
    assert report.worst[0][1] == pytest.approx(e[1, 2])
    assert report.worst[0][2] == pytest.approx(a[1, 2])
    assert report.worst[1][0] == (2, 0)
    text = str(report)
    assert "[FAIL] demo" in text and "(1, 2)" in text and "2 of 12 entries" in text
    assert report.max_abs_error == pytest.approx(0.5)


def test_compare_shape_mismatch_and_nan() -> None:
    report = G.compare(np.zeros(3), np.zeros((3, 1)))
    assert not report.ok
    assert "shape mismatch" in str(report) and "(3,)" in str(report) and "(3, 1)" in str(report)
    report = G.compare([1.0, 2.0], [1.0, np.nan])
    assert not report.ok and report.worst[0][0] == (1,)
    assert G.compare([np.inf], [np.inf]).ok
    assert not G.compare([np.inf], [-np.inf]).ok


def test_assert_close_raises_with_the_report() -> None:
    G.assert_close([1.0, 2.0], [1.0, 2.0 + 1e-12])
    with pytest.raises(AssertionError, match=r"\(1,\): expected 2, actual 3"):
        G.assert_close([1.0, 2.0], [1.0, 3.0])


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_vjp_rows(z: np.ndarray, p: np.ndarray) -> np.ndarray:
    g = _softmax_rows(z)
    return g * (p - (g * p).sum(axis=-1, keepdims=True))


def test_check_vjp_accepts_a_correct_vjp(rng: np.random.Generator) -> None:
    z = rng.standard_normal((4, 5))
    report = G.check_vjp(_softmax_rows, _softmax_vjp_rows, z, f_torch=lambda t: t.softmax(-1))
    assert report.ok, str(report)
    assert len(report.parts) == 3
    assert "vs finite differences" in str(report) and "vs torch.autograd" in str(report)


def test_check_vjp_catches_a_wrong_vjp_and_names_the_worst_entry(
    rng: np.random.Generator,
) -> None:
    z = rng.standard_normal((4, 5))

    def wrong(z: np.ndarray, p: np.ndarray) -> np.ndarray:
        v = _softmax_vjp_rows(z, p)
        v[2, 3] += 0.1  # one wrong entry
        return v

    report = G.check_vjp(_softmax_rows, wrong, z, f_torch=lambda t: t.softmax(-1), name="mine")
    assert not report.ok
    assert report.worst[0][0] == (2, 3)
    text = str(report)
    assert "[FAIL] mine" in text and "(2, 3)" in text
    assert all(not part.ok for part in report.parts if "f(x)" not in part.name)
    with pytest.raises(AssertionError, match=r"\(2, 3\)"):
        report.assert_ok()


def test_check_vjp_catches_a_classic_mistake(rng: np.random.Generator) -> None:
    # forgetting the -<γ, p> term, i.e. using diag(γ) instead of diag(γ) - γγ^T
    z = rng.standard_normal(6)
    report = G.check_vjp(_softmax_rows, lambda z, p: _softmax_rows(z) * p, z)
    assert not report.ok
    assert report.max_rel_error > 1e-2


def test_torch_part_is_tighter_than_finite_differences(rng: np.random.Generator) -> None:
    z = rng.standard_normal(5)
    slightly_off = lambda z, p: _softmax_vjp_rows(z, p) * (1 + 1e-7)
    fd_only = G.check_vjp(_softmax_rows, slightly_off, z)
    with_torch = G.check_vjp(_softmax_rows, slightly_off, z, f_torch=lambda t: t.softmax(-1))
    assert fd_only.ok
    assert not with_torch.ok
    assert [p.ok for p in with_torch.parts] == [True, True, False]


def test_check_vjp_notices_a_wrong_torch_reference(rng: np.random.Generator) -> None:
    z = rng.standard_normal(5)
    report = G.check_vjp(_softmax_rows, _softmax_vjp_rows, z, f_torch=lambda t: t.sigmoid())
    assert not report.ok
    assert not report.parts[1].ok and "f(x) agrees with f_torch(x)" in report.parts[1].name


def test_check_vjp_upstream_is_seeded(rng: np.random.Generator) -> None:
    z = rng.standard_normal(5)
    seen: list[np.ndarray] = []

    def spy(z: np.ndarray, p: np.ndarray) -> np.ndarray:
        seen.append(p)
        return _softmax_vjp_rows(z, p)

    G.check_vjp(_softmax_rows, spy, z, rng=7)
    G.check_vjp(_softmax_rows, spy, z, rng=7)
    G.check_vjp(_softmax_rows, spy, z, rng=8)
    np.testing.assert_array_equal(seen[0], seen[1])
    assert not np.allclose(seen[0], seen[2])
    with pytest.raises(ValueError, match=r"shape of f\(x\)"):
        G.check_vjp(_softmax_rows, spy, z, p=np.ones(4))


def test_check_gradient_and_check_jacobian(rng: np.random.Generator) -> None:
    A = rng.standard_normal((3, 4))
    x = rng.standard_normal(4)
    At = torch.tensor(A)
    f = lambda u: float(np.sum(np.tanh(A @ u)))
    grad = lambda u: A.T @ (1 - np.tanh(A @ u) ** 2)
    ft = lambda u: torch.tanh(At @ u).sum()
    assert G.check_gradient(f, grad, x, f_torch=ft).ok
    bad = G.check_gradient(f, lambda u: -grad(u), x, f_torch=ft)
    assert not bad.ok and "[FAIL]" in str(bad)

    jac = lambda u: (1 - np.tanh(A @ u) ** 2)[:, None] * A
    g = lambda u: np.tanh(A @ u)
    assert G.check_jacobian(g, jac, x, f_torch=lambda u: torch.tanh(At @ u)).ok
    wrong = G.check_jacobian(g, lambda u: jac(u).T, x)  # transposed: wrong shape
    assert not wrong.ok and "shape mismatch" in str(wrong)


# ---------------------------------------------------------------- mmids.check (for students)


def test_mmids_check_is_callable_from_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    from mmids import check

    def my_vjp(z: np.ndarray, p: np.ndarray) -> np.ndarray:
        return _softmax_vjp_rows(z, p)

    report = check(_softmax_rows, my_vjp, np.array([0.5, -1.0, 2.0]))
    out = capsys.readouterr().out
    assert report.ok and bool(report)
    assert out.startswith("PASSED: `my_vjp` (vjp)")
    import mmids.check as module

    assert module is check and module.check is not module  # module and function both reachable


def test_mmids_check_recognises_gradient_and_jacobian(capsys, rng) -> None:
    from mmids.check import check

    A = rng.standard_normal((3, 4))
    x = rng.standard_normal(4)
    assert check(lambda u: float(u @ u), lambda u: 2 * u, x).ok
    assert "(gradient)" in capsys.readouterr().out
    assert check(lambda u: A @ u, lambda u: A, x).ok
    assert "(jacobian)" in capsys.readouterr().out
    At = torch.tensor(A)
    assert check(lambda u: A @ u, lambda u, p: A.T @ p, x, f_torch=lambda u: At @ u).ok


def _hints_for(f, derivative, x, **kw) -> tuple[G.CheckReport, str]:
    from mmids.check import check

    report = check(f, derivative, x, verbose=False, **kw)
    return report, " | ".join(report.hints)


def test_mmids_check_diagnoses_common_mistakes(rng, capsys) -> None:
    from mmids.check import check

    A = rng.standard_normal((3, 4))
    x = rng.standard_normal(4)
    f_sq = lambda u: float(np.sum(u**2))

    report, hints = _hints_for(f_sq, lambda u: -2 * u, x)
    assert not report.ok and "wrong sign" in hints
    report, hints = _hints_for(f_sq, lambda u: u, x)
    assert not report.ok and "0.5 times the right answer" in hints
    report, hints = _hints_for(lambda u: A @ u, lambda u: A.T, x)
    assert not report.ok and "transpose is right" in hints and "shape (4, 3)" in hints
    B = rng.standard_normal((4, 4))
    report, hints = _hints_for(lambda u: B @ u, lambda u: B.T, x)
    assert not report.ok and "transpose is right" in hints
    report, hints = _hints_for(f_sq, lambda u: (2 * u)[:, None], x)
    assert not report.ok and "reshape the result to (4,)" in hints
    report, hints = _hints_for(f_sq, lambda u: np.full(4, np.nan), x)
    assert not report.ok and "NaN or inf" in hints
    report, hints = _hints_for(f_sq, lambda u: np.zeros(4), x)
    assert not report.ok and "all zeros" in hints

    def broken(u: np.ndarray) -> np.ndarray:
        raise KeyError("oops")

    report = check(f_sq, broken, x)
    out = capsys.readouterr().out
    assert not report.ok and "FAILED: `broken`" in out and "raised KeyError" in out


def test_mmids_check_names_the_worst_entry(capsys) -> None:
    from mmids.check import check

    x = np.linspace(-1, 1, 6)

    def almost(u: np.ndarray, p: np.ndarray) -> np.ndarray:
        v = np.cos(u) * p
        v[4] = 0.0
        return v

    report = check(np.sin, almost, x, p=np.ones(6))
    out = capsys.readouterr().out
    assert not report.ok and report.worst[0][0] == (4,)
    assert "(4,): finite differences" in out and "1 of 6 entries" in out
    with pytest.raises(ValueError, match="kind must be"):
        check(np.sin, almost, x, kind="hessian")
    with pytest.raises(ValueError, match="pass kind="):
        check(np.sin, lambda *a: a[0], x)
    with pytest.raises(ValueError, match="needs a scalar f"):
        check(np.sin, np.cos, x, kind="gradient")


def test_a_report_shows_as_one_human_line_in_a_notebook(rng: np.random.Generator) -> None:
    from IPython.lib.pretty import pretty

    e = rng.standard_normal(5)
    good = G.compare(e, e + 1e-12, name="relu_vjp", expected_label="finite differences")
    assert pretty(good) == good.summary()
    assert good.summary().startswith("✓ relu_vjp matches finite differences (max error 1e-12")
    bad = G.compare(e, np.where(np.arange(5) == 3, e + 1.0, e), name="relu_vjp")
    assert pretty(bad) == "✗ relu_vjp does not match the expected values: 1 of 5 entries differ " \
        "(max error 1)"
    mismatch = G.compare(e, e[:3], name="relu_vjp")
    assert pretty(mismatch).startswith("✗ relu_vjp: shape mismatch")
    assert "CheckReport(" in repr(good)  # the plain repr stays technical


def test_report_worst_entries_read_as_sentences() -> None:
    text = str(G.compare([1.0, -1e-17], [1.0, 0.5], name="demo"))
    assert "1 of 2 entries differ (actual vs expected" in text
    assert "(1,): expected -1e-17, actual 0.5 (difference 0.5)" in text
    assert "-0 " not in str(G.compare([0.0, -0.0], [1.0, 1.0]))


def test_mmids_check_prints_one_line_and_names_the_check(capsys) -> None:
    from mmids import check

    x = np.linspace(-1, 1, 4)
    report = check(np.sin, lambda u, p: np.cos(u) * p, x, name="sin VJP")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("PASSED: sin VJP (vjp) matches finite diff")
    assert report.name == "sin VJP (vjp)" and report.summary().startswith("✓ sin VJP (vjp)")


@pytest.mark.parametrize(("returned", "phrase"), [
    (lambda g: list(g), "Python list; return a numpy array"),
    (lambda g: g.astype(np.float32), "float32 for float64 inputs: precision was lost"),
    (lambda g: np.round(g).astype(int), "returned integers"),
    (lambda g: None, "did you forget the `return` statement?"),
])
def test_mmids_check_fails_answers_of_the_wrong_type(returned, phrase: str, capsys) -> None:
    from mmids import check

    x = np.linspace(-1, 1, 4)
    report = check(np.sin, lambda u, p: returned(np.cos(u) * p), x)
    out = capsys.readouterr().out
    assert not report.ok and phrase in out, out


def test_mmids_check_jvp(rng: np.random.Generator, capsys) -> None:
    from mmids import check

    A = rng.standard_normal((3, 4))
    x = rng.standard_normal(4)
    f = lambda u: np.tanh(A @ u)
    jvp = lambda u, du: (1 - np.tanh(A @ u) ** 2) * (A @ du)
    At = torch.tensor(A)
    assert check(f, jvp, x, kind="jvp", f_torch=lambda u: torch.tanh(At @ u)).ok
    assert "(jvp) matches finite differences and torch.autograd" in capsys.readouterr().out
    assert not check(f, lambda u, du: (1 - np.tanh(A @ u) ** 2) * (A @ u), x, kind="jvp").ok
    seen = []
    check(f, lambda u, du: seen.append(du) or jvp(u, du), x, kind="jvp", dx=np.ones(4))
    np.testing.assert_array_equal(seen[0], np.ones(4))
    with pytest.raises(ValueError, match="dx must have the shape of x"):
        check(f, jvp, x, kind="jvp", dx=np.ones(3))


def test_mmids_check_values_and_that(capsys) -> None:
    from mmids import check

    assert check.values(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12]), name="pair").ok
    assert capsys.readouterr().out == (
        "PASSED: pair matches the expected values (max error 1e-12).\n")
    bad = check.values(np.array([1.0, 2.5]), np.array([1.0, 2.0]), name="pair")
    out = capsys.readouterr().out
    assert not bad.ok and out.startswith("FAILED: pair does not match the expected values:")
    assert "(1,): expected 2, yours 2.5" in out
    arrays = [np.ones(2), np.zeros((2, 2))]
    assert check.values([np.ones(2), np.zeros((2, 2))], arrays, name="list").ok
    capsys.readouterr()
    assert not check.values([np.ones(2)], arrays, name="list").ok
    assert "it holds 1 array, but 2 are expected" in capsys.readouterr().out
    wrong = check.values([np.ones(2), np.ones((2, 2))], arrays, name="list")
    assert not wrong.ok and "list[1] vs expected" in capsys.readouterr().out
    assert not check.values([1.0, 2.0], np.array([1.0, 2.0])).ok
    assert "Python list" in capsys.readouterr().out
    assert check.that(True, "the input is unchanged").ok
    assert capsys.readouterr().out == "PASSED: the input is unchanged.\n"
    failed = check.that(False, "the input is unchanged", hint="work on a copy")
    assert not failed and capsys.readouterr().out == (
        "FAILED: not true that the input is unchanged.\n  hint: work on a copy\n")

"""QR decompositions, triangular solves and least squares by QR.

The least-squares problem ``min_x ‖A x − b‖`` with ``A ∈ R^{n×m}``, ``n ≥ m`` and full column
rank is solved through a reduced QR decomposition ``A = Q R`` (``Q ∈ R^{n×m}`` with orthonormal
columns, ``R ∈ R^{m×m}`` upper triangular with non-zero diagonal): the normal equations
``A^T A x = A^T b`` become ``R x = Q^T b``, solved by back substitution.

In the book (the linear-regression chapter) the matrix is the data matrix ``X`` (``N × d``, one
sample per row, a column of ones for the intercept), the right-hand side is the vector of labels
``y`` and the unknown is the parameter vector ``w``: ``min_w ‖X w − y‖``, ``X = Q R``,
``R w = Q^T y``. The generic names ``A``, ``b``, ``x`` are kept here; they are unrelated to the
Jacobian blocks ``A_i``, ``B_i`` of the book.

Every function checks its input and raises a ``ValueError`` that says what is wrong (shape,
non-finite entries, a singular triangular matrix, a rank-deficient ``A``) instead of returning
numbers that mean nothing.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids._validate import as_float_array

__all__ = [
    "DEFAULT_RANK_RTOL",
    "backsubs",
    "forwardsubs",
    "gramschmidt",
    "householder",
    "ls_by_qr",
]

Array = NDArray[np.float64]

#: Default relative tolerance for rank decisions: a column counts as dependent on the previous
#: ones when its new direction is at most this fraction of its own norm (see ``ls_by_qr``).
DEFAULT_RANK_RTOL = 1e-10


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def _finite_array(x: ArrayLike, name: str) -> Array:
    arr = as_float_array(x, name, copy=True)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite entries (NaN or inf)")
    return arr


def _matrix(A: ArrayLike, name: str) -> Array:
    A = _finite_array(A, name)
    if A.ndim != 2 or A.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D matrix, got shape {A.shape}")
    return A


def _rhs(b: ArrayLike, n: int, name: str = "b") -> Array:
    b = _finite_array(b, name)
    if b.ndim not in (1, 2) or b.shape[0] != n:
        raise ValueError(
            f"{name} must have shape ({n},) or ({n}, k) to match the matrix, got {b.shape}"
        )
    return b


def _triangular(T: ArrayLike, name: str, lower: bool) -> Array:
    T = _matrix(T, name)
    n, m = T.shape
    if n != m:
        raise ValueError(f"{name} must be square, got shape {T.shape}")
    off = np.triu(T, 1) if lower else np.tril(T, -1)
    if np.any(off != 0):
        kind = "lower" if lower else "upper"
        raise ValueError(f"{name} must be {kind} triangular (it has non-zeros on the other side)")
    zero = np.flatnonzero(np.diag(T) == 0)
    if zero.size:
        raise ValueError(
            f"{name} is singular: zero on the diagonal at index {int(zero[0])}"
        )
    return T


# ---------------------------------------------------------------------------------------------
# triangular solves
# ---------------------------------------------------------------------------------------------


def backsubs(R: ArrayLike, b: ArrayLike) -> Array:
    """Solve ``R x = b`` for upper-triangular ``R`` (``m×m``, non-zero diagonal).

    Back substitution, last unknown first: ``x_i = (b_i − Σ_{j>i} r_ij x_j) / r_ii``.
    ``b`` is ``(m,)`` (result ``(m,)``) or ``(m, k)`` (``k`` right-hand sides, result ``(m, k)``).
    """
    R = _triangular(R, "R", lower=False)
    b = _rhs(b, R.shape[0])
    m = R.shape[0]
    x = np.zeros_like(b)
    for i in range(m - 1, -1, -1):
        x[i] = (b[i] - R[i, i + 1:] @ x[i + 1:]) / R[i, i]
    return x


def forwardsubs(L: ArrayLike, b: ArrayLike) -> Array:
    """Solve ``L x = b`` for lower-triangular ``L`` (``m×m``, non-zero diagonal).

    Forward substitution, first unknown first: ``x_i = (b_i − Σ_{j<i} l_ij x_j) / l_ii``.
    ``b`` is ``(m,)`` or ``(m, k)``, like the result.
    """
    L = _triangular(L, "L", lower=True)
    b = _rhs(b, L.shape[0])
    x = np.zeros_like(b)
    for i in range(L.shape[0]):
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]
    return x


# ---------------------------------------------------------------------------------------------
# QR decompositions
# ---------------------------------------------------------------------------------------------


def gramschmidt(A: ArrayLike, rtol: float = DEFAULT_RANK_RTOL) -> tuple[Array, Array]:
    """Reduced QR of ``A`` (``n×m``, ``n ≥ m``, full column rank) by Gram–Schmidt.

    Column ``j`` of ``Q`` is ``a_j`` minus its projections ``r_ij q_i`` (``r_ij = ⟨q_i, a_j⟩``) on
    the earlier ``q_i``, divided by the norm ``r_jj`` of what is left. The modified variant is
    used (each projection is removed from the running remainder), which keeps ``Q`` orthogonal
    to working precision far better than the classical formula. Returns ``Q`` (``n×m``,
    ``Q^T Q = I``) and ``R`` (``m×m`` upper triangular, ``r_jj > 0``) with ``A = Q R``.

    Raises ``ValueError`` if ``n < m`` or if some column is (numerically) in the span of the
    previous ones: ``r_jj ≤ rtol · ‖a_j‖``.
    """
    A = _matrix(A, "A")
    n, m = A.shape
    if n < m:
        raise ValueError(
            f"Gram-Schmidt needs at least as many rows as columns, got A of shape {A.shape}"
        )
    Q = A.copy()
    R = np.zeros((m, m))
    for j in range(m):
        v = Q[:, j]
        for i in range(j):
            R[i, j] = Q[:, i] @ v
            v = v - R[i, j] * Q[:, i]
        R[j, j] = np.linalg.norm(v)
        if R[j, j] <= rtol * np.linalg.norm(A[:, j]) or R[j, j] == 0:
            raise ValueError(
                f"A is rank-deficient: column {j} lies in the span of the previous columns "
                f"(remainder norm {R[j, j]:.3g} ≤ rtol={rtol:g} × column norm)"
            )
        Q[:, j] = v / R[j, j]
    return Q, R


def householder(
    A: ArrayLike, mode: Literal["reduced", "complete"] = "reduced"
) -> tuple[Array, Array]:
    """QR of ``A`` (``n×m``) by Householder reflections.

    Step ``k`` reflects the sub-column ``x = A_{k:, k}`` onto a multiple of ``e_1`` with
    ``H = I − 2 v v^T`` (``v`` the unit vector along ``x − α e_1``, ``α = −sign(x_1)‖x‖`` to
    avoid cancellation), so ``H_p … H_1 A = R`` and ``Q = H_1 … H_p``. Signs are then fixed so
    that ``R`` has a non-negative diagonal (the same factors as Gram–Schmidt when ``A`` has full
    column rank).

    ``mode="reduced"`` (default): ``Q`` is ``n×p``, ``R`` is ``p×m`` with ``p = min(n, m)``.
    ``mode="complete"``: ``Q`` is ``n×n`` orthogonal, ``R`` is ``n×m``. Works for any rank;
    rank decisions are left to the caller (see ``ls_by_qr``).
    """
    if mode not in ("reduced", "complete"):
        raise ValueError(f"mode must be 'reduced' or 'complete', got {mode!r}")
    R = _matrix(A, "A")
    n, m = R.shape
    Q = np.eye(n)
    p = min(n, m)
    for k in range(min(n - 1, m)):
        x = R[k:, k]
        norm_x = np.linalg.norm(x)
        if norm_x == 0:
            continue
        alpha = -norm_x if x[0] >= 0 else norm_x
        v = x.copy()
        v[0] -= alpha
        v /= np.linalg.norm(v)
        R[k:, k:] -= 2.0 * np.outer(v, v @ R[k:, k:])
        Q[:, k:] -= 2.0 * np.outer(Q[:, k:] @ v, v)
    R = np.triu(R)
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)
    R[:p] *= signs[:, None]
    Q[:, :p] *= signs[None, :]
    if mode == "reduced":
        return Q[:, :p], R[:p]
    return Q, R


def ls_by_qr(
    A: ArrayLike,
    b: ArrayLike,
    method: Literal["householder", "gramschmidt"] = "householder",
    rtol: float = DEFAULT_RANK_RTOL,
) -> Array:
    """Least squares ``argmin_x ‖A x − b‖₂`` by a QR decomposition and back substitution.

    ``A = Q R`` (reduced), then ``R x = Q^T b``. ``A`` is ``n×m`` with ``n ≥ m``; ``b`` is
    ``(n,)`` (result ``(m,)``) or ``(n, k)`` (result ``(m, k)``).

    Raises ``ValueError`` for: shapes that do not fit, NaN/inf in ``A`` or ``b``, fewer rows than
    columns, and a rank-deficient ``A``. Rank is judged column by column, relative to each
    column's own norm: ``A`` counts as rank-deficient when ``|r_jj| ≤ rtol · ‖a_j‖`` for some
    ``j``. Since ``|r_jj|`` is the distance of ``a_j`` from the span of ``a_1, …, a_{j−1}``, the
    ratio ``|r_jj| / ‖a_j‖`` is the sine of the angle between ``a_j`` and that span: it does not
    change when columns are rescaled (it is the diagonal of ``R D^{-1}``, the R factor of the
    column-scaled ``A D^{-1}``, ``D = diag(‖a_j‖)``). So a full-rank but badly scaled ``A``
    (columns of sizes 1e-6, 1, 1e6) is solved, while exactly or nearly dependent columns
    (sine at most ``rtol``) and zero columns are rejected. Gram–Schmidt applies the same test
    as it goes (see ``gramschmidt``).
    """
    A = _matrix(A, "A")
    n, m = A.shape
    b = _rhs(b, n)
    if n < m:
        raise ValueError(
            f"least squares needs at least as many rows as columns (n ≥ m), got A of shape "
            f"{A.shape}: the problem is underdetermined"
        )
    if method == "householder":
        Q, R = householder(A)
    elif method == "gramschmidt":
        Q, R = gramschmidt(A, rtol=rtol)
    else:
        raise ValueError(f"method must be 'householder' or 'gramschmidt', got {method!r}")
    diag = np.abs(np.diag(R))
    col_norms = np.linalg.norm(A, axis=0)
    bad = np.flatnonzero((diag <= rtol * col_norms) | (diag == 0))
    if bad.size:
        j = int(bad[0])
        raise ValueError(
            f"A is rank-deficient (numerically): |R[{j},{j}]| = {diag[j]:.3g} ≤ "
            f"rtol={rtol:g} × ‖A[:, {j}]‖ = {col_norms[j]:.3g} (column {j} lies, up to this "
            "relative tolerance, in the span of the previous columns); remove dependent "
            "columns or regularise"
        )
    return backsubs(R, Q.T @ b)

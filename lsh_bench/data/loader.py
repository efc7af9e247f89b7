"""Load a benchmark dataset: mirror directories, then the embedded copy, then OpenML.

Every copy is checked: a mirror file's sha256 must equal the manifest's; the
embedded and OpenML copies must have the expected shape and minority count.
The returned :class:`Dataset` says which copy was used and its checksum, so a
result row can be traced back to exact bytes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lsh_bench.config import DataSpec, DatasetSpec
from lsh_bench.data.schema import FeatureSchema
from lsh_bench.errors import DatasetInvalid, DatasetUnavailable

TARGET = "target"
ENV_MIRROR = "LSH_BENCH_DATA"


@dataclass(frozen=True)
class Dataset:
    """Features (raw: numbers, categoricals as strings) and target (1 = minority)."""

    spec: DatasetSpec
    X: pd.DataFrame
    y: np.ndarray
    schema: FeatureSchema
    sha256: str
    source: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def n_minority(self) -> int:
        return int(self.y.sum())

    @property
    def ir(self) -> float:
        """Imbalance ratio, majority/minority (paper Table 5)."""
        n_min = self.n_minority
        return float((len(self.y) - n_min) / n_min) if n_min else float("inf")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_frame(X: pd.DataFrame, y: np.ndarray) -> str:
    """Checksum of a table's content (for copies that are not mirror files)."""
    table = X.copy()
    table[TARGET] = y
    return hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()


def mirror_dirs(data: DataSpec) -> list[Path]:
    dirs = [Path(d).expanduser() for d in data.mirror_dirs]
    env = os.environ.get(ENV_MIRROR, "")
    dirs += [Path(d).expanduser() for d in env.split(os.pathsep) if d]
    return dirs


def _finish(spec: DatasetSpec, X: pd.DataFrame, y: np.ndarray, sha: str, source: str) -> Dataset:
    classes = set(np.unique(y).tolist())
    if classes != {0, 1}:
        raise DatasetInvalid(
            f"dataset {spec.name!r} ({source}): target must hold both classes 0 (majority) and "
            f"1 (minority), found {sorted(classes)}"
        )
    return Dataset(spec, X.reset_index(drop=True), y.astype(int), FeatureSchema.infer(X), sha, source)


def read_mirror_file(spec: DatasetSpec, path: Path) -> Dataset:
    """Read ``<id>_<name>.csv.gz``, verifying the manifest's sha256 first."""
    actual = sha256_file(path)
    if spec.sha256 and actual != spec.sha256:
        raise DatasetInvalid(
            f"dataset {spec.name!r}: checksum mismatch for {path}: expected sha256 {spec.sha256}, "
            f"found {actual} (corrupt or different file; re-copy it from the mirror)"
        )
    try:
        table = pd.read_csv(path)
    except Exception as exc:  # unreadable gzip/CSV: name the file
        raise DatasetInvalid(f"dataset {spec.name!r}: cannot read {path}: {exc}") from exc
    if TARGET not in table.columns:
        raise DatasetInvalid(f"dataset {spec.name!r}: {path} has no {TARGET!r} column")
    y = pd.to_numeric(table.pop(TARGET), errors="coerce").to_numpy()
    if np.isnan(y).any():
        raise DatasetInvalid(f"dataset {spec.name!r}: {path}: column {TARGET!r} must be 0/1")
    return _finish(spec, table, y, actual, f"mirror:{path}")


def load_embedded(spec: DatasetSpec) -> Dataset:
    """scikit-learn's copy of wdbc (``load_breast_cancer``): minority = malignant (label 0)."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    X = pd.DataFrame(bunch.data, columns=[f"V{i + 1}" for i in range(bunch.data.shape[1])])
    y = (bunch.target == 0).astype(int)
    if spec.n_rows is not None and (len(X), int(y.sum())) != (spec.n_rows, spec.n_minority):
        raise DatasetInvalid(
            f"dataset {spec.name!r}: embedded copy has {len(X)} rows / {int(y.sum())} minority, "
            f"expected {spec.n_rows} / {spec.n_minority}"
        )
    return _finish(spec, X, y, sha256_frame(X, y), "embedded:sklearn.datasets.load_breast_cancer")


def load_openml(spec: DatasetSpec, data: DataSpec) -> Dataset:
    """By OpenML id through openml-python (which verifies the file's md5)."""
    import openml

    if data.openml_cache_dir:
        openml.config.set_root_cache_directory(data.openml_cache_dir)
    ds = openml.datasets.get_dataset(spec.openml_id, download_data=True)
    X, target, _, _ = ds.get_data(target=ds.default_target_attribute)
    labels, counts = np.unique(target.astype(str), return_counts=True)
    if len(labels) != 2:
        raise DatasetInvalid(f"dataset {spec.name!r} (OpenML {spec.openml_id}): {len(labels)} classes, expected 2")
    minority = labels[np.argmin(counts)]
    y = (target.astype(str).to_numpy() == minority).astype(int)
    X = X.apply(lambda s: s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype) else s)
    return _finish(spec, X, y, sha256_frame(X, y), f"openml:{spec.openml_id}")


def load_dataset(spec: DatasetSpec, data: DataSpec) -> Dataset:
    """Mirror directories first, then the embedded copy, then OpenML (if allowed).

    Raises :class:`DatasetUnavailable` naming every place that was tried.
    """
    tried: list[str] = []
    if spec.file:
        for d in mirror_dirs(data):
            path = d / spec.file
            if path.is_file():
                return read_mirror_file(spec, path)
            tried.append(str(path))
    else:
        tried.append("mirror: no offline copy of this paper row (manifest has no file)")
    if data.use_embedded and spec.embedded:
        return load_embedded(spec)
    if data.use_openml and spec.openml_id is not None:
        try:
            return load_openml(spec, data)
        except (DatasetInvalid, DatasetUnavailable):
            raise
        except Exception as exc:  # network down, server errors: say so, keep the cause
            tried.append(f"OpenML id {spec.openml_id}: {type(exc).__name__}: {exc}")
    elif spec.openml_id is None:
        tried.append("OpenML: no id known for this paper row")
    if not mirror_dirs(data) and spec.file:
        tried.append(f"(no mirror directory configured: set data.mirror_dirs or ${ENV_MIRROR})")
    raise DatasetUnavailable(f"dataset {spec.name!r} (paper row {spec.paper_row}) not found; tried: " + "; ".join(tried))

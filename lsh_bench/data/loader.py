"""Load a benchmark dataset: mirror directories, then the embedded copy, then OpenML.

Every copy is checked: a mirror file's sha256 must equal the manifest's; the
embedded and OpenML copies must have the expected shape and minority count.
Every copy is then cleaned the same way (:mod:`lsh_bench.data.cleaning`, on
the whole table, before any split) and its schema derived from the cleaned
table with the run's encoding. The returned :class:`Dataset` says which copy
was used (a file by its mirror-relative name, never a machine's path), its
checksum and what the cleaning dropped, so a result row can be traced back to
exact bytes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lsh_bench.config import DataSpec, DatasetSpec
from lsh_bench.data.cleaning import CleaningReport, clean
from lsh_bench.data.schema import Encoding, FeatureSchema
from lsh_bench.errors import DatasetInvalid, DatasetUnavailable

TARGET = "target"
ENV_MIRROR = "LSH_BENCH_DATA"


@dataclass(frozen=True)
class Dataset:
    """Cleaned features (numbers, nominal labels as strings) and target (1 = minority)."""

    spec: DatasetSpec
    X: pd.DataFrame
    y: np.ndarray
    schema: FeatureSchema
    sha256: str
    source: str                        # "mirror:<file name>", "openml:<id>" or "embedded:<loader>"
    cleaning: CleaningReport | None = None

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

    def provenance(self) -> dict[str, Any]:
        """What a result row records about its data: which bytes, and what the cleaning did."""
        return {
            "dataset_sha256": self.sha256,
            "data_source": self.source,
            "openml_id": self.spec.openml_id,
            "encoding": self.schema.encoding,
            "cleaning": self.cleaning.as_dict() if self.cleaning else None,
        }


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


def _target(spec: DatasetSpec, values: pd.Series, where: str) -> np.ndarray:
    """The 0/1 target column; anything else (2, 0.5, text, missing) is refused, naming what was found."""
    y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        found = sorted({str(v) for v in values[bad].tolist()})[:5]
        raise DatasetInvalid(f"dataset {spec.name!r}: {where}: column {TARGET!r} must hold only 0 (majority) and "
                             f"1 (minority); {int(bad.sum())} row(s) hold {found}")
    return y.astype(int)


def _finish(spec: DatasetSpec, X: pd.DataFrame, y: np.ndarray, sha: str, source: str, data: DataSpec,
            encoding: Encoding, nominal: list[str] | None) -> Dataset:
    """Check both classes, clean (whole table), derive the schema from the cleaned table."""
    classes = set(np.unique(y).tolist())
    if classes != {0, 1}:
        raise DatasetInvalid(
            f"dataset {spec.name!r} ({source}): target must hold both classes 0 (majority) and "
            f"1 (minority), found {sorted(classes)}"
        )
    X, y, report = clean(X.reset_index(drop=True), np.asarray(y).astype(int), data.cleaning,
                         data.degenerate_columns, spec.name)
    if nominal is not None:
        nominal = [c for c in nominal if c in X.columns]
    schema = FeatureSchema.infer(X, nominal=nominal, encoding=encoding)
    return Dataset(spec, X, y, schema, sha, source, report)


def _numeric_columns(spec: DatasetSpec, table: pd.DataFrame, nominal: list[str], where: str) -> pd.DataFrame:
    """Every non-nominal feature column must be numeric: say which is not, with examples."""
    for col in table.columns:
        if col in nominal or pd.api.types.is_numeric_dtype(table[col]):
            continue
        values = pd.to_numeric(table[col], errors="coerce")
        bad = values.isna() & table[col].notna()
        if bad.any():
            examples = sorted({str(v) for v in table.loc[bad, col].tolist()})[:3]
            raise DatasetInvalid(f"dataset {spec.name!r}: {where}: column {col!r} is numeric in the dataset "
                                 f"config (not in `nominal`) but holds {examples}")
        table[col] = values
    return table


def read_mirror_table(spec: DatasetSpec, path: Path, column_types: str = "config") -> tuple[pd.DataFrame, np.ndarray, str]:
    """Raw features, 0/1 target and sha256 of ``<id>_<name>.csv.gz``, verifying the manifest's sha256 first.

    ``column_types="config"``: the config's nominal columns are read as text,
    only empty cells count as missing (labels such as ``NA`` stay labels);
    ``"inferred"``: pandas' own guess and missing-value markers (the harness
    before the column types were known).
    """
    where = spec.file or path.name
    actual = sha256_file(path)
    if spec.sha256 and actual != spec.sha256:
        raise DatasetInvalid(
            f"dataset {spec.name!r}: checksum mismatch for mirror file {where}: expected sha256 {spec.sha256}, "
            f"found {actual} (corrupt or different file; re-copy it from the mirror)"
        )
    try:
        if column_types == "inferred":
            table = pd.read_csv(path)
        else:
            table = pd.read_csv(path, dtype={c: str for c in spec.nominal}, keep_default_na=False, na_values=[""])
    except Exception as exc:  # unreadable gzip/CSV: name the file
        raise DatasetInvalid(f"dataset {spec.name!r}: cannot read mirror file {where}: "
                             f"{type(exc).__name__}: {exc}") from exc
    if TARGET not in table.columns:
        raise DatasetInvalid(f"dataset {spec.name!r}: mirror file {where} has no {TARGET!r} column")
    missing = [c for c in spec.nominal if c not in table.columns]
    if missing:
        raise DatasetInvalid(f"dataset {spec.name!r}: mirror file {where} lacks the nominal column(s) {missing} "
                             f"of its config")
    y = _target(spec, table.pop(TARGET), f"mirror file {where}")
    if column_types != "inferred":
        table = _numeric_columns(spec, table, spec.nominal, f"mirror file {where}")
    return table, y, actual


def read_mirror_file(spec: DatasetSpec, path: Path, data: DataSpec | None = None,
                     encoding: Encoding = "collation") -> Dataset:
    """A mirror file, checked, cleaned and typed (``data``: cleaning and column-type options)."""
    data = data or DataSpec()
    X, y, sha = read_mirror_table(spec, path, data.column_types)
    nominal = list(spec.nominal) if data.column_types == "config" else None
    return _finish(spec, X, y, sha, f"mirror:{spec.file or path.name}", data, encoding, nominal)


def load_embedded(spec: DatasetSpec, data: DataSpec | None = None, encoding: Encoding = "collation") -> Dataset:
    """scikit-learn's copy of wdbc (``load_breast_cancer``): minority = malignant (label 0)."""
    # Deferred: a heavy import (+1.2 s measured on `import lsh_bench.data.loader`) that only this
    # dataset needs; the status/analysis/data CLIs import the loader without scikit-learn.
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    X = pd.DataFrame(bunch.data, columns=[f"V{i + 1}" for i in range(bunch.data.shape[1])])
    y = (bunch.target == 0).astype(int)
    if spec.n_rows is not None and (len(X), int(y.sum())) != (spec.n_rows, spec.n_minority):
        raise DatasetInvalid(
            f"dataset {spec.name!r}: embedded copy has {len(X)} rows / {int(y.sum())} minority, "
            f"expected {spec.n_rows} / {spec.n_minority}"
        )
    return _finish(spec, X, y, sha256_frame(X, y), "embedded:sklearn.datasets.load_breast_cancer",
                   data or DataSpec(), encoding, [])


def openml_target(spec: DatasetSpec, target: pd.Series) -> np.ndarray:
    """The dataset config's target rule applied to OpenML's target column: 1 = minority.

    ``minority_labels`` named: exactly those labels are the minority (all of
    them must occur); none named: the column must have two classes and the
    less frequent one is the minority.
    """
    labels = target.astype("string")
    present = sorted(set(labels.dropna().tolist()))
    where = f"OpenML {spec.openml_id}, target {target.name!r}"
    if spec.minority_labels:
        absent = [lab for lab in spec.minority_labels if lab not in present]
        if absent:
            raise DatasetInvalid(f"dataset {spec.name!r} ({where}): minority label(s) {absent} of the config's "
                                 f"target rule do not occur; labels found: {present[:10]}")
        return labels.isin(spec.minority_labels).fillna(False).to_numpy(dtype=int)
    values, counts = np.unique(labels.dropna().to_numpy(dtype=str), return_counts=True)
    if len(values) != 2:
        raise DatasetInvalid(f"dataset {spec.name!r} ({where}): {len(values)} classes {list(values[:10])}, expected "
                             f"2 (name the minority labels in the config's target rule)")
    return (labels == values[np.argmin(counts)]).fillna(False).to_numpy(dtype=int)


def load_openml(spec: DatasetSpec, data: DataSpec, encoding: Encoding = "collation") -> Dataset:
    """By OpenML id through openml-python (which verifies the file's md5), with the config's target rule.

    The raw download must have the mirror's rows and minority count (the
    manifest's ``n_rows``/``n_minority``, where known): a different target
    column or binarisation fails here, naming both counts, instead of
    silently scoring another task.
    """
    import openml

    if data.openml_cache_dir:
        openml.config.set_root_cache_directory(data.openml_cache_dir)
    ds = openml.datasets.get_dataset(spec.openml_id, download_data=True)
    target_name = spec.target_column or ds.default_target_attribute
    X, target, categorical, _ = ds.get_data(target=target_name)
    y = openml_target(spec, pd.Series(target, name=target_name))
    if spec.n_rows is not None and (len(y), int(y.sum())) != (spec.n_rows, spec.n_minority):
        raise DatasetInvalid(
            f"dataset {spec.name!r}: OpenML {spec.openml_id} (target {target_name!r}) has {len(y)} rows / "
            f"{int(y.sum())} minority, the mirror copy {spec.n_rows} / {spec.n_minority}: check the target rule"
        )
    nominal = [str(c) for c, is_cat in zip(X.columns, categorical) if is_cat]
    X = X.apply(lambda s: s.astype(object).where(s.notna(), np.nan).map(lambda v: v if pd.isna(v) else str(v))
                if isinstance(s.dtype, pd.CategoricalDtype) else s)
    return _finish(spec, X, y, sha256_frame(X, y), f"openml:{spec.openml_id}", data, encoding,
                   nominal if data.column_types == "config" else None)


def load_dataset(spec: DatasetSpec, data: DataSpec, encoding: Encoding = "collation") -> Dataset:
    """Mirror directories first, then the embedded copy, then OpenML (if allowed).

    Raises :class:`DatasetUnavailable` naming every place that was tried.
    """
    tried: list[str] = []
    if spec.file:
        for d in mirror_dirs(data):
            path = d / spec.file
            if path.is_file():
                return read_mirror_file(spec, path, data, encoding)
            tried.append(str(path))
    else:
        tried.append("mirror: no offline copy of this paper row (manifest has no file)")
    if data.use_embedded and spec.embedded:
        return load_embedded(spec, data, encoding)
    if data.use_openml and spec.openml_id is not None:
        try:
            return load_openml(spec, data, encoding)
        except (DatasetInvalid, DatasetUnavailable):
            raise
        except Exception as exc:  # network down, server errors: say so, keep the cause
            tried.append(f"OpenML id {spec.openml_id}: {type(exc).__name__}: {exc}")
    elif spec.openml_id is None:
        tried.append("OpenML: no id known for this paper row")
    if not mirror_dirs(data) and spec.file:
        tried.append(f"(no mirror directory configured: set data.mirror_dirs or ${ENV_MIRROR})")
    raise DatasetUnavailable(f"dataset {spec.name!r} (paper row {spec.paper_row}) not found; tried: " + "; ".join(tried))

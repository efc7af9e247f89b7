"""Bad data is one clear error for its unit; the sweep goes on (a corrupt or truncated file,
a target that is not 0/1, a dataset the cleaning empties, a column that cannot be imputed)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.errors import DatasetInvalid
from lsh_bench.models.preprocess import TableEncoder
from lsh_bench.sweep import run_sweep


def _write(path: Path, table: pd.DataFrame) -> None:
    with gzip.open(path, "wt") as f:
        table.to_csv(f, index=False)


def test_bad_files_fail_their_unit_only(make_cfg, mirror: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad_mirror"
    bad.mkdir()
    hab = pd.read_csv(mirror / "43_haberman.csv.gz")
    raw = (mirror / "43_haberman.csv.gz").read_bytes()
    (bad / "trunc.csv.gz").write_bytes(raw[: len(raw) // 2])                       # truncated gzip
    _write(bad / "target2.csv.gz", hab.assign(target=hab["target"].replace({1: 2})))  # target 0/2
    _write(bad / "oneclass.csv.gz", _one_class_after_cleaning(hab))
    shutil.copy(mirror / "43_haberman.csv.gz", bad / "43_haberman.csv.gz")
    shutil.copy(mirror / "27_colic.csv.gz", bad / "27_colic.csv.gz")
    cfg = make_cfg("dataset=[haberman,colic]", "grid=smoke", "classifier=[dt]", f"data.mirror_dirs=[{bad}]")
    base = cfg.dataset["haberman"]
    specs = {"haberman": base, "colic": cfg.dataset["colic"]}
    for name in ("trunc", "target2", "oneclass"):
        specs[name] = base.model_copy(update={"name": name, "file": f"{name}.csv.gz", "sha256": None})
    cfg = cfg.model_copy(update={"dataset": specs})
    records = {r["dataset"]: r for r in run_sweep(cfg)}
    assert records["haberman"]["status"] == records["colic"]["status"] == "done"
    # the unit's provenance says what the cleaning dropped, and names the file by its mirror name
    colic = records["colic"]["provenance"]
    assert colic["data_source"] == "mirror:27_colic.csv.gz" and colic["openml_id"] == 27
    assert colic["cleaning"]["rows_before"] == 368 and colic["cleaning"]["rows_after"] == 250
    assert colic["cleaning"]["rows_dropped_incomplete"] == 118 and colic["cleaning"]["dropped_missing"]
    assert records["colic"]["n_rows"] == 250 and records["colic"]["n_features"] == 9
    reasons = {k: r["reason"] for k, r in records.items() if k not in ("haberman", "colic")}
    assert {r["status"] for k, r in records.items() if k not in ("haberman", "colic")} == {"failed"}
    assert reasons["trunc"].startswith("DatasetInvalid: dataset 'trunc': cannot read mirror file trunc.csv.gz:")
    assert reasons["target2"] == ("DatasetInvalid: dataset 'target2': mirror file target2.csv.gz: column 'target' "
                                  "must hold only 0 (majority) and 1 (minority); 81 row(s) hold ['2']")
    assert reasons["oneclass"].startswith("DatasetInvalid: dataset 'oneclass': cleaning=paper (")
    assert "left one class only: 225 rows, all of class [0]" in reasons["oneclass"]
    assert all("\n" not in r for r in reasons.values())          # one line each
    assert all(str(tmp_path) not in r for r in reasons.values())  # files named by their mirror name


def _one_class_after_cleaning(hab: pd.DataFrame) -> pd.DataFrame:
    """Every minority row misses one value, spread over the three columns (27 rows each, 8.8% < 15%).

    The columns stay, every minority row is incomplete and goes: 225 majority rows are left.
    """
    out = hab.astype(float)
    minority = out.index[out["target"] == 1]
    cols = list(out.columns[:3])
    for k, row in enumerate(minority):
        out.loc[row, cols[k % 3]] = np.nan
    out["target"] = out["target"].astype(int)
    return out


def test_encoder_refuses_a_column_with_no_training_value() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [np.nan, np.nan, np.nan]})
    schema = FeatureSchema.infer(pd.DataFrame({"a": [1.0], "b": [1.0]}))
    with pytest.raises(DatasetInvalid, match=r"column 'b' has no observed value in the 3 training rows"):
        TableEncoder(schema, "paper").fit(X)

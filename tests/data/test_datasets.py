"""Every mirrored dataset, cleaned, against the paper's Table 5; the check command; column types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lsh_bench.data.check import check_dataset
from lsh_bench.data.loader import load_dataset
from tests.conftest import ROOT, compose_config

# The manifest's two rows whose cleaned counts cannot equal Table 5 (../shared/datasets/README.md).
EXCEPTIONS = {"breast-w", "tic-tac-toe"}


@pytest.fixture(scope="module")
def checked(mirror: Path) -> dict:
    cfg = compose_config(["dataset=mirrored", f"data.mirror_dirs=[{mirror}]", "data.use_openml=false"])
    birthday = compose_config(["dataset=analcatdata_birthday"]).dataset["analcatdata_birthday"]
    rows = [check_dataset(spec, cfg) for spec in [*cfg.dataset.values(), birthday]]
    return {r.spec.name: r for r in rows}


def test_every_mirrored_dataset_matches_table5_after_cleaning(checked: dict) -> None:
    assert len(checked) == 60          # 59 mirrored Table 5 rows + Birthday (T3)
    for name, row in checked.items():
        assert row.ds is not None, f"{name}: {row.error}"
        spec, ds = row.spec, row.ds
        if name in EXCEPTIONS:
            assert not row.matches_paper and spec.paper_mismatch, name
            assert row.status == "exception"
            continue
        assert (len(ds.y), ds.X.shape[1]) == (spec.paper_n_rows, spec.paper_n_features), name
        assert abs(round(ds.ir, 2) - spec.paper_ir) <= 0.01 + 1e-9, (name, ds.ir, spec.paper_ir)
        assert row.status == "match" and spec.paper_mismatch is None, name


def test_known_exceptions_are_what_the_manifest_says(checked: dict) -> None:
    bw, ttt = checked["breast-w"].ds, checked["tic-tac-toe"].ds
    assert (len(bw.y), bw.X.shape[1], bw.n_minority) == (683, 9, 239)      # IR 1.86, paper 1.79
    assert (len(ttt.y), ttt.X.shape[1], ttt.n_minority) == (958, 9, 332)   # IR 1.89, paper 1.87


def test_cleaning_reports_what_it_dropped(checked: dict) -> None:
    spam = checked["spambase"].ds.cleaning
    assert (spam.features_before, spam.features_after) == (57, 7) and len(spam.dropped_near_zero_variance) == 50
    soy = checked["soybean"].ds.cleaning
    assert (soy.rows_before, soy.rows_after, soy.features_after) == (683, 562, 21)
    assert soy.rows_dropped_incomplete == 121
    mw1 = checked["mw1"].ds.cleaning
    assert mw1.rows_dropped_incomplete == 0 and len(mw1.dropped_near_zero_variance) == 2
    assert checked["haberman"].ds.cleaning.summary() == "nothing dropped"


def test_nominal_columns_are_read_as_text_and_coded_in_collation_order(mirror: Path) -> None:
    cfg = compose_config(["dataset=[haberman,credit-g,cylinder-bands]", f"data.mirror_dirs=[{mirror}]"])
    hab = load_dataset(cfg.dataset["haberman"], cfg.data, "collation")
    year = hab.schema.columns[hab.schema.names.index("Patients_year_of_operation")]
    assert year.kind == "categorical" and year.categories == tuple(str(y) for y in range(58, 70))
    M = hab.schema.model_codes(hab.schema.encode(hab.X))
    assert M[:, 1].min() == 1 and M[:, 1].max() == 12           # the paper's codes 1..k
    credit = load_dataset(cfg.dataset["credit-g"], cfg.data, "collation").schema
    checking = credit.columns[credit.names.index("checking_status")]
    assert checking.categories == ("<0", ">=200", "0<=X<200", "no checking")
    sorted_ = load_dataset(cfg.dataset["credit-g"], cfg.data, "sorted").schema
    assert sorted_.columns[sorted_.names.index("checking_status")].categories == (
        "0<=X<200", "<0", ">=200", "no checking")
    assert sorted_.code_base == 0 and credit.code_base == 1
    # labels stay labels: '.200', '0.2' and '0.200' are three categories, not one number
    bands = load_dataset(cfg.dataset["cylinder-bands"], cfg.data, "collation")
    assert bands.X["caliper"].map(type).eq(str).all()


def test_check_command_lists_all_60_rows_with_openml_ids(mirror: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lsh_bench.data", "check", "dataset=all", f"data.mirror_dirs=[{mirror}]",
         "data.use_openml=false"], cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    table = lines[3:63]
    assert len(table) == 60 and all(line.split()[0] == str(i + 1) for i, line in enumerate(table))
    assert all(line.split()[2].isdigit() for line in table)             # every row has its OpenML id
    assert "kdd_el_nino-small" in table[53] and "unavailable" in table[53]
    assert "breast-w (exception): the 683 complete rows" in out.stdout
    assert out.stdout.rstrip().endswith("57 match the paper's rows, features and IR (within 0.01); 2 known "
                                        "exceptions; 0 unexplained mismatches; 1 unavailable; 0 invalid")
    assert "spambase: near-zero variance:" in out.stdout


def test_check_command_refuses_a_bad_override() -> None:
    out = subprocess.run([sys.executable, "-m", "lsh_bench.data", "check", "data.cleaning=sometimes"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "data.cleaning" in out.stderr and "Traceback" not in out.stderr


def test_openml_target_rule() -> None:
    import pandas as pd

    from lsh_bench.data.loader import openml_target
    from lsh_bench.errors import DatasetInvalid

    spec = compose_config(["dataset=analcatdata_draft"]).dataset["analcatdata_draft"]
    assert spec.minority_labels == ["P"]
    assert openml_target(spec, pd.Series(["P", "N", "N"], name="binaryClass")).tolist() == [1, 0, 0]
    with pytest.raises(DatasetInvalid, match=r"minority label\(s\) \['P'\] .* labels found: \['no', 'yes'\]"):
        openml_target(spec, pd.Series(["yes", "no"], name="binaryClass"))
    hab = compose_config(["dataset=haberman"]).dataset["haberman"]
    assert hab.minority_labels is None        # the less frequent class
    assert openml_target(hab, pd.Series(["1", "2", "1", "1"], name="Survival_status")).tolist() == [0, 1, 0, 0]
    emotions = compose_config(["dataset=emotions"]).dataset["emotions"]
    assert emotions.target_column == "angry.aggresive"
    assert compose_config(["dataset=colic.ORIG"]).dataset["colic.ORIG"].target_column == "cp_data"

"""The loader (lsh_bench.data.loader): errors that name the file and the expectation; the embedded and OpenML copies."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lsh_bench.config import DatasetSpec, DataSpec
from lsh_bench.data.loader import load_dataset, load_embedded, read_mirror_file
from lsh_bench.errors import DatasetInvalid, DatasetUnavailable


def test_loader_errors_name_the_file_and_expectation(tmp_path: Path, mirror: Path) -> None:
    spec = DatasetSpec(name="one", paper_row=1, openml_id=None, available_offline=True, file="one.csv.gz",
                       sha256=None, n_rows=None, n_features=None, n_minority=None, ir=None, paper_n_rows=None,
                       paper_n_features=None, paper_ir=None, ir_group="more")
    path = tmp_path / "one.csv.gz"
    pd.DataFrame({"a": [1, 2, 3], "target": [0, 0, 0]}).to_csv(path, index=False)
    with pytest.raises(DatasetInvalid, match=r"'one' .*both classes 0 \(majority\) and 1 \(minority\), found \[0\]"):
        read_mirror_file(spec, path)
    with pytest.raises(DatasetUnavailable, match=r"'one' .*tried: .*nowhere/one.csv.gz"):
        load_dataset(spec, DataSpec(mirror_dirs=[str(tmp_path / "nowhere")], use_openml=False))


def test_embedded_wdbc_equals_the_mirror_copy(mirror: Path) -> None:
    from tests.conftest import compose_config

    spec = compose_config([]).dataset["wdbc"]
    emb = load_embedded(spec)
    mir = read_mirror_file(spec, mirror / spec.file)
    assert emb.X.shape == mir.X.shape == (569, 30) and list(emb.X.columns) == list(mir.X.columns)
    assert (emb.y == mir.y).all() and emb.n_minority == 212
    assert (emb.X - mir.X).abs().to_numpy().max() <= 3e-7 + 1e-12   # docs/protocol.md: equal within 3e-7
    assert emb.source.startswith("embedded:")


@pytest.mark.network
def test_openml_download(tmp_path: Path) -> None:
    import socket

    try:
        socket.create_connection(("www.openml.org", 443), timeout=5).close()
    except OSError as exc:
        pytest.skip(f"OpenML not reachable from this machine ({exc})")
    from tests.conftest import compose_config

    spec = compose_config(["dataset=haberman"]).dataset["haberman"]
    ds = load_dataset(spec, DataSpec(use_embedded=False, openml_cache_dir=str(tmp_path)))
    assert ds.source == "openml:43" and len(ds.y) == 306 and ds.n_minority == 81

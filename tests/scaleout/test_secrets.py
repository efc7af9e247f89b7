"""API keys come from the environment only: none lands in results, Hydra's output dir, logs or output."""

from __future__ import annotations

import gzip
import secrets
from pathlib import Path

import pandas as pd

from tests.scaleout.conftest import cli


def files_containing(root: Path, needles: list[str]) -> list[str]:
    """Every file under root whose bytes -- or decoded content (gzip, parquet) -- contain a needle."""
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        blobs = [path.read_bytes()]
        if path.suffix == ".gz":
            blobs.append(gzip.decompress(blobs[0]))
        if path.suffix == ".parquet":
            blobs.append(pd.read_parquet(path).to_csv().encode())
        if any(n.encode() in b for n in needles for b in blobs):
            hits.append(str(path.relative_to(root)))
    return hits


def dummy_keys() -> dict[str, str]:
    return {"OPENAI_API_KEY": f"sk-test-{secrets.token_hex(16)}", "LSH_TEST_KEY": f"lsh-{secrets.token_hex(16)}"}


def test_dummy_keys_never_written(tmp_path: Path, mirror: Path) -> None:
    keys = dummy_keys()
    cwd = tmp_path / "cwd"      # every relative default (results/store, results/hydra, results/llm_cache) lands here
    cwd.mkdir()
    args = ["method=sm", "dataset=haberman", "grid=smoke", "llm=openai", "llm.api_key_env=LSH_TEST_KEY",
            f"data.mirror_dirs=[{mirror}]", "data.use_openml=false", "run.progress=false"]
    outputs = []
    run = cli(*args, extra_env=keys, cwd=cwd)
    assert run.returncode == 0, run.stderr[-2000:]
    outputs.append(run)
    outputs.append(cli(*args, "--cfg", "job", extra_env=keys, cwd=cwd))
    outputs.append(cli(*args, module="lsh_bench.status", extra_env=keys, cwd=cwd))
    assert "done" in outputs[-1].stdout

    written = [p for p in cwd.rglob("*") if p.is_file()]
    hydra_cfg = next(p for p in written if p.name == "config.yaml" and p.parent.name == ".hydra")
    assert "api_key_env: LSH_TEST_KEY" in hydra_cfg.read_text()     # the variable's NAME is all a config holds
    assert any(p.name == "unit.json" for p in written) and any(p.suffix == ".log" for p in written)

    needles = list(keys.values())
    assert files_containing(cwd, needles) == []
    for out in outputs:
        assert not any(k in out.stdout or k in out.stderr for k in needles)

    # the scan itself finds a key where there is one (plain, gzip and parquet)
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "a.txt").write_text(f"x {needles[0]} y")
    (tmp_path / "probe" / "b.gz").write_bytes(gzip.compress(needles[1].encode()))
    pd.DataFrame({"k": [needles[0]]}).to_parquet(tmp_path / "probe" / "c.parquet")
    assert files_containing(tmp_path / "probe", needles) == ["a.txt", "b.gz", "c.parquet"]

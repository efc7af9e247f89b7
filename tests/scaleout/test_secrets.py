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


# --------------------------------------------------------------------------- a key pasted into llm.api_key_env


def _assert_nowhere(secret: str, root: Path, outputs: list) -> None:
    assert files_containing(root, [secret]) == []
    for out in outputs:
        assert secret not in out.stdout and secret not in out.stderr


def test_key_pasted_into_api_key_env_is_refused_and_never_echoed(tmp_path: Path, mirror: Path) -> None:
    """Before: echoed into unit.json, the Hydra logs and the console."""
    secret = f"sk-proj-{secrets.token_hex(20)}"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    base = ["method=lm", "dataset=haberman", "grid=smoke", "llm=openai", f"data.mirror_dirs=[{mirror}]",
            "data.use_openml=false", "run.progress=false"]
    runs = [cli(*base, f"llm.api_key_env={secret}", cwd=cwd),
            cli(*base, f"llm.api_key_env={secret}", "--cfg", "job", cwd=cwd),         # would print the config
            cli("-m", *base, f"llm.api_key_env={secret},OPENAI_API_KEY", cwd=cwd),      # would list the jobs
            cli(*base, f"llm.api_key_env={secret}", module="lsh_bench.status", cwd=cwd)]
    for out in runs:
        assert out.returncode == 2, out.stderr[-2000:]
        (line,) = out.stderr.strip().splitlines()
        assert line.startswith("error: llm.api_key_env: must be the NAME of the environment variable that holds "
                               "the API key")
        assert "is not shown" in line
    assert not (cwd / "results").exists()            # refused before Hydra wrote its run directory
    _assert_nowhere(secret, cwd, runs)


def test_key_in_a_config_file_is_refused_and_scrubbed_from_hydra_files(tmp_path: Path, mirror: Path) -> None:
    """A key-like value from a YAML file: Hydra saved it in .hydra/ before validation refused it."""
    secret = "AKIA" + secrets.token_hex(8).upper()                   # upper-case, no '_': an access key id
    extra = tmp_path / "extra_conf"
    (extra / "llm").mkdir(parents=True)
    llm_yaml = (Path(__file__).resolve().parents[2] / "conf" / "llm" / "openai.yaml").read_text()
    (extra / "llm" / "leaky.yaml").write_text(llm_yaml.replace("api_key_env: OPENAI_API_KEY", f"api_key_env: {secret}"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    out = cli("method=lm", "dataset=haberman", "grid=smoke", "llm=leaky", f"hydra.searchpath=[file://{extra}]",
              f"data.mirror_dirs=[{mirror}]", "data.use_openml=false", "run.progress=false", cwd=cwd)
    assert out.returncode == 2, out.stderr[-2000:]
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("error: invalid config (conf/): llm.api_key_env: Value error, must be the NAME")
    hydra_files = [p for p in cwd.rglob("*") if p.is_file()]
    assert any(p.name == "config.yaml" and p.parent.name == ".hydra" for p in hydra_files)   # Hydra did write...
    assert "<refused llm.api_key_env value: not shown>" in next(
        p for p in hydra_files if p.name == "config.yaml").read_text()
    _assert_nowhere(secret, cwd, [out])                                                       # ...but no key
    assert not list(cwd.rglob("unit.json"))


def test_env_name_rule() -> None:
    from lsh_bench.samplers.llm.config import looks_like_env_name

    for name in ("OPENAI_API_KEY", "VLLM_API_KEY", "LSH_TEST_KEY", "KEY", "_X1"):
        assert looks_like_env_name(name), name
    for value in ("sk-abc123", "sk-proj-" + "a" * 40, "AKIAIOSFODNN7EXAMPLE", "my_key", "", "1KEY",
                  "A" * 65, "${oc.env:OPENAI_API_KEY}", "OPENAI API KEY"):
        assert not looks_like_env_name(value), value

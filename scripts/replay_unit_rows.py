"""Score a finished LLM unit's synthetic rows when today's code can no longer replay its requests.

A unit's LLM answers are in the replay cache under keys made from the
requests; when the prompts (or the data cleaning) changed since the unit
ran, today's code asks other requests and the cache cannot answer them. The
unit's own code can: this script checks out the commit recorded in the
unit's provenance into a temporary git worktree, runs the unit's split and
sampler there with the cache **read-only** (no model call; a miss is an
error), and saves every (fold, ratio) part's rows — encoded training rows,
the rows the sampler added, the scored part's rows — plus the schema in an
``.npz``. Today's :mod:`lsh_bench.quality` then scores them: with
``--write`` the unit gets its ``quality.parquet`` and the ``quality``
section of ``unit.json`` (``replayed_at_commit`` says how), its scores
untouched.

Rows shown to the LLM: the commits of the committed units showed the report
every training-minority row (few-/zero-shot parts hold a handful; zero-shot
none) and the program rounds a sample of them, so the rows shown are the
training minority itself (``n_shown`` = ``n_real``; zero-shot 0).
LLM tokens per row: from the unit's ``ratios.parquet`` (the calls that run
made; a part whose answers were all replays there records 0 tokens).

    PYTHONPATH=$PWD .venv/bin/python scripts/replay_unit_rows.py \\
        results/smoke_store/units/fewshot/lm/flare/8026a7a790722f50 \\
        --cache results/smoke_store/llm_cache --rows results/smoke_store/rows --write
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lsh_bench.data.schema import Column, FeatureSchema  # noqa: E402
from lsh_bench.quality.cost import cost_fields  # noqa: E402
from lsh_bench.quality.record import prepare_reference, score_synthetic  # noqa: E402
from lsh_bench.quality.unit_rows import frame_columns, metric_config, record_section  # noqa: E402
from lsh_bench.quality_config import QualitySpec  # noqa: E402
from lsh_bench.store import atomic_write_json, atomic_write_parquet  # noqa: E402

# Runs inside the unit's commit (its API: lsh_bench.runner, encode_and_resample), writes the rows.
DUMPER = r'''
import json, sys
import numpy as np
from hydra import compose, initialize_config_dir
from lsh_bench.config import validate
from lsh_bench.data.loader import load_dataset
from lsh_bench.data.splits import make_split
from lsh_bench.models.evaluate import encode_and_resample
from lsh_bench.runner import SamplerFactory, _fold_data, plan_ratios
conf, out, choice, overrides = sys.argv[1], sys.argv[2], float(sys.argv[3]), json.loads(sys.argv[4])
with initialize_config_dir(config_dir=conf, version_base="1.3"):
    cfg = validate(compose("config", overrides=overrides))
(spec,) = cfg.dataset.values()
ds = load_dataset(spec, cfg.data)
split = make_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)
plan = plan_ratios(cfg.method, cfg.ratios, split, ds.y)
factory = SamplerFactory(cfg, ds.schema, plan.applicable[0] if cfg.method.kind == "hybrid" else None)
parts = [(r, f, p) for r in plan.applicable for f, p in enumerate(split.folds)] + [(choice, -1, split.refit)]
arrays, keys = {}, []
for r, f, part in parts:
    fold = _fold_data(ds, part)
    X_res, y_res, X_va, sec, usage, info = encode_and_resample(fold, ds.schema, cfg.preprocess.name, factory(r))
    n = len(fold.y_train)
    k = f"{f}_{r}"
    keys.append([f, r, k])
    arrays.update({k + "_Xtr": X_res[:n], k + "_ytr": y_res[:n], k + "_add": X_res[n:], k + "_Xva": X_va,
                   k + "_yva": np.asarray(fold.y_val)})
schema = [[c.name, c.kind, list(c.categories), c.integer, c.boolean] for c in ds.schema.columns]
np.savez_compressed(out, parts=json.dumps(keys), schema=json.dumps(schema), sha256=ds.sha256, **arrays)
'''


def dump_rows(unit: Path, rec: dict, cache: Path, out: Path) -> None:
    """Run the unit's commit on its config (read-only cache) and save its parts' rows to ``out``."""
    commit = rec["provenance"]["git_commit"]
    overrides = [f"dataset={rec['dataset']}", f"scenario={rec['scenario']}", f"method={rec['method']}",
                 f"preprocess={rec.get('preprocess', 'paper')}", f"llm.cache_dir={cache.resolve()}",
                 "llm.cache_mode=readonly", "run.progress=false"]
    with tempfile.TemporaryDirectory(prefix="replay_unit_") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True,
                       capture_output=True)
        try:
            env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
            subprocess.run([sys.executable, "-c", DUMPER, str(tree / "conf"), str(out.resolve()),
                            str(rec["choice"]["ratio"]), json.dumps(overrides)], check=True, env=env, cwd=tree)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)


def schema_of(saved: np.lib.npyio.NpzFile) -> FeatureSchema:
    cols = json.loads(str(saved["schema"]))
    return FeatureSchema(tuple(Column(n, k, tuple(c), bool(i), bool(b)) for n, k, c, i, b in cols))


def score_rows(path: Path, unit: Path, spec: QualitySpec) -> pd.DataFrame:
    """Today's quality rows of the saved parts (reference policy as in a unit: train, else held-out)."""
    saved = np.load(path)
    schema = schema_of(saved)
    tokens = pd.read_parquet(unit / "ratios.parquet").set_index(["fold", "ratio"])
    rows = []
    for fold, ratio, k in json.loads(str(saved["parts"])):
        X, y, added = saved[k + "_Xtr"], saved[k + "_ytr"], saved[k + "_add"]
        reference = "train"
        if not (y == 1).any():
            held = saved[k + "_Xva"][saved[k + "_yva"] == 1]
            X, y, reference = np.vstack([X[y == 0], held]), np.r_[np.zeros((y == 0).sum(), int), np.ones(len(held), int)], "heldout"
        ref = prepare_reference(X, y, schema, seed=spec.seed, config=metric_config(spec))
        shown = saved[k + "_Xtr"][saved[k + "_ytr"] == 1]
        row = score_synthetic(ref, added, shown=shown)
        t = tokens.loc[(fold, ratio)] if (fold, ratio) in tokens.index else None
        cost = cost_fields(resample_seconds=float(t["resample_seconds"]) if t is not None else 0.0,
                           quality_seconds=0.0, n_rows_added=len(added), llm_rows=len(added),
                           llm_calls=int(t["llm_calls"]) if t is not None else 0,
                           llm_cache_hits=int(t["llm_cache_hits"]) if t is not None else 0,
                           llm_prompt_tokens=int(t["llm_prompt_tokens"]) if t is not None else 0,
                           llm_completion_tokens=int(t["llm_completion_tokens"]) if t is not None else 0)
        rows.append({"fold": fold, "ratio": ratio, "reference": reference, **row, **cost})
    return pd.DataFrame(rows, columns=frame_columns())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("units", nargs="+", type=Path)
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--rows", type=Path, required=True, help="directory for the .npz of each unit's rows")
    p.add_argument("--write", action="store_true", help="write quality.parquet and unit.json's quality section")
    args = p.parse_args(argv)
    spec = QualitySpec()
    for unit in args.units:
        rec = json.loads((unit / "unit.json").read_text())
        if rec["method"] not in ("lm", "ls") or rec["status"] != "done":
            raise SystemExit(f"{unit}: not a finished LM/LS unit")
        args.rows.mkdir(parents=True, exist_ok=True)
        path = args.rows / f"{rec['scenario']}_{rec['method']}_{rec['dataset']}.npz"
        if not path.is_file():
            dump_rows(unit, rec, args.cache, path)
        if str(np.load(path)["sha256"]) != rec["provenance"]["dataset_sha256"]:
            raise SystemExit(f"{path}: the rows come from other data bytes than the unit's")
        frame = score_rows(path, unit, spec)
        print(f"{unit}: {len(frame)} quality rows from {path}")
        if args.write:
            atomic_write_parquet(unit / "quality.parquet", frame)
            rec["quality"] = {**record_section(spec, frame.to_dict("records"), True),
                              "replayed_at_commit": rec["provenance"]["git_commit"],
                              "rows_file": str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path)}
            atomic_write_json(unit / "unit.json", rec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Add (or bring up to date) the ``all_minority`` baseline in finished unit records.

``all_minority`` (F1 of predicting every row minority, on the validation
folds and the test part) depends only on the data and the split, so it can
be computed for a finished unit without touching its scores. A record is
updated only if the configuration composed from its scenario/method/
preprocess/dataset hashes to the record's ``config_hash`` (so the split is
provably the one the unit used) and the dataset's sha256 matches its
provenance; anything else is reported and left alone. A record whose value
is already the one computed now is not rewritten (so running it twice is a
no-op); records written before the validation mean was computed as selection
computes ``val_f1`` (``np.mean`` of the rounded folds, last digit noise) are
corrected. Writes are atomic, under the unit's lock. Nothing else in the
record changes.

    python scripts/backfill_all_minority.py results/smoke_store [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hydra import compose, initialize_config_dir  # noqa: E402

from lsh_bench.config import unit_config_hash, validate  # noqa: E402
from lsh_bench.data.loader import load_dataset  # noqa: E402
from lsh_bench.data.scenarios import scenario_split  # noqa: E402
from lsh_bench.protocol import all_minority_scores  # noqa: E402
from lsh_bench.store import UnitStore, atomic_write_json, iter_records  # noqa: E402


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results_dir", type=Path)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra Hydra override used to compose each unit's config (repeatable)")
    args = ap.parse_args(argv)
    updated = skipped = unchanged = 0
    for unit_dir, rec in iter_records(args.results_dir):
        overrides = [f"scenario={rec['scenario']}", f"method={rec['method']}",
                     f"preprocess={rec['preprocess']}", f"dataset={rec['dataset']}", *args.set]
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = validate(compose("config", overrides=overrides))
        spec = cfg.dataset[rec["dataset"]]
        where = f"{rec['scenario']}/{rec['method']}/{rec['dataset']}"
        if unit_config_hash(cfg, spec) != rec["config_hash"]:
            print(f"skip {where}: its config hash {rec['config_hash']} is not that of {overrides}")
            skipped += 1
            continue
        ds = load_dataset(spec, cfg.data, cfg.preprocess.encoding)
        if ds.sha256 != rec["provenance"]["dataset_sha256"]:
            print(f"skip {where}: dataset sha256 differs from the record's")
            skipped += 1
            continue
        split, _ = scenario_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)
        store = UnitStore(args.results_dir, rec["scenario"], rec["method"], rec["dataset"], rec["config_hash"])
        assert store.dir == unit_dir, (store.dir, unit_dir)
        value = all_minority_scores(ds.y, split, cfg.protocol.f1_decimals)
        if rec.get("all_minority") == value:
            unchanged += 1
            continue
        with store.lock(timeout=60):
            rec["all_minority"] = value
            atomic_write_json(store.record_path, rec)
        print(f"{where}: all_minority {value}")
        updated += 1
    print(f"updated {updated}, unchanged {unchanged}, skipped {skipped}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

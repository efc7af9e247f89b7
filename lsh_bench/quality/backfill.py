"""Quality rows for finished units that have none (computed before the record existed), without new scores.

Policy (``docs/quality.md``, "Units finished without a quality record"): a
sweep with ``quality.enabled`` ends by filling in ``quality.parquet`` for
every ``done`` unit of the sweep that resamples and has no such file. The
unit's rows are made again exactly as the unit made them (same split, same
sampler and seeds; LLM answers replayed from the cache **read-only**, so no
model is ever called here); classifiers are not fitted and ``cells.parquet``
and the scores are not touched. Only the ``quality`` section of
``unit.json`` is rewritten (atomically, under the unit's lock). Where the
rows cannot be made again — the dataset's bytes changed since the unit ran,
or the replay cache lacks an answer — the unit keeps no quality file, its
``quality.status`` says ``missing`` with the reason, the sweep lists it, and
the next rerun tries again.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from lsh_bench.config import BenchConfig, DatasetSpec
from lsh_bench.data.loader import load_dataset
from lsh_bench.errors import LshBenchError
from lsh_bench.models.evaluate import resample_part
from lsh_bench.quality.unit_rows import frame_columns, part_row, record_section
from lsh_bench.store import UnitStore, atomic_write_json, atomic_write_parquet, try_lock
from lsh_bench.unit import REFIT, UnitJob, fold_data

log = logging.getLogger("lsh_bench")


def needs_quality(cfg: BenchConfig, rec: dict[str, Any], store: UnitStore) -> bool:
    """A finished unit of a resampling method without ``quality.parquet`` while the record is enabled."""
    return (cfg.quality.enabled and cfg.method.resamples and rec.get("status") == "done"
            and not (store.dir / "quality.parquet").is_file())


def unit_quality_rows(cfg: BenchConfig, spec: DatasetSpec, rec: dict[str, Any]) -> pd.DataFrame:
    """The unit's quality rows, made again from its split and sampler (LLM: read-only replay)."""
    if cfg.method.traits.uses_llm:
        cfg = cfg.model_copy(update={"llm": cfg.llm.model_copy(update={"cache_mode": "readonly"})})
    ds = load_dataset(spec, cfg.data, cfg.preprocess.encoding)
    recorded = (rec.get("provenance") or {}).get("dataset_sha256")
    if recorded is not None and recorded != ds.sha256:
        raise LshBenchError(f"the dataset's bytes changed since the unit ran (sha256 {ds.sha256[:12]}, "
                            f"recorded {recorded[:12]}): its rows cannot be made again")
    job = UnitJob(cfg, ds)
    ratio = (rec.get("choice") or {}).get("ratio")
    if job.quality is None or ratio not in job.plan.applicable:
        raise LshBenchError(f"the unit's choice (ratio {ratio}) is not among the ratios this config plans "
                            f"({job.plan.applicable}): config and record disagree")
    parts = [(t.ratio, t.fold, t.data) for t in job.tasks] + [(ratio, REFIT, fold_data(ds, job.split.refit))]
    rows = [part_row(job.quality, ds.schema, resample_part(data, ds.schema, job.mode, job.sampler_for(r)),
                     data.y_val, ratio=r, fold=fold) for r, fold, data in parts]
    return pd.DataFrame(rows, columns=frame_columns())


def fill_quality(cfg: BenchConfig, spec: DatasetSpec, store: UnitStore) -> dict[str, Any] | None:
    """Write the unit's quality rows if it needs them and its lock is free; the updated record, or None."""
    lock = try_lock(store)
    if lock is None:
        return None          # another process holds it: that one decides
    try:
        rec = store.record()
        if rec is None or not needs_quality(cfg, rec, store):
            return None
        try:
            frame = unit_quality_rows(cfg, spec, rec)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:      # recorded in the unit and listed by the sweep, retried next run
            rec["quality"] = {**record_section(cfg.quality, [], True), "status": "missing",
                              "reason": f"{type(exc).__name__}: {exc}"}
        else:
            atomic_write_parquet(store.dir / "quality.parquet", frame)
            rec["quality"] = {**record_section(cfg.quality, frame.to_dict("records"), True), "backfilled": True}
        atomic_write_json(store.record_path, rec)
        return rec
    finally:
        lock.release()


def fill_missing_quality(cfg: BenchConfig, records: list[dict[str, Any]]) -> list[str]:
    """Fill in the sweep's finished units without quality rows; returns the units still without them."""
    missing = []
    for rec in records:
        spec = cfg.dataset.get(rec["dataset"])
        store = UnitStore(cfg.run.results_dir, rec["scenario"], rec["method"], rec["dataset"], rec["config_hash"])
        if spec is None or not needs_quality(cfg, rec, store):
            continue
        updated = fill_quality(cfg, spec, store) or rec
        rec["quality"] = updated.get("quality")
        if (updated.get("quality") or {}).get("status") != "recorded":
            missing.append(f"{rec['dataset']}/{rec['scenario']}/{rec['method']}: "
                           f"{(updated.get('quality') or {}).get('reason', 'locked by another process')}")
    for line in missing:
        log.warning("no quality record for %s", line)
    return missing

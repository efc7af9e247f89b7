"""Figure 4: resampling time of SM, LM and LS as the paper measured it (``make figure4``).

The paper's runtime experiment (notebook ``2. Data Generation``): CastMetal1
(37 features) and analcatdata_draft (5 features), ratios 0.2-0.5, the first
CV fold's training part only. Per ratio r:

* SM = SMOTE's time from the real minority to r;
* LM = the LLM's time writing every row needed to reach r (a generation per ratio);
* LS = the LLM's time for the seeds at r0 (the first applicable ratio: LM's
  generation at r0) + SMOTE's time from real + seeds to r.

LLM time is the model's wall time of every answer the generation used. An
answer replayed from the replay cache counts with the seconds recorded when
it was generated (``ChatResponse.seconds`` of the cache entry), never as 0:
the figure says what the generation cost, not what the replay cost. An entry
that records no time (0 s) is an error, not a free call.

Numbers go to ``<out>/figure4.csv`` (one row per dataset x method x ratio,
with the LLM calls, replays and tokens), the plot to ``figure4.png`` and
``figure4.pdf``. The first run calls the model (the embedded one by default,
``llm=local``: guarded generator, a few minutes per dataset); the answers
are cached in ``llm.cache_dir``, so later runs replay them in seconds.

    PYTHONPATH=. python scripts/figure4_runtime.py [--out results/figures] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hydra import compose, initialize_config_dir  # noqa: E402

from lsh_bench.config import CONF_DIR, BenchConfig, validate  # noqa: E402
from lsh_bench.data.loader import load_dataset  # noqa: E402
from lsh_bench.data.scenarios import scenario_split  # noqa: E402
from lsh_bench.errors import LshBenchError  # noqa: E402
from lsh_bench.models.preprocess import TableEncoder, categorical_for_sampler  # noqa: E402
from lsh_bench.protocol import rows_to_add  # noqa: E402
from lsh_bench.samplers.llm.client import get_client  # noqa: E402
from lsh_bench.samplers.llm.sampler import LLMOverSampler  # noqa: E402
from lsh_bench.samplers.llm.types import ChatRequest, ChatResponse  # noqa: E402
from lsh_bench.samplers.smote import smote_for  # noqa: E402

DATASETS = ("CastMetal1", "analcatdata_draft")
RATIOS = (0.2, 0.3, 0.4, 0.5)
FOLD = 0
COLUMNS = ["dataset", "method", "ratio", "seconds", "llm_seconds", "smote_seconds", "n_added", "seed_ratio",
           "llm_calls", "llm_replays", "llm_prompt_tokens", "llm_completion_tokens", "generator", "prompts"]


@dataclass
class TimedClient:
    """Passes requests to the real client and adds up every answer's model seconds, replays included."""

    inner: Any
    seconds: float = 0.0
    calls: int = 0
    replays: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    keys: list[str] = field(default_factory=list)

    @property
    def model(self) -> str:
        return self.inner.cfg.model

    def chat(self, request: ChatRequest) -> ChatResponse:
        resp = self.inner.chat(request)
        if not resp.seconds > 0:
            raise LshBenchError(f"LLM answer {resp.key} records {resp.seconds} s (cached={resp.cached}): "
                                "Figure 4 needs the time it took to generate; re-record it (llm.cache_mode=off)")
        self.seconds += resp.seconds
        self.replays += int(resp.cached)
        self.calls += int(not resp.cached)
        self.prompt_tokens += resp.prompt_tokens
        self.completion_tokens += resp.completion_tokens
        self.keys.append(resp.key)
        return resp


def _smote(X: np.ndarray, y: np.ndarray, ratio: float, cfg: BenchConfig, categorical: list[int]) -> float:
    """Seconds SMOTE takes to bring (X, y) to ``ratio`` (the protocol's SMOTE/SMOTENC/SMOTEN choice)."""
    smote = smote_for(ratio, k_neighbors=cfg.method.k_neighbors, random_state=cfg.seeds.sampler,
                      categorical_features=categorical, n_features=X.shape[1])
    t0 = time.perf_counter()
    smote.fit_resample(X, y)
    return time.perf_counter() - t0


def _llm(X: np.ndarray, y: np.ndarray, ratio: float, cfg: BenchConfig, schema: Any) -> tuple[TimedClient, Any]:
    """LM's generation at ``ratio`` on (X, y): the timed client and the resampled data."""
    client = TimedClient(get_client(cfg.llm))
    lm = LLMOverSampler(ratio, schema=schema, llm=cfg.llm, llm_seed=cfg.seeds.llm, client=client)
    return client, lm.fit_resample(X, y)


def dataset_rows(cfg: BenchConfig, name: str, ratios: tuple[float, ...]) -> list[dict[str, Any]]:
    """Figure 4's rows for one dataset: SM, LM and LS at every applicable ratio of ``ratios``."""
    ds = load_dataset(cfg.dataset[name], cfg.data, cfg.preprocess.encoding)
    split, _ = scenario_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)
    part = split.folds[FOLD]
    X_raw, y = ds.X.iloc[part.train], ds.y[part.train]
    X = np.asarray(TableEncoder(ds.schema, cfg.preprocess.name).fit(X_raw).transform(X_raw), dtype=float)
    n_min, n_maj = int((y == 1).sum()), int((y == 0).sum())
    applicable = [r for r in ratios if rows_to_add(r, n_minority=n_min, n_majority=n_maj) >= 1]
    if not applicable:
        raise LshBenchError(f"{name}: none of the ratios {ratios} is applicable to fold {FOLD}")
    categorical = list(categorical_for_sampler(ds.schema, cfg.preprocess.name) or [])
    base = {"dataset": name, "generator": cfg.llm.generator, "prompts": cfg.llm.prompts}
    r0 = applicable[0]
    seeds, (X1, y1) = _llm(X, y, r0, cfg, ds.schema)   # LS's seeds = LM's rows at r0 (same requests)
    rows = []
    for r in applicable:
        n_added = rows_to_add(r, n_minority=n_min, n_majority=n_maj)
        sm = _smote(X, y, r, cfg, categorical)
        lm, _ = _llm(X, y, r, cfg, ds.schema) if r != r0 else (seeds, None)
        ls_smote = _smote(X1, y1, r, cfg, categorical) if r > r0 else 0.0
        for method, llm_part, smote_part, client in (("SM", 0.0, sm, None), ("LM", lm.seconds, 0.0, lm),
                                                     ("LS", seeds.seconds, ls_smote, seeds)):
            rows.append({**base, "method": method, "ratio": r, "seconds": llm_part + smote_part,
                         "llm_seconds": llm_part, "smote_seconds": smote_part, "n_added": n_added,
                         "seed_ratio": r0 if method == "LS" else None,
                         "llm_calls": client.calls if client else 0, "llm_replays": client.replays if client else 0,
                         "llm_prompt_tokens": client.prompt_tokens if client else 0,
                         "llm_completion_tokens": client.completion_tokens if client else 0})
    return rows


def plot(frame: pd.DataFrame, out: Path) -> list[Path]:
    """One panel per dataset: seconds (log scale) against the ratio, a line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(frame["dataset"]))
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        part = frame[frame["dataset"] == name]
        for method, style in (("SM", "s-"), ("LM", "o-"), ("LS", "^-")):
            m = part[part["method"] == method]
            ax.plot(m["ratio"], m["seconds"], style, label=method)
        ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("ratio (minority/majority)")
        ax.set_ylabel("resampling time (s)")
        ax.set_xticks(sorted(set(part["ratio"])))
        ax.legend()
    gen = f"{frame['generator'].iloc[0]} generator, {frame['prompts'].iloc[0]} prompts"
    fig.suptitle(f"Figure 4: resampling time, fold {FOLD} ({gen}; LLM time = recorded model seconds)", fontsize=9)
    fig.tight_layout()
    paths = [out / "figure4.png", out / "figure4.pdf"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def compose_config(overrides: list[str]) -> BenchConfig:
    """The run config as ``python -m lsh_bench`` composes it (the mirror from LSH_BENCH_DATA)."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return validate(compose("config", overrides=overrides))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="results/figures", help="directory of figure4.{csv,png,pdf}")
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--ratios", nargs="+", type=float, default=list(RATIOS))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, e.g. --set llm=openai (repeatable)")
    args = ap.parse_args(argv)
    cfg = compose_config([f"dataset=[{','.join(args.datasets)}]", "method=lm", "scenario=general", *args.set])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [row for name in args.datasets for row in dataset_rows(cfg, name, tuple(args.ratios))]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame.to_csv(out / "figure4.csv", index=False, lineterminator="\n")
    paths = plot(frame, out)
    print(frame[["dataset", "method", "ratio", "seconds", "llm_calls", "llm_replays"]].to_string(index=False))
    print("wrote", out / "figure4.csv", *paths)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Which datasets give the classifiers the same numbers under two data settings.

    PYTHONPATH=$PWD python scripts/same_input_datasets.py [dataset=mirrored] [-- overrides of the second setting]

Default: the paper's preparation (cleaning, config column types, collation
codes) against the harness before it (``data.cleaning=none
data.column_types=inferred preprocess.encoding=sorted
data.degenerate_columns=drop``). A dataset is *same* when the target, the
matrix the samplers see (category indices) and the matrix the classifiers see
(codes) are equal element for element: every unit on it then computes the
same scores under both settings, so comparing sweeps need not rerun it.
Prints the two lists (comma-separated, ready for ``dataset=[...]``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hydra import compose, initialize_config_dir  # noqa: E402

from lsh_bench.config import validate  # noqa: E402
from lsh_bench.data.loader import Dataset, load_dataset  # noqa: E402

LEGACY = ["data.cleaning=none", "data.column_types=inferred", "preprocess.encoding=sorted",
          "data.degenerate_columns=drop"]


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return validate(compose("config", overrides=overrides))


def same_input(a: Dataset, b: Dataset) -> bool:
    ia, ib = a.schema.encode(a.X), b.schema.encode(b.X)
    return (ia.shape == ib.shape and np.array_equal(a.y, b.y) and np.array_equal(ia, ib, equal_nan=True)
            and np.array_equal(a.schema.model_codes(ia), b.schema.model_codes(ib), equal_nan=True))


def main(argv: list[str]) -> None:
    first = [a for a in argv if a != "--"][: argv.index("--")] if "--" in argv else argv
    second = argv[argv.index("--") + 1:] if "--" in argv else LEGACY
    if not any(a.startswith("dataset=") for a in first):
        first = ["dataset=mirrored", *first]
    common = ["data.use_openml=false"]
    cfg_a = _compose([*first, *common])
    cfg_b = _compose([*first, *common, *second])
    same, differ = [], []
    for name, spec in cfg_a.dataset.items():
        a = load_dataset(spec, cfg_a.data, cfg_a.preprocess.encoding)
        b = load_dataset(cfg_b.dataset[name], cfg_b.data, cfg_b.preprocess.encoding)
        (same if same_input(a, b) else differ).append(name)
    print(f"same ({len(same)}): {','.join(same)}")
    print(f"differ ({len(differ)}): {','.join(differ)}")


if __name__ == "__main__":
    main(sys.argv[1:])

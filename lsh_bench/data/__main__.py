"""``python -m lsh_bench.data check [overrides]``: the datasets against the paper's Table 5.

Takes the same overrides as ``python -m lsh_bench`` (``dataset=all``,
``dataset=[haberman,wdbc]``, ``data.cleaning=none``, ...), composed from the
same ``conf/``; writes nothing. Exit code: 0 if every loaded dataset matches
the paper or has a recorded reason not to, 1 otherwise, 2 for a bad command
line or config.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

from lsh_bench.config import validate
from lsh_bench.data.check import check_dataset, report
from lsh_bench.errors import ConfigError

CONF = Path(__file__).resolve().parents[2] / "conf"
USAGE = "usage: python -m lsh_bench.data check [dataset=all] [data.cleaning=paper|none] [other overrides]"


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "check":
        print(USAGE, file=sys.stderr)
        return 2
    overrides = argv[1:]
    if not any(o.startswith("dataset=") for o in overrides):
        overrides = ["dataset=all", *overrides]
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = validate(compose("config", overrides=overrides))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # Hydra: unknown group option, bad override syntax
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    rows = [check_dataset(spec, cfg) for spec in cfg.dataset.values()]
    print("\n".join(report(rows, cfg)))
    return 1 if any(r.status in ("MISMATCH", "invalid") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

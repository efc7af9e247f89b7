"""``python -m lsh_bench.analysis``: regenerate the paper's tables and figures.

Arguments are ``key=value`` tokens, like the harness's Hydra command line
(``--key=value`` and ``--key value`` work too). Any bad input ends with one
``error: ...`` line on stderr and exit code 2, so ``make`` shows the cause.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

from lsh_bench.analysis import html_report
from lsh_bench.analysis.errors import AnalysisInputError
from lsh_bench.analysis.load import load_results, read_ratio_stats_csv, read_scores_csv
from lsh_bench.analysis.quality import load_quality
from lsh_bench.analysis.report import ARTEFACTS, Settings, parse_only, run
from lsh_bench.analysis.stats import NSAMPLES

DESCRIPTION = """\
Regenerate the LSH paper's tables (1, 2, 3, 6, correlations, achievement,
runtime) and figures (2, 3, 4, sign-test posteriors) from a scores CSV or a
results store, with a README.md showing them and a "Missing" section naming
absent methods/datasets. Beyond the paper: a ranking of all methods
(Friedman test, Nemenyi critical-difference diagram), Bayesian signed-rank
tests of every pair, LLM cost per method, the quality of the synthetic rows
(per method, per IR group, and against the F1 margins), and with html=PATH one
self-contained HTML page of it all.

examples:
  python -m lsh_bench.analysis scores=scores.csv out=results/paper
  python -m lsh_bench.analysis results=results/store out=results/paper only=table1,figures
  python -m lsh_bench.analysis results=results/store out=results/paper html=results/report/index.html
  python -m lsh_bench.analysis results=results/sweeps/sm_clean,results/sweeps/ls_local out=results/sm_vs_ls
"""

EPILOG = f"""\
inputs (exactly one of scores= / results=):
  scores=PATH.csv  columns dataset, ir, SM_v, SM_t, LM_v, LM_t, LS_v, LS_t;
                   optional SM_a/LM_a/LS_a (else test/validation), other
                   methods as M_v/M_t (e.g. ORG_t), paper_row, and scenario
                   (general/fewshot/zeroshot). Empty or N/A cells = no score.
                   Lines starting with # before the header are comments.
  results=DIR      the harness's results store (lsh_bench.store); DIR,DIR,...
                   reads several as one (e.g. an SM sweep's store and an LS
                   sweep's; a unit in two of them is an error).
only= names: {", ".join(ARTEFACTS)}
  ("figures" = all figures). Without only=, everything and README.md are
  written; with it, only those files (README.md is left as it is).
ranking (friedman, ranking, cd_diagram): general scenario, test F1, on the
  datasets where every ranked method has a score (the others are dropped
  and named under Missing); needs >= 3 methods and >= 2 such datasets
  (an error when asked for with only=, otherwise skipped and named).
  rank_methods=SM,LS,... ranks just those.
pairs (table1, table2): pairs=LS:SS,LS:SM compares those pairs instead of
  the paper's LM:SM, LS:LM, LS:SM (e.g. LS vs its SMOTE+SMOTE ablation SS).
IR groups (table2): datasets sorted by IR descending, ties by dataset name,
  cut into thirds by position (remainder to "more" first, then "mid");
  each group needs >= 3 datasets: an error with only=table2, otherwise
  table2 is skipped and named under Missing.
exit codes: 0 ok, 2 bad input or arguments (one "error:" line on stderr).
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports an error in one line (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _normalise(argv: Sequence[str]) -> list[str]:
    """``key=value`` -> ``--key=value``; flags and ``--key`` pass through."""
    return [a if a.startswith("-") or "=" not in a else f"--{a}" for a in argv]


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m lsh_bench.analysis", description=DESCRIPTION, epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--scores", metavar="PATH", help="scores CSV (paper Table 6 layout)")
    src.add_argument("--results", metavar="DIR[,DIR...]",
                     help="results store directory; several joined by commas are read as one store")
    p.add_argument("--out", metavar="DIR", default="results/paper",
                   help="output directory (default results/paper)")
    p.add_argument("--seed", type=int, default=0, help="sign-test seed (default 0)")
    p.add_argument("--rope", type=float, default=0.01,
                   help="region of practical equivalence (default 0.01)")
    p.add_argument("--decimals", type=int, default=4,
                   help="rounding for ties and display (default 4, the paper's)")
    p.add_argument("--nsamples", type=int, default=NSAMPLES,
                   help=f"posterior samples per sign test (default {NSAMPLES})")
    p.add_argument("--only", metavar="NAMES", default="",
                   help="comma-separated artefacts to make (default: all)")
    p.add_argument("--config_hash", metavar="HASH", default=None,
                   help="results=: use only units with this config_hash")
    p.add_argument("--runtime", metavar="PATH", default=None,
                   help="scores=: ratio statistics CSV for the runtime table/Figure 4")
    p.add_argument("--rank_methods", metavar="NAMES", default="",
                   help="comma-separated methods to rank (default: all with results)")
    p.add_argument("--pairs", metavar="A:B,...", default="",
                   help="Tables 1/2: the pairs compared, first:second (e.g. LS:SS,LS:SM); default the paper's")
    p.add_argument("--html", metavar="PATH", default=None,
                   help="also write one self-contained HTML report there (not with only=)")
    return p


def _command(args: argparse.Namespace) -> str:
    """The command that redoes a run, minus ``out=`` (so the README's bytes do
    not depend on where it is written)."""
    parts = [f"scores={args.scores}" if args.scores else f"results={args.results}"]
    if args.runtime:
        parts.append(f"runtime={args.runtime}")
    if args.config_hash:
        parts.append(f"config_hash={args.config_hash}")
    if args.rank_methods:
        parts.append(f"rank_methods={args.rank_methods}")
    if args.pairs:
        parts.append(f"pairs={args.pairs}")
    parts += [f"seed={args.seed}", f"rope={args.rope:g}", f"decimals={args.decimals}",
              f"nsamples={args.nsamples}"]
    return "python -m lsh_bench.analysis " + shlex.join(parts) + " out=DIR"


def parse_pairs(text: str) -> tuple[tuple[str, str], ...]:
    """``pairs=LS:SS,LS:SM`` -> (("LS", "SS"), ("LS", "SM")); method names as in the tables (upper case)."""
    pairs = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        first, sep, second = item.upper().partition(":")
        if not sep or not first or not second or first == second or ":" in second:
            raise AnalysisInputError(f"pairs=: {item!r} is not FIRST:SECOND of two methods (e.g. LS:SS)")
        pairs.append((first, second))
    return tuple(pairs)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(_normalise(argv))
    try:
        if args.rope < 0:
            raise AnalysisInputError(f"rope must be >= 0, got {args.rope}")
        if args.decimals < 0 or args.nsamples < 1:
            raise AnalysisInputError("decimals must be >= 0 and nsamples >= 1")
        only = parse_only(args.only)
        if args.html and only:
            raise AnalysisInputError("html= needs the full analysis; leave out only=")
        rank_methods = tuple(m.strip() for m in args.rank_methods.split(",") if m.strip())
        pairs = parse_pairs(args.pairs)
        if args.scores:
            inputs = read_scores_csv(args.scores)
            if args.runtime:
                inputs.ratio_stats = read_ratio_stats_csv(args.runtime)
        else:
            inputs = load_results(args.results, args.config_hash)
            inputs.quality = load_quality(args.results, inputs.units)
        settings = Settings(seed=args.seed, rope=args.rope, decimals=args.decimals,
                            nsamples=args.nsamples, only=only,
                            command=_command(args), rank_methods=rank_methods, pairs=pairs)
        report = run(inputs, args.out, settings)
        page = html_report.write(inputs, settings, report, args.html) if args.html else None
    except AnalysisInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(report.written)} files to {args.out}")
    if page is not None:
        print(f"wrote the HTML report {page}")
    for line in report.missing:
        print(f"missing: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

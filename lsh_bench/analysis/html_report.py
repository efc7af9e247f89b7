"""One self-contained HTML page of an analysis run (``make report``).

Made from the same :class:`~lsh_bench.analysis.report.Report` as the
README: the tables it built, the PNGs it wrote (embedded as ``data:`` URIs,
so the page needs no other file and no server), the Missing section, the
LLM cost per method and a provenance summary read from the unit records.
The page is a Jinja2 template (``templates/report.html.j2``, autoescaped)
rather than strings glued together in code; cells are formatted by the
same function as the Markdown tables, so the page and the README agree.
Nothing in it holds a time: the same input gives the same bytes.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from lsh_bench.analysis import tables
from lsh_bench.analysis.load import Inputs, methods_in
from lsh_bench.analysis.report import FIGURE_TITLES, NOTES, TITLES, Report, Settings

#: Sections of the page: (anchor, heading, tables, figures), in page order.
SECTIONS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("ranking", "Ranking of all methods", ("friedman", "ranking"), ("cd_diagram",)),
    ("pairwise", "Pairwise comparisons (paper Tables 1\u20132)",
     ("table1", "table2", "signed_rank"), ("posteriors", "posterior_bars")),
    ("imbalance", "Margins and achievement vs imbalance (paper Figures 2\u20133)",
     ("correlations", "achievement"), ("figure2", "figure3")),
    ("shots", "Few-shot and zero-shot (paper Table 3)", ("table3",), ()),
    ("cost", "LLM cost and runtime (paper Figure 4)", ("llm_cost", "runtime"), ("figure4",)),
    ("scores", "Scores per dataset (paper Table 6)", ("table6",), ()),
)
#: Tables long enough to start folded (the reader opens them on demand).
FOLDED: frozenset[str] = frozenset({"runtime", "table6"})


#: Text cells longer than this wrap instead of widening the table.
WRAP_AT = 48


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool
    strong: bool = False

    @property
    def wrap(self) -> bool:
        return not self.numeric and len(self.text) > WRAP_AT


def _strong(column: str, value: object) -> bool:
    """Cells worth a glance: a posterior probability >= 0.95, or a p-value below 0.05."""
    if not isinstance(value, (float, np.floating)) or math.isnan(float(value)):
        return False
    if column in ("p_first_better", "p_rope", "p_second_better"):
        return float(value) >= 0.95
    if column == "p_value" or column.startswith("p_vs_"):
        return float(value) < 0.05
    return False


def table_view(df: pd.DataFrame, decimals: int) -> dict:
    """Header and formatted cells of a table (text as in the Markdown tables)."""
    cols = [str(c) for c in df.columns]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    rows = [[Cell(tables._cell(v, c, decimals), n, _strong(c, v))
             for v, c, n in zip(row, cols, numeric)]
            for row in df.itertuples(index=False)]
    return {"columns": list(zip(cols, numeric)), "rows": rows}


#: Figures are saved at 150 dpi; shown at this fraction of their pixel size they
#: read like print (about 100 px per inch) and stay sharp on dense screens.
DISPLAY_SCALE = 0.7


def data_uri(png: Path) -> str:
    """A PNG as a ``data:`` URI, so the page carries its figures."""
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def png_size(png: Path) -> tuple[int, int]:
    """(width, height) in pixels from the PNG header (IHDR, bytes 16-24)."""
    head = png.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{png} is not a PNG file")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _figure_item(name: str, paths: list[Path]) -> dict:
    png, pdf = paths
    w, h = png_size(png)
    return {"kind": "figure", "id": f"fig-{name}", "title": FIGURE_TITLES[name],
            "src": data_uri(png), "pdf": pdf.name,
            "width": round(w * DISPLAY_SCALE), "height": round(h * DISPLAY_SCALE)}


def _units_summary(inputs: Inputs) -> dict:
    """Counts for the header cards."""
    general = inputs.general
    methods = [m for m in methods_in(general) if general[f"{m}_t"].notna().any()]
    out = {"datasets": len(general), "shot_rows": len(inputs.fewshot), "methods": methods}
    if inputs.units is not None:
        st = inputs.units["status"].astype(str).value_counts().sort_index()
        out["units"] = int(len(inputs.units))
        out["status"] = [(k, int(v)) for k, v in st.items()]
    return out


def context(inputs: Inputs, s: Settings, report: Report) -> dict:
    """Everything the template shows (plain data: strings, numbers, lists)."""
    fmt = dict(rope=s.rope, seed=s.seed, decimals=s.decimals)
    sections = []
    for anchor, heading, names, figs in SECTIONS:
        items = [{"kind": "table", "id": name, "title": TITLES[name],
                  "note": NOTES[name].format(**fmt), "folded": name in FOLDED,
                  **table_view(report.tables[name], s.decimals)}
                 for name in names if name in report.tables]
        items += [_figure_item(name, report.figures[name])
                  for name in figs if report.figures.get(name)]
        if items:
            sections.append({"id": anchor, "heading": heading, "items": items})
    best = None
    if report.ranking is not None:
        r = report.ranking
        best = {"method": r.mean_ranks.index[0], "rank": f"{r.mean_ranks.iloc[0]:.2f}",
                "k": r.k, "n": r.n,
                "p": "all tied" if math.isnan(r.p_value) else f"{r.p_value:.3g}"}
    provenance = None
    if inputs.provenance is not None and len(inputs.provenance):
        provenance = {name: table_view(df, s.decimals)
                      for name, df in tables.provenance_tables(inputs.provenance).items()}
    return {
        "source": inputs.source, "settings": s, "command": s.command,
        "summary": _units_summary(inputs), "best": best, "missing": report.missing,
        "sections": sections, "provenance": provenance,
    }


def render(inputs: Inputs, s: Settings, report: Report) -> str:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lsh_bench.analysis", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    return env.get_template("report.html.j2").render(**context(inputs, s, report))


def write(inputs: Inputs, s: Settings, report: Report, path: str | Path) -> Path:
    """Write the page to ``path`` (its directory is created) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(inputs, s, report), encoding="utf-8")
    return path

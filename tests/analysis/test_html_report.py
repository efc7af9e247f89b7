"""The HTML report: self-contained, complete, byte-stable (no browser needed here;
test_report_browser.py opens it in Chromium)."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd

from lsh_bench.analysis.__main__ import main
from tests.analysis.conftest import SMOKE_STORE

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Every id, link (href), source (src), tag and text of a page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.srcs: list[tuple[str, dict]] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        if "href" in a:
            self.hrefs.append(a["href"])
        if "src" in a:
            self.srcs.append((a["src"], a))

    def handle_data(self, data):
        self.text.append(data)


def broken_links(page: Page, html_path: Path) -> list[str]:
    """Links and sources that resolve neither inside the page nor to a file beside it."""
    bad = []
    for ref in page.hrefs + [s for s, _ in page.srcs]:
        if ref.startswith("#"):
            if unquote(ref[1:]) not in page.ids:
                bad.append(ref)
        elif ref.startswith("data:"):
            continue
        else:
            url = urlparse(ref)
            if url.scheme not in ("", "file") or not (html_path.parent / unquote(url.path)).exists():
                bad.append(ref)
    return bad


def png_of(src: str) -> bytes:
    assert src.startswith("data:image/png;base64,"), src[:40]
    return base64.b64decode(src.split(",", 1)[1], validate=True)


def test_page_is_self_contained(smoke_report):
    path = smoke_report["a"]
    text = path.read_text(encoding="utf-8")
    page = Page(text)
    assert broken_links(page, path) == []
    assert all(h.startswith("#") for h in page.hrefs) and len(page.hrefs) >= 8
    assert not {"script", "link", "iframe", "object"} & set(page.tags)
    assert not re.search(r"https?://|url\(", text)       # nothing fetched from anywhere
    assert len(page.srcs) >= 5
    for src, attrs in page.srcs:
        png = png_of(src)
        assert png[:8] == PNG_SIGNATURE
        width = int.from_bytes(png[16:20], "big")
        assert int(attrs["width"]) == round(width * 0.7)


def test_page_shows_the_analysis_outputs(smoke_report):
    page = Page(smoke_report["a"].read_text(encoding="utf-8"))
    body = " ".join(page.text)
    for anchor in ("missing", "ranking", "friedman", "table1", "signed_rank", "llm_cost",
                   "table3", "table6", "provenance", "fig-cd_diagram", "fig-posteriors"):
        assert anchor in page.ids, anchor
    # the Missing section is the README's
    readme = (smoke_report["paper"] / "README.md").read_text(encoding="utf-8")
    missing = re.search(r"## Missing\n\n(.*?)\n\n", readme, re.S).group(1)
    for line in missing.splitlines():
        assert line.removeprefix("- ") in body
    # figures embedded are the PNGs written to the paper directory, byte for byte
    cd = (smoke_report["paper"] / "figure_cd_diagram.png").read_bytes()
    assert cd in [png_of(s) for s, _ in Page(smoke_report["a"].read_text()).srcs]
    # LLM cost per method: the store's LM general units made 129 + 88 + 58 real calls
    cost = pd.read_csv(smoke_report["paper"] / "llm_cost.csv").set_index(["scenario", "method"])
    assert cost.loc[("general", "LM"), "llm_calls"] == 275
    assert cost.loc[("general", "SM"), "llm_calls"] == 0
    assert "275" in body
    # provenance from the unit records: commits, config hashes and package versions
    commits = {p.name for p in SMOKE_STORE.glob("units/general/lm/*/*")}
    assert any(h in body for h in commits)
    assert "numpy" in body and "2.4.6" in body and "SmolLM2-135M-Instruct-Q4_1" in body


def test_same_input_gives_identical_bytes(smoke_report):
    assert smoke_report["a"].read_bytes() == smoke_report["b"].read_bytes()


def test_html_needs_the_full_analysis(tmp_path, capsys):
    code = main([f"results={SMOKE_STORE}", f"out={tmp_path}", "only=table1",
                 f"html={tmp_path / 'r.html'}"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "html= needs the full analysis" in err
    assert not (tmp_path / "r.html").exists()


def test_scores_csv_page_has_no_provenance_or_cost(tmp_path, synthetic_csv):
    html = tmp_path / "r" / "index.html"
    assert main([f"scores={synthetic_csv}", f"out={tmp_path / 'p'}", "nsamples=2000",
                 f"html={html}"]) == 0
    page = Page(html.read_text(encoding="utf-8"))
    assert "provenance" not in page.ids and "llm_cost" not in page.ids
    assert {"ranking", "fig-cd_diagram", "missing"} <= page.ids
    assert "LLM cost: a scores CSV records none" in " ".join(page.text)
    assert broken_links(page, html) == []

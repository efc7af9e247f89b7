"""Open the HTML report in headless Chromium as a reader would: it renders, every
figure loads, no link is broken.

Chromium is the Debian package (``apt-get install chromium``; ``make test``
installs it on CI). Without /usr/bin/chromium these tests skip and say so.
The screenshot stays in pytest's tmp directory (printed with ``-s``) for a
person to look at; it is never committed.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

from tests.analysis.test_html_report import Page, broken_links, png_of

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs headless Chromium at /usr/bin/chromium "
                              "(Debian package chromium; `make test` installs it on CI)"),
]

WINDOW = (1280, 2400)
#: Runs after every image has loaded (or failed): writes what it found into the
#: DOM, which --dump-dom prints. Injected into a copy; the report has no script.
CHECK_SCRIPT = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const anchors = Array.from(document.querySelectorAll('a[href^="#"]'));
  const result = {
    images: imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.width]),
    missing_targets: anchors.map(a => a.getAttribute("href").slice(1))
                            .filter(id => !document.getElementById(id)),
    title: document.title,
  };
  document.body.setAttribute("data-check", JSON.stringify(result));
});
</script>
"""


def chromium(*args: str, user_data: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """One headless Chromium run, no network, no first-run or background traffic."""
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--hide-scrollbars", f"--user-data-dir={user_data}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def test_report_renders_in_chromium(smoke_report, tmp_path):
    page = smoke_report["a"]
    shot = tmp_path / "report.png"
    proc = chromium(f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                    page.as_uri(), user_data=tmp_path / "profile")
    assert shot.exists(), f"no screenshot; chromium said: {proc.stderr[-2000:]}"
    print(f"\nscreenshot of the report: {shot}")
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200            # text, tables and figures, not a blank page
    # the styled header band is there (dark blue), so the inline CSS applied
    top = (pixels[20, 20] * 255).astype(int)
    assert top[2] > top[0] + 40 and top.sum() < 450, top
    # the page body below it is white, the figures and tables non-white
    assert (pixels[WINDOW[1] // 2] < 0.99).any()


def test_every_figure_loads_and_every_link_resolves(smoke_report, tmp_path):
    source = smoke_report["a"]
    text = source.read_text(encoding="utf-8")
    assert "</body>" in text
    probe = tmp_path / "index.html"
    probe.write_text(text.replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
    proc = chromium("--dump-dom", "--virtual-time-budget=10000", probe.as_uri(),
                    user_data=tmp_path / "profile")
    found = re.search(r'data-check="([^"]*)"', proc.stdout)
    assert found, f"the check script did not run; chromium said: {proc.stderr[-2000:]}"
    check = json.loads(html.unescape(found.group(1)))
    assert check["title"] == "LSH benchmark report"
    assert check["missing_targets"] == []
    expected = [png_of(src) for src, _ in Page(text).srcs]
    assert len(check["images"]) == len(expected) >= 5
    for (complete, nat_w, nat_h, shown_w), png in zip(check["images"], expected):
        assert complete and nat_w > 0 and nat_h > 0 and shown_w > 0
        assert (nat_w, nat_h) == (int.from_bytes(png[16:20], "big"),
                                  int.from_bytes(png[20:24], "big"))
    # and statically: every href/src resolves inside the page (or to a file beside it)
    assert broken_links(Page(text), source) == []
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)

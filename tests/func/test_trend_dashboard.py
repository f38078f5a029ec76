"""The trend dashboard opened in headless Chromium: the DOM holds a chart per section with a point per released
version and a mark per PR check, and the screenshot shows ink in every chart's region (not a blank box)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mlops_actions.render.trend_html import render_trend_html
from tests.trend_fixture import canned_trend

CHROMIUM_TIMEOUT_S = 60
WINDOW = (1200, 1600)
# Measures where each chart lies once laid out, for the screenshot's crops: written into the DOM that
# --dump-dom prints. Only the test's copy of the page carries it; the dashboard itself has no script.
MEASURE = """<script>
addEventListener("load", () => {
  const boxes = [...document.querySelectorAll("svg.chart")].map((svg) => {
    const r = svg.getBoundingClientRect();
    return {kind: svg.getAttribute("class"), x: r.x, y: r.y, width: r.width, height: r.height};
  });
  document.body.setAttribute("data-chart-boxes", JSON.stringify(boxes));
});
</script>"""


def chromium() -> str:
    """The Chromium binary; the test is skipped without one outside CI, and fails without one in CI."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (.ci/install-system-deps.sh installs it)")
    pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")


def headless(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [
            binary,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=CHROMIUM_TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def decode_png(data: bytes) -> tuple[int, int, list[bytes], int]:
    """(width, height, rows of pixel bytes, bytes per pixel) of an 8-bit RGB or RGBA, non-interlaced PNG
    (zlib and numpy: the filters None, Sub and Up at once per row, Average and Paeth byte by byte)."""
    import numpy as np

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks, header = 8, [], b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        offset += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
    width, height, depth, color, _compression, _filter, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    size = 3 if color == 2 else 4
    raw, stride, rows = zlib.decompress(b"".join(chunks)), width * size, []
    previous = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).copy()
        if kind == 1:
            line = (line.reshape(width, size).astype(np.int64).cumsum(axis=0) % 256).astype(np.uint8).ravel()
        elif kind == 2:
            line = line + previous  # uint8: modulo 256
        elif kind in (3, 4):
            out, up = bytearray(line.tobytes()), previous.tobytes()
            for i in range(stride):
                left = out[i - size] if i >= size else 0
                corner = up[i - size] if i >= size else 0
                if kind == 3:
                    out[i] = (out[i] + (left + up[i]) // 2) & 0xFF
                else:
                    p = left + up[i] - corner
                    pa, pb, pc = abs(p - left), abs(p - up[i]), abs(p - corner)
                    out[i] = (
                        out[i] + (left if pa <= pb and pa <= pc else up[i] if pb <= pc else corner)
                    ) & 0xFF
            line = np.frombuffer(bytes(out), dtype=np.uint8)
        rows.append(line.tobytes())
        previous = line
    return width, height, rows, size


def colour_pixels(png: tuple[int, int, list[bytes], int], box: dict[str, float], rgb: str) -> int:
    """How many pixels inside ``box`` (CSS pixels = image pixels) are close to the colour ``#rrggbb``."""
    _width, _height, rows, size = png
    target = [int(rgb[i : i + 2], 16) for i in (1, 3, 5)]
    count = 0
    for y in range(int(box["y"]) + 2, int(box["y"] + box["height"]) - 2):
        row = rows[y]
        for x in range(int(box["x"]) + 2, int(box["x"] + box["width"]) - 2):
            pixel = row[x * size : x * size + 3]
            if all(abs(pixel[c] - target[c]) <= 40 for c in range(3)):
                count += 1
    return count


class Charts(HTMLParser):
    """The dumped DOM's charts: per svg.chart, its class and the elements inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict[str, object]] = []
        self.boxes = "[]"
        self._inside: dict[str, object] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "body":
            self.boxes = attributes.get("data-chart-boxes") or "[]"
        if tag == "svg" and "chart" in (attributes.get("class") or "").split():
            self._inside = {"class": attributes["class"], "elements": []}
            self.charts.append(self._inside)
        elif self._inside is not None:
            self._inside["elements"].append((tag, attributes))  # type: ignore[union-attr]

    def handle_endtag(self, tag):
        if tag == "svg":
            self._inside = None


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> tuple[Charts, list[dict[str, float]], tuple]:
    """The canned dashboard (two versions, two PR checks, a deploy, a monitor run) opened in Chromium: (the
    dumped DOM's charts, the charts' boxes, the decoded screenshot)."""
    binary = chromium()
    folder = tmp_path_factory.mktemp("trend")
    page = render_trend_html([canned_trend()])
    assert "<script" not in page
    measured = folder / "index.html"
    measured.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    screenshot = folder / "dashboard.png"
    dom = headless(
        binary, folder / "profile", f"--screenshot={screenshot}", "--dump-dom", measured.as_uri()
    ).stdout
    charts = Charts()
    charts.feed(dom)
    return charts, json.loads(charts.boxes), decode_png(screenshot.read_bytes())


def test_the_dom_has_the_metric_chart_with_a_point_per_version_and_a_mark_per_pr_check(opened):
    charts, _boxes, _png = opened
    by_kind: dict[str, list] = {}
    for chart in charts.charts:  # the first of each kind: the primary metric's chart comes first
        by_kind.setdefault(str(chart["class"]).split()[-1], chart["elements"])  # type: ignore[arg-type]
    assert set(by_kind) == {"metric-chart", "check-chart", "deploy-chart", "monitor-chart"}
    points = [attrs for tag, attrs in by_kind["metric-chart"] if tag == "circle"]  # type: ignore[union-attr]
    assert [p["data-version"] for p in points] == ["1.0.0", "1.1.0"]
    assert (
        sum(1 for tag, attrs in by_kind["metric-chart"] if tag == "g" and attrs.get("class") == "whisker")
        == 2
    )  # type: ignore[union-attr]
    marks = [attrs["data-verdict"] for tag, attrs in by_kind["check-chart"] if tag == "rect"]  # type: ignore[union-attr]
    assert marks == ["pass", "fail"]


def test_the_screenshot_shows_ink_in_every_chart_region(opened):
    _charts, boxes, png = opened
    width, height, _rows, _size = png
    assert (width, height) == WINDOW
    by_kind: dict[str, dict[str, float]] = {}
    for box in boxes:
        by_kind.setdefault(box["kind"].split()[-1], box)
    assert set(by_kind) == {"metric-chart", "check-chart", "deploy-chart", "monitor-chart"}
    for box in by_kind.values():
        assert box["width"] > 100 and box["height"] > 40 and box["y"] + box["height"] <= height, box
    # the points, whiskers and line of the metric chart are drawn in the value colour
    assert colour_pixels(png, by_kind["metric-chart"], "#0969da") > 300
    # the check strip: a green mark (pass) and a red one (fail), 14 x 14 pixels each
    assert colour_pixels(png, by_kind["check-chart"], "#1a7f37") > 100
    assert colour_pixels(png, by_kind["check-chart"], "#cf222e") > 100
    assert colour_pixels(png, by_kind["deploy-chart"], "#1a7f37") > 100
    assert colour_pixels(png, by_kind["monitor-chart"], "#cf222e") > 100
    # and a blank region would have none
    blank = {"x": 900.0, "y": float(height - 60), "width": 200.0, "height": 50.0}
    assert colour_pixels(png, blank, "#0969da") == 0

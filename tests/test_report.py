"""report.html and the end-of-run outputs: escaping, a real run, headless Chromium."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest

from extract.records import Article, Capacity, CompanyMention, Deal, Facts
from scraper.core.records import Failure
from scraper.output.report import REPORT_NAME, capacity_points, highlight, write_report
from scraper.output.store import BOM, COLUMNS, export
from tests.conftest import PAGES, ROOT, run_cli

SEED_PAGE = PAGES / "syndication" / "xiaomi-borgward-seed-shape.html"
ARTIFACTS = ROOT / "tests" / "artifacts"  # git-ignored; the screenshot is kept here
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class Tags(HTMLParser):
    """Counts of start tags, and the ids and classes seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.ids: set[str] = set()
        self.classes: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        values = dict(attrs)
        self.ids.add(values.get("id") or "")
        self.classes.add(values.get("class") or "")
        if tag == "a":
            self.hrefs.append(values.get("href") or "")


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def hostile_article() -> tuple[Article, Facts]:
    text = (f"Nio said {HOSTILE} nothing. NIO builds cars at JAC, its partner.\n\n"
            "The plant can build 150,000 units a year by 2025.")
    article = Article(url="javascript:alert(1)", input="x.html", site="Evil <b>site</b>",
                      title=HOSTILE, author="", published="2024-01-01T00:00:00+00:00",
                      source_credit="", paragraphs=tuple(text.split("\n\n")),
                      fetched_at="2024-01-01T00:00:00+00:00")
    facts = Facts(
        companies=(CompanyMention("Nio", 2, ("Nio", "NIO")), CompanyMention("JAC", 1, ("JAC",))),
        deals=(Deal("Nio", "JAC", "contract_manufacturing", "completed", None,
                    "NIO builds cars at JAC, its partner."),),
        capacities=(Capacity(f"Nio {HOSTILE}", "", 150_000, "total", 2025,
                             "The plant can build 150,000 units a year by 2025."),))
    return article, facts


def test_untrusted_text_is_escaped_and_links_are_http_only(tmp_path: Path) -> None:
    article, facts = hostile_article()
    export(tmp_path, [(article, facts)])
    fail = Failure(HOSTILE, "", "fetch", "not_found", HOSTILE, "2024-01-01T00:00:00+00:00")
    html = write_report(tmp_path, [(article, facts)], [fail], 1.0).read_text(encoding="utf-8")
    tags = parse(html)
    assert "script" not in tags.tags and "img" not in tags.tags
    assert "javascript:alert(1)" not in tags.hrefs
    assert html.count("&lt;script&gt;") >= 5  # title, text, table, chart, failure
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert {"deals", "capacities", "chart", "summary", "failures"} <= tags.ids


def test_facts_are_highlighted_from_what_extraction_recorded() -> None:
    article, facts = hostile_article()
    html = highlight(article.text, facts)
    assert re.search(r'<mark class="ent org" title="Nio">NIO<', html)
    assert re.search(r'<mark class="ent org" title="JAC">JAC<', html)
    assert '<mark class="sent deal"' in html and '<mark class="sent capacity"' in html
    assert re.search(r'<mark class="ent qty"[^>]*>150,000<', html)
    # Markup removed, the text is the article's, character for character.
    text = re.sub(r'<span class="tag">[^<]*</span>|<[^>]+>', "", html)
    assert text == article.text.replace("&", "&amp;").replace("<", "&lt;").replace(
        ">", "&gt;").replace('"', "&quot;").replace("'", "&#x27;")


def test_chart_takes_the_largest_figure_per_company_and_year() -> None:
    rows = [{"company": "Nio", "units_per_year": "100000", "year": "2024"},
            {"company": "Nio", "units_per_year": "300000", "year": "2024"},
            {"company": "Nio", "units_per_year": "50000", "year": ""},
            {"company": "BYD", "units_per_year": "", "year": "2024"}]
    assert capacity_points(rows) == {"Nio": {"2024": 300_000, "no year": 50_000}}


@pytest.fixture(scope="module")
def seed_runs(tmp_path_factory: pytest.TempPathFactory):
    """The seed page and a missing file, run twice with --format xlsx --excel."""
    out = tmp_path_factory.mktemp("report")
    args = (str(SEED_PAGE), str(out / "missing.html"), "--out", str(out),
            "--format", "xlsx", "--excel")
    first = run_cli(*args)
    snapshot = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    second = run_cli(*args)
    return out, first, snapshot, second


def test_run_writes_report_and_failures_agree_with_summary(seed_runs) -> None:
    out, first, snapshot, second = seed_runs
    for result in (first, second):
        assert result.code == 1, result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith(
            "done: 1 articles, 8 companies, 4 deals, 2 capacities, 1 failed")
    assert len(read(out / "failures.csv")) == 2  # one row per failed input per run
    tags = parse((out / REPORT_NAME).read_text(encoding="utf-8"))
    assert {"summary", "deals", "capacities", "chart", "failures"} <= tags.ids
    assert "ent org" in tags.classes and "sent deal" in tags.classes


def test_rerun_leaves_tables_and_workbook_byte_identical(seed_runs) -> None:
    out, _, snapshot, _ = seed_runs
    for name, data in snapshot.items():
        # failures.csv is a log (one row per failure per run), report.html shows this run,
        # and the workbook has a failures sheet; test_export checks a workbook's bytes.
        if name not in ("failures.csv", REPORT_NAME, "tables.xlsx"):
            assert (out / name).read_bytes() == data, name
    assert all((out / f"{t}.csv").read_bytes().startswith(BOM) for t in COLUMNS)


def test_workbook_has_the_csv_rows(seed_runs) -> None:
    out = seed_runs[0]
    wb = openpyxl.load_workbook(out / "tables.xlsx")
    for table in COLUMNS:
        got = [["" if v is None else str(v) for v in row]
               for row in wb[table].iter_rows(min_row=2, values_only=True)]
        assert got == [list(r.values()) for r in read(out / f"{table}.csv")], table


def chromium() -> str:
    """Debian's chromium, which `make test` installs when it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: `make test` installs it with apt-get "
                    "(apt-get install chromium)")
    return found


def headless(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Open `page` in headless Chromium with console messages logged to stderr."""
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--window-size=1280,2400", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)


def console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_console_check_sees_errors(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text('<script>console.error("boom")</script>', encoding="utf-8")
    proc = headless(page, tmp_path / "profile", "--dump-dom")
    assert any("boom" in line for line in console(proc.stderr)), proc.stderr


def test_report_renders_in_headless_chromium(seed_runs, tmp_path: Path) -> None:
    page = seed_runs[0] / REPORT_NAME
    proc = headless(page, tmp_path / "profile", "--dump-dom")
    assert proc.returncode == 0, proc.stderr
    assert console(proc.stderr) == []
    dom = parse(proc.stdout)
    assert {"summary", "deals", "capacities", "chart", "failures"} <= dom.ids
    assert dom.tags.get("tr", 0) >= 4 + 2 + 1 and dom.tags.get("rect", 0) >= 2
    assert dom.tags.get("mark", 0) >= 10
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    proc = headless(page, tmp_path / "profile", f"--screenshot={shot}")
    assert shot.exists() and shot.stat().st_size > 10_000, proc.stderr
    print(f"screenshot: {shot}")

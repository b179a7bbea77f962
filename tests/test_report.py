"""report.html and the end-of-run outputs: escaping, the folder view, the last run, its
size bound, and the page in headless Chromium (sorting, filtering, its CSP)."""

from __future__ import annotations

import base64
import csv
import fcntl
import hashlib
import html as htmllib
import json
import os
import re
import select
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from extract.records import Article, Capacity, CompanyMention, Deal, Facts
from scraper.app.cli import main as cli_main
from scraper.core.records import Failure
from scraper.output.charts import capacity_points
from scraper.output.highlight import highlight
from scraper.output.report import (
    MAX_ARTICLES,
    MAX_TEXTS,
    REPORT_NAME,
    SCRIPT,
    LastRun,
    RunCounts,
    render,
    script_hash,
    write_report,
)
from scraper.output.store import export
from scraper.output.tables import BOM, COLUMNS
from tests.conftest import PAGES, ROOT, run_cli
from tests.crawlsite import serve_site

SEED_PAGE = PAGES / "syndication" / "xiaomi-borgward-seed-shape.html"
ARTIFACTS = ROOT / "tests" / "artifacts"  # git-ignored; the screenshot is kept here
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
QUOTED_URL = 'https://evil.example/a"onmouseover="alert(1)'


class Tags(HTMLParser):
    """Counts of start tags, the ids, classes and attribute names seen, and the links."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.ids: set[str] = set()
        self.classes: set[str] = set()
        self.attrs: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        values = dict(attrs)
        self.attrs.update(values)
        self.ids.add(values.get("id") or "")
        self.classes.add(values.get("class") or "")
        if tag == "a":
            self.hrefs.append(values.get("href") or "")


class Grid(HTMLParser):
    """The body rows of one table: each cell's text and the link it holds, if any."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.depth, self.in_body = table_id, 0, False
        self.rows: list[list[tuple[str, str | None]]] = []
        self.cell: list[str] | None = None
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "table" and (self.depth or values.get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tbody":
            self.in_body = True
        elif self.in_body and tag == "tr":
            self.rows.append([])
        elif self.in_body and tag == "td":
            self.cell, self.href = [], None
        elif self.cell is not None and tag == "a":
            self.href = values.get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
            self.in_body = self.in_body and self.depth > 0
        elif tag == "td" and self.cell is not None:
            self.rows[-1].append(("".join(self.cell).strip(), self.href))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


def grid(page: str, table_id: str) -> list[list[tuple[str, str | None]]]:
    parser = Grid(table_id)
    parser.feed(page)
    return parser.rows


def texts(page: str, table_id: str) -> list[list[str]]:
    return [[text for text, _ in row] for row in grid(page, table_id)]


def summary(page: str) -> dict[str, str]:
    """The last run's numbers, by their label."""
    return {row[0]: row[1] for row in texts(page, "summary")}


def run_articles(page: str) -> list[tuple[str, str]]:
    """(status, headline) of each article the last run wrote."""
    block = re.search(r'<ul id="run-articles">(.*?)</ul>', page, re.S)
    items = re.findall(r'<span class="status (\w+)">\w+</span><a [^>]*>([^<]*)</a>',
                       block.group(1) if block else "")
    return [(status, htmllib.unescape(title)) for status, title in items]


def script_of(page: str) -> str:
    [script] = re.findall(r"<script>(.*?)</script>", page, re.S)
    return script


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
    quoted = Article(url=QUOTED_URL, input="y.html", site='"><b>x</b>', title="=1+1",
                     author="", published="", source_credit="", paragraphs=("Nio.",),
                     fetched_at="2024-01-02T00:00:00+00:00")
    export(tmp_path, [(article, facts), (quoted, Facts((), facts.deals, ()))])
    fail = Failure(HOSTILE, "", "fetch", "not_found", HOSTILE, "2024-01-01T00:00:00+00:00")
    page = write_report(tmp_path, [(article, facts)], [fail], 1.0).read_text(encoding="utf-8")
    tags = parse(page)
    # The only script is the page's own; nothing of the article became markup.
    assert tags.tags.get("script") == 1 and script_of(page) == SCRIPT
    assert "img" not in tags.tags and "b" not in tags.tags
    assert not [a for a in tags.attrs if a.startswith("on")]
    assert "javascript:alert(1)" not in tags.hrefs and QUOTED_URL in tags.hrefs
    # title (tables, run list, text block), text, chart, capacities table, failure
    assert page.count("&lt;script&gt;") >= 8
    assert "=1+1" in page and "'=1+1" not in page  # the spreadsheet guard is not shown
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert {"articles", "deals", "capacities", "chart", "timeline", "summary",
            "failures"} <= tags.ids


def test_facts_are_highlighted_from_what_extraction_recorded() -> None:
    article, facts = hostile_article()
    page = highlight(article.text, facts)
    assert re.search(r'<mark class="ent org" title="Nio">NIO<', page)
    assert re.search(r'<mark class="ent org" title="JAC">JAC<', page)
    assert '<mark class="sent deal"' in page and '<mark class="sent capacity"' in page
    assert re.search(r'<mark class="ent qty"[^>]*>150,000<', page)
    # Markup removed, the text is the article's, character for character.
    text = re.sub(r'<span class="tag">[^<]*</span>|<[^>]+>', "", page)
    assert text == article.text.replace("&", "&amp;").replace("<", "&lt;").replace(
        ">", "&gt;").replace('"', "&quot;").replace("'", "&#x27;")


def test_chart_takes_the_largest_figure_per_company_and_year_with_its_sources() -> None:
    rows = [{"company": "Nio", "units_per_year": "100000", "year": "2024", "article_id": "a"},
            {"company": "Nio", "units_per_year": "300000", "year": "2024", "article_id": "b"},
            {"company": "Nio", "units_per_year": "300000", "year": "2024", "article_id": "c"},
            {"company": "Nio", "units_per_year": "50000", "year": ""},
            {"company": "BYD", "units_per_year": "", "year": "2024"}]
    points = capacity_points(rows)
    assert {c: {y: p.units for y, p in by.items()} for c, by in points.items()} == {
        "Nio": {"2024": 300_000, "no year": 50_000}}
    assert [r["article_id"] for r in points["Nio"]["2024"].sources] == ["b", "c"]


# The page as a function of the tables: the bound.

def synthetic_tables(n: int) -> dict[str, list[dict[str, str]]]:
    """n articles, one a day from 2020 on, each with a deal and a capacity."""
    articles, deals, capacities = [], [], []
    for i in range(n):
        day = (datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=i)).isoformat()
        aid, url = f"id{i:05d}", f"https://news.example/{i}"
        articles.append({"article_id": aid, "url": url, "site": "News", "title": f"Story {i}",
                         "published": day, "fetched_at": day, "word_count": "9",
                         "text": f"Nio bought JAC. Nio can build {i + 1} cars a year."})
        deals.append({"article_id": aid, "url": url, "published": day, "acquirer": "Nio",
                      "target": "JAC", "deal_type": "acquisition", "status": "completed",
                      "year": "", "evidence": "Nio bought JAC."})
        capacities.append({"article_id": aid, "url": url, "published": day, "company": "Nio",
                           "facility": "", "units_per_year": str(i + 1), "kind": "total",
                           "year": day[:4], "evidence": f"Nio can build {i + 1} cars a year."})
    return {"articles": articles, "companies": [], "deals": deals, "capacities": capacities,
            "failures": []}


def test_report_lists_the_most_recent_articles_and_counts_the_rest() -> None:
    n = MAX_ARTICLES + 700
    page = render(synthetic_tables(n), LastRun(), "2026-01-01T00:00:00+00:00", "out")
    rows = texts(page, "articles")
    assert len(rows) == MAX_ARTICLES
    assert rows[0][2] == f"Story {n - 1}" and rows[-1][2] == f"Story {n - MAX_ARTICLES}"
    assert len(grid(page, "deals")) == len(grid(page, "capacities")) == MAX_ARTICLES
    bound = re.search(r'<p id="bound">(.*?)</p>', page, re.S)
    assert bound and "The 700 older articles, with 700 deals and 700 capacities, are " \
                     "counted here only" in " ".join(bound.group(1).split())
    assert page.count("<article ") == MAX_TEXTS
    # The charts draw every row: every month since the first article has its bar.
    [timeline] = re.findall(r'<svg id="timeline".*?</svg>', page, re.S)
    months = {a["published"][:7] for a in synthetic_tables(n)["articles"]}
    assert timeline.count('<rect class="bar"') == len(months) > 12
    assert "Story 0 (News, 2020-01-01)" in page  # the oldest, in the timeline's tooltip
    assert len(page.encode()) < 2_000_000
    # Twice as many articles: the same page size, give or take the counts.
    bigger = render(synthetic_tables(2 * n), LastRun(), "2026-01-01T00:00:00+00:00", "out")
    assert len(bigger) < 1.3 * len(page)


def test_last_run_tells_new_changed_and_unchanged_from_the_tables() -> None:
    tables = synthetic_tables(3)
    fetched = {a["article_id"]: a["fetched_at"] for a in tables["articles"]}
    run = LastRun(written=(("id00000", "2030-01-01T00:00:00+00:00"),  # table kept its old
                           ("id00001", fetched["id00001"]), ("id00002", fetched["id00002"])),
                  counts=RunCounts(not_modified=4, capped=2, disallowed=1,
                                   known=frozenset({"id00000", "id00001"})))
    page = render(tables, run, "2026-01-01T00:00:00+00:00")
    assert run_articles(page) == [("unchanged", "Story 0"), ("changed", "Story 1"),
                                  ("new", "Story 2")]
    numbers = summary(page)
    assert (numbers["articles new"], numbers["articles changed"],
            numbers["articles unchanged"]) == ("1", "1", "1")
    assert numbers["left for a later run by --max-articles"] == "2"
    assert numbers["disallowed by robots.txt"] == "1"
    assert numbers["not modified since it was fetched (304, or the same page)"] == "4"


# A real run, twice: the one-off command.

@pytest.fixture(scope="module")
def seed_runs(tmp_path_factory: pytest.TempPathFactory):
    """The seed page and a missing file, run twice with --format xlsx --excel."""
    out = tmp_path_factory.mktemp("report")
    args = (str(SEED_PAGE), str(out / "missing.html"), "--out", str(out),
            "--format", "xlsx", "--excel")
    first = run_cli(*args)
    # The store (state.sqlite) records each run: the exports are what must not change.
    snapshot = {p.name: p.read_bytes() for p in out.iterdir()
                if p.is_file() and not p.name.startswith("state.sqlite")}
    second = run_cli(*args)
    return out, first, snapshot, second


def test_run_writes_report_and_failures_agree_with_summary(seed_runs) -> None:
    out, first, snapshot, second = seed_runs
    for result in (first, second):
        assert result.code == 1, result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith(
            "done: 1 articles, 8 companies, 4 deals, 2 capacities, 1 failed")
    assert len(read(out / "failures.csv")) == 2  # one row per failed input per run
    page = (out / REPORT_NAME).read_text(encoding="utf-8")
    tags = parse(page)
    assert {"summary", "deals", "capacities", "chart", "failures"} <= tags.ids
    assert "ent org" in tags.classes and "sent deal" in tags.classes
    # The second run read the same page again: its row is as it was.
    assert run_articles(page) == [
        ("unchanged", "Xiaomi edges closer to the green light for building electric cars")]
    assert summary(page)["failed"] == "1" and len(grid(page, "failures")) == 1


def test_rerun_leaves_tables_and_workbook_byte_identical(seed_runs) -> None:
    out, _, snapshot, _ = seed_runs
    for name, data in snapshot.items():
        # failures.csv is a log (one row per failure per run), report.html shows this run,
        # and the workbook has a failures sheet; test_export checks a workbook's bytes.
        if name not in ("failures.csv", REPORT_NAME, "tables.xlsx"):
            assert (out / name).read_bytes() == data, name
    assert all((out / f"{t}.csv").read_bytes().startswith(BOM) for t in COLUMNS)


def as_csv(value: object) -> str:
    """A worksheet value as the CSV writes it (times are UTC without a zone in Excel)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat()
    return "" if value is None else str(value)


def test_workbook_has_the_csv_rows(seed_runs) -> None:
    out = seed_runs[0]
    wb = openpyxl.load_workbook(out / "tables.xlsx")
    for table in COLUMNS:
        got = [[as_csv(v) for v in row]
               for row in wb[table].iter_rows(min_row=2, values_only=True)]
        assert got == [list(r.values()) for r in read(out / f"{table}.csv")], table
    assert isinstance(wb["articles"]["G2"].value, datetime)  # published


# The scheduled crawl, three times: capped, then one article changed, then nothing new.

CRAWL_SETTINGS = """\
crawl_delay = 0.0
backoff = 0.05
max_backoff = 0.2
retries = 2
host_budget = 4
batch_size = 8
"""


@pytest.fixture(scope="module")
def crawl_reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str]]]:
    """The output folder and the report after each of three crawls of the fixture site."""
    root = tmp_path_factory.mktemp("crawl-report")
    out, config = root / "out", root / "fast.toml"
    config.write_text(CRAWL_SETTINGS, encoding="utf-8")
    pages = []
    with serve_site("127.0.0.1") as site:
        def crawl(*extra: str) -> None:
            code = cli_main(["crawl", "cnevpost", "--base-url", site.base + "/", "--out",
                             str(out), "--config", str(config), *extra])
            assert code == 0
            pages.append((out / REPORT_NAME).read_text(encoding="utf-8"))

        crawl("--max-articles", "20")
        site.extra[site.newest()[0].path] = "Nio also plans a second plant in Hefei."
        crawl()
        crawl()
    yield out, pages


def test_last_run_says_what_each_crawl_did(crawl_reports) -> None:
    _, (first, second, third) = crawl_reports
    numbers = summary(first)  # 20 planned, one of them disallowed by robots.txt
    assert numbers["articles new"] == "19" and numbers["articles changed"] == "0"
    assert numbers["left for a later run by --max-articles"] == "4"
    assert numbers["disallowed by robots.txt"] == "1"
    assert len(run_articles(first)) == 19
    assert {status for status, _ in run_articles(first)} == {"new"}
    numbers = summary(second)
    assert (numbers["articles new"], numbers["articles changed"]) == ("4", "1")
    assert ("changed", "Geely plans more output in Hangzhou, report 23") in run_articles(second)
    # The site's articles are older than a month: only the one whose sitemap lastmod moved
    # is asked again, the others are left alone (the revisit policy).
    assert numbers["not modified since it was fetched (304, or the same page)"] == "0"
    assert numbers["left alone: read before, not due for a revisit"] == "18"
    numbers = summary(third)
    assert (numbers["articles new"], numbers["articles changed"]) == ("0", "0")
    assert numbers["left alone: read before, not due for a revisit"] == "23"
    assert run_articles(third) == [] and "It wrote no article." in third


def test_a_run_with_nothing_new_still_shows_the_folder(crawl_reports) -> None:
    out, (first, _, third) = crawl_reports
    articles = read(out / "articles.csv")
    assert len(articles) == 23
    newest_first = sorted(articles, key=lambda a: a["published"], reverse=True)
    rows = grid(third, "articles")
    # published, site, headline linked to the article
    assert [(r[0][0], r[1][0], r[2]) for r in rows] == [
        (a["published"][:10], a["site"], (a["title"], a["url"])) for a in newest_first]
    # The first run's articles are all there, by headline.
    first_titles = {title for _, title in run_articles(first)}
    assert first_titles <= {r[2][0] for r in rows}


def test_fact_rows_show_headline_site_and_link(crawl_reports) -> None:
    out, pages = crawl_reports
    by_url = {a["url"]: a for a in read(out / "articles.csv")}
    for table in ("deals", "capacities"):
        rows = grid(pages[-1], table)
        facts = read(out / f"{table}.csv")
        assert len(rows) == len(facts) > 0, table
        for row in rows:
            headline, href = row[2]
            article = by_url[href or ""]
            assert (headline, row[1][0]) == (article["title"], article["site"])
    # Each capacity bar names the article its figure comes from, on hover.
    titles = re.findall(r'<rect class="bar"[^>]*><title>([^<]*)</title>', pages[-1])
    hefei = [t for t in titles if t.startswith("Nio ")]
    assert hefei and "Nio plans more output in Hefei" in htmllib.unescape(hefei[0])


# Headless Chromium.

def chromium() -> str:
    """Debian's chromium, which `make test` installs when it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: `make test` installs it with apt-get "
                    "(apt-get install chromium)")
    return found


BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run")


def headless(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Open `page` in headless Chromium with console messages logged to stderr."""
    return subprocess.run(
        [chromium(), *BROWSER_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
         "--v=0", "--window-size=1280,2400", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)


def console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class DevTools:
    """Headless Chromium driven over the DevTools protocol on a pipe
    (--remote-debugging-pipe: JSON messages ended by NUL on fds 3 and 4), so that a test
    clicks and types as a person does and the page's own event handlers run."""

    def __init__(self, profile: Path) -> None:
        to_chrome, self.commands = os.pipe()
        self.answers, from_chrome = os.pipe()

        def wire() -> None:  # in the child: its fd 3 reads commands, fd 4 writes answers
            # (moved out of the way first, in case either pipe end is fd 3 or 4 itself)
            ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_chrome, from_chrome)]
            for fd, end in zip((3, 4), ends, strict=True):
                os.dup2(end, fd)  # inheritable, unlike every other descriptor of ours

        self.proc = subprocess.Popen(
            [chromium(), *BROWSER_FLAGS, "--remote-debugging-pipe",
             f"--user-data-dir={profile}", "--window-size=1280,1600", "about:blank"],
            close_fds=False, preexec_fn=wire,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome)
        os.close(from_chrome)
        self.buffer, self.last_id, self.session = b"", 0, ""
        self.events: list[dict[str, Any]] = []

    def receive(self) -> dict[str, Any]:
        """The next message from Chromium: an answer or an event."""
        while b"\0" not in self.buffer:
            ready, _, _ = select.select([self.answers], [], [], 30)
            chunk = os.read(self.answers, 1 << 16) if ready else b""
            assert chunk, "Chromium said nothing for 30 s, or quit"
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        message: dict[str, Any] = {"id": self.last_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        while (answer := self.receive()).get("id") != self.last_id:
            self.events.append(answer)
        assert "error" not in answer, (method, answer)
        result: dict[str, Any] = answer.get("result", {})
        return result

    def open(self, page: Path) -> None:
        """A new tab, then the page in it, once its load event has fired."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.call("Runtime.enable")
        self.call("Page.enable")
        self.call("Page.navigate", url=page.as_uri())
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self.receive())

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A left click in the middle of the element, as the mouse does it."""
        x, y = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                       "e.scrollIntoView({block: 'center'});"
                       "const r = e.getBoundingClientRect();"
                       "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1)

    def type(self, selector: str, text: str) -> None:
        self.click(selector)
        self.call("Input.insertText", text=text)

    def problems(self) -> list[dict[str, Any]]:
        """Errors the page logged or threw."""
        return [e for e in self.events if e.get("method") == "Runtime.exceptionThrown"
                or (e.get("method") == "Runtime.consoleAPICalled"
                    and e["params"]["type"] in ("error", "warning"))]

    def close(self) -> None:
        self.session = ""
        try:
            self.call("Browser.close")
        except (AssertionError, OSError):
            pass
        finally:
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            os.close(self.commands)
            os.close(self.answers)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    tools = DevTools(tmp_path / "profile")
    try:
        yield tools
    finally:
        tools.close()


def column(browser: DevTools, table: str, index: int, hidden: bool = False) -> list[str]:
    """The sort keys of a column, top to bottom (of the rows shown, unless `hidden`)."""
    return browser.js(
        f"Array.from(document.querySelectorAll('#{table} tbody tr'))"
        f".filter((r) => {json.dumps(hidden)} || !r.hidden)"
        f".map((r) => r.cells[{index}].dataset.sort ?? r.cells[{index}].textContent.trim())")


def test_clicking_a_header_sorts_and_typing_filters(crawl_reports, browser: DevTools) -> None:
    out, _ = crawl_reports
    browser.open(out / REPORT_NAME)
    units = [int(v) for v in column(browser, "capacities", 5)]
    assert units != sorted(units)  # published order: sorting must move rows
    browser.click("#capacities th:nth-child(6) button")
    assert [int(v) for v in column(browser, "capacities", 5)] == sorted(units)
    browser.click("#capacities th:nth-child(6) button")
    assert [int(v) for v in column(browser, "capacities", 5)] == sorted(units, reverse=True)
    assert browser.js("document.querySelector('#capacities th:nth-child(6)')"
                      ".getAttribute('aria-sort')") == "descending"
    companies = column(browser, "capacities", 3)
    browser.click("#capacities th:nth-child(4) button")
    assert column(browser, "capacities", 3) == sorted(companies, key=str.casefold)

    total = len(column(browser, "articles", 2))
    browser.type("input.filter[data-table=articles]", "hefei")
    shown = column(browser, "articles", 2)
    assert 0 < len(shown) < total and all("Hefei" in title for title in shown)
    assert browser.js("document.getElementById('articles-count').textContent") == \
        f"{len(shown)} of {total} rows"
    browser.type("input.filter[data-table=articles]", " 2026-10-01")  # every word must match
    assert column(browser, "articles", 2) == ["Nio plans more output in Hefei, report 0"]
    assert browser.problems() == []


def test_csp_allows_exactly_the_page_script(crawl_reports, tmp_path: Path) -> None:
    page_path = crawl_reports[0] / REPORT_NAME
    page = page_path.read_text(encoding="utf-8")
    [policy] = re.findall(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    policy = htmllib.unescape(policy)
    digest = base64.b64encode(hashlib.sha256(script_of(page).encode()).digest()).decode()
    assert re.findall(r"script-src ([^;]*);", policy) == [f"'sha256-{digest}'"]
    assert script_hash(SCRIPT) == f"'sha256-{digest}'"
    # The page as written runs its script; the same page with the script changed does not.
    proc = headless(page_path, tmp_path / "profile", "--dump-dom")
    assert '<html lang="en" class="js">' in proc.stdout, proc.stderr
    assert console(proc.stderr) == []
    altered = tmp_path / "altered.html"
    altered.write_text(page.replace('classList.add("js")', 'classList.add("js", "x")'),
                       encoding="utf-8")
    proc = headless(altered, tmp_path / "profile", "--dump-dom")
    assert '<html lang="en">' in proc.stdout and 'class="js' not in proc.stdout
    assert any("Content Security Policy" in line for line in console(proc.stderr))


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
    assert {"summary", "deals", "capacities", "chart", "timeline", "failures"} <= dom.ids
    assert dom.tags.get("tr", 0) >= 4 + 2 + 1 and dom.tags.get("rect", 0) >= 2
    assert dom.tags.get("mark", 0) >= 10
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    proc = headless(page, tmp_path / "profile", f"--screenshot={shot}")
    assert shot.exists() and shot.stat().st_size > 10_000, proc.stderr
    print(f"screenshot: {shot}")

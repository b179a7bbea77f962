"""The Python API (scraper/api.py, README "Python API"): the records it returns, the tables'
types, nothing on stdout, one spaCy pipeline per process, the crawl's options and lock, and
the README's example run against sites on 127.0.0.1."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from extract.errors import CleanError, ItemError
from extract.nlp.pipeline import load_pipeline
from extract.records import Article, Capacity, CompanyMention, Deal
from scraper import api
from scraper.app.cli import main as cli_main
from scraper.core.errors import LockedError, UsageError
from scraper.fetch.lock import CrawlLock
from scraper.output.tables import COLUMNS, NUMERIC
from tests.conftest import FIXTURES, PAGES, ROOT, load_expected
from tests.crawlsite import Site
from tests.server import Served

PAGE = "pages/syndication/xiaomi-borgward-seed-shape.html"  # under fixtures/
EXPECTED = load_expected(PAGES / "syndication" / "xiaomi-borgward-seed-shape.expected.json")
FAST = {"delay": 0, "retries": 2, "backoff": 0.05, "max_backoff": 0.2, "batch_size": 8}


def deals_of(deals: tuple[Deal, ...]) -> list[tuple[object, ...]]:
    return sorted((d.acquirer, d.target, d.deal_type, d.status, d.year or 0) for d in deals)


def expected_deals() -> list[tuple[object, ...]]:
    return sorted((d["acquirer"], d["target"], d["deal_type"], d["status"], d["year"] or 0)
                  for d in EXPECTED["deals"])


def capacities_of(capacities: tuple[Capacity, ...]) -> list[tuple[object, ...]]:
    return sorted((c.company, c.units_per_year, c.kind, c.year or 0) for c in capacities)


def expected_capacities() -> list[tuple[object, ...]]:
    return sorted((c["company"], c["units_per_year"], c["kind"], c["year"] or 0)
                  for c in EXPECTED["capacities"])


def assert_expected_facts(result: api.Extraction) -> None:
    assert isinstance(result.article, Article)
    assert result.article.url == EXPECTED["url"]  # the page's canonical URL
    assert result.article.title == EXPECTED["title"]
    assert result.article.published == EXPECTED["published"]
    assert all(isinstance(c, CompanyMention) for c in result.companies)
    assert {c.company for c in result.companies} == set(EXPECTED["companies"])
    assert deals_of(result.deals) == expected_deals()
    assert capacities_of(result.capacities) == expected_capacities()


def test_extract_html_returns_the_article_and_its_facts(
        capsys: pytest.CaptureFixture[str]) -> None:
    html = (FIXTURES / PAGE).read_bytes()
    as_bytes = api.extract_html(html, url="file:///saved/xiaomi.html")
    assert_expected_facts(as_bytes)
    assert as_bytes.article.input == "file:///saved/xiaomi.html"
    # Text is read the same as the page's bytes; no URL at all is allowed too.
    as_text = api.extract_html(html.decode("utf-8"))
    assert as_text.facts == as_bytes.facts
    assert "OPPO Find N3 Flip" not in as_text.article.text  # cleaned as a run cleans
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_extract_html_raises_the_pages_error() -> None:
    with pytest.raises(CleanError) as caught:
        api.extract_html("<html><body><p>Too short to be a story.</p></body></html>",
                         url="https://example.org/x")
    assert (caught.value.stage, caught.value.code) == ("clean", "no_article")
    with pytest.raises(ItemError) as caught:
        api.extract_html(b"%PDF-1.7\n" + b"0" * 200, url="https://example.org/x.pdf")
    assert caught.value.code == "not_html"


def test_unknown_keyword_and_bad_model_are_refused() -> None:
    with pytest.raises(TypeError, match="'max_articels'"):
        api.extract_html("<p>x</p>", max_articels=3)
    with pytest.raises(UsageError, match="no_such_model"):
        api.extract_html((FIXTURES / PAGE).read_bytes(), model="no_such_model")


def test_extract_url_fetches_as_a_run_does(http_server: Served,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    url = f"{http_server.base}/{PAGE}"
    result = api.extract_url(url)
    assert_expected_facts(result)
    assert result.article.input == url
    sent = [headers for _, path, headers in http_server.log if path == f"/{PAGE}"][-1]
    assert sent["User-Agent"].startswith("evnews-scraper/")
    assert any(path == "/robots.txt" for _, path, _ in http_server.log)
    # A page that cannot be fetched raises what failures.csv would record.
    with pytest.raises(ItemError) as caught:
        api.extract_url(f"{http_server.base}/status/404")
    assert (caught.value.stage, caught.value.code) == ("fetch", "http_404")
    # A bad model is refused before any request.
    asked = len(http_server.log)
    with pytest.raises(UsageError):
        api.extract_url(url, model="no_such_model")
    assert len(http_server.log) == asked
    assert capsys.readouterr().out == ""


def test_the_pipeline_is_loaded_once_per_process() -> None:
    html = (FIXTURES / PAGE).read_bytes()
    api.extract_html(html)
    before = load_pipeline.cache_info()
    api.extract_html(html)
    api.extract_html(html)
    after = load_pipeline.cache_info()
    assert after.misses == before.misses and after.hits >= before.hits + 2
    assert api.pipeline(api.settings_of("test", None, {})) is \
        api.pipeline(api.settings_of("test", None, {}))


def test_crawl_takes_the_commands_options_and_returns_the_summary(
        site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    summary = api.crawl(["cnevpost"], base_url=site.base + "/", out_dir=out, **FAST)
    assert isinstance(summary, api.RunSummary)
    assert (summary.discovered, summary.fetched, summary.disallowed) == (24, 23, 1)
    assert summary.failures == []
    assert {a.url.removeprefix(site.base) for a, _ in summary.results} == {
        s.path for s in site.stories if "/2026/11/03/" not in s.path}
    assert (out / "deals.csv").is_file() and (out / "state.sqlite").is_file()
    # A second run: nothing changed, nothing asked again (the articles are older than the
    # revisit policy's month, and their sitemap lastmod did not move); since applies.
    again = api.crawl("cnevpost", base_url=site.base + "/", out_dir=out,
                      since=date(2026, 11, 1), max_articles=2, **FAST)
    assert again.fetched == 0 and again.old > 0 and again.not_modified == 0
    assert again.left_alone == again.discovered - again.old - again.skipped > 0
    # Every article asked again (revisit="all", as the setting's name): max_articles caps.
    every = api.crawl("cnevpost", base_url=site.base + "/", out_dir=out,
                      since=date(2026, 11, 1), max_articles=2, revisit="all", **FAST)
    assert every.fetched == 0 and every.not_modified == 2 and every.capped > 0
    out_text, err_text = capsys.readouterr()
    assert out_text == "" and err_text == ""


def test_crawl_refuses_bad_options_before_any_request(site: Site, tmp_path: Path) -> None:
    base = {"base_url": site.base + "/", "out_dir": tmp_path / "out", **FAST}
    with pytest.raises(UsageError, match="max_articles"):
        api.crawl(["cnevpost"], max_articles=0, **base)
    with pytest.raises(UsageError, match="since"):
        api.crawl(["cnevpost"], since="last tuesday", **base)
    with pytest.raises(UsageError, match="neither a registered site"):
        api.crawl(["no-such-site"], out_dir=tmp_path / "out", **FAST)
    with pytest.raises(UsageError, match="format"):
        api.crawl(["cnevpost"], format="xslx", **base)
    with pytest.raises(TypeError, match="'max_article'"):
        api.crawl(["cnevpost"], max_article=3, **base)
    assert site.requests() == []


def test_crawl_holds_the_state_files_lock(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with CrawlLock(out / "state.sqlite.lock"), pytest.raises(LockedError) as caught:
        api.crawl(["cnevpost"], base_url=site.base + "/", out_dir=out, **FAST)
    assert caught.value.exit_code == 3
    assert site.requests() == []


def test_load_tables_gives_typed_frames(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli_main([str(FIXTURES / PAGE), "--out", str(out), "--quiet"]) == 0
    assert cli_main([str(tmp_path / "missing.html"), "--out", str(out), "--quiet"]) == 1
    tables = api.load_tables(out)
    for table, columns in COLUMNS.items():
        df = getattr(tables, table)
        assert list(df.columns) == list(columns), table
        for column in columns:
            dtype = df[column].dtype
            if column in api.INTEGER_COLUMNS:
                assert dtype == "Int64", (table, column, dtype)
            elif column in NUMERIC:  # a score, not a count
                assert dtype == "Float64", (table, column, dtype)
            elif column in api.TIME_COLUMNS:
                assert isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC", (
                    table, column, dtype)
            else:
                assert pd.api.types.is_string_dtype(dtype), (table, column, dtype)
    deals = tables.deals.set_index("target")
    assert deals.loc["Guangdong Foday", "year"] == 2020
    assert deals.loc["Borgward", "year"] is pd.NA  # empty in the CSV
    assert deals.loc["Borgward", "published"] == pd.Timestamp("2023-08-09T22:30:00+00:00")
    assert list(tables.capacities["units_per_year"]) == [150000, 150000]
    assert tables.companies.set_index("company").loc["Xiaomi", "mentions"] > 1
    assert tables.articles["author"].tolist() == [EXPECTED["author"]]
    assert tables.failures["error"].tolist() == ["not_found"]
    assert tables.failures["at"].notna().all()


def test_load_tables_reads_hand_edited_cells_as_missing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli_main([str(FIXTURES / PAGE), "--out", str(out), "--quiet"]) == 0
    path = out / "capacities.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(",150000,added,2024,", ",n/a,added,2024.5,", 1),
                    encoding="utf-8")
    capacities = api.load_tables(out).capacities
    assert capacities["units_per_year"].isna().sum() == 1
    assert capacities["year"].isna().sum() == 1
    assert capacities["units_per_year"].dtype == "Int64"
    with pytest.raises(FileNotFoundError):
        api.load_tables(tmp_path / "no-such-folder")


def test_the_package_offers_the_api_without_loading_it_at_import() -> None:
    code = ("import sys, scraper\n"
            "assert 'spacy' not in sys.modules and 'pandas' not in sys.modules\n"
            "from scraper import crawl, extract_html, extract_url, load_tables\n"
            "import scraper.api\n"
            "assert extract_html is scraper.api.extract_html\n"
            "assert load_tables is scraper.api.load_tables\n"
            "try:\n"
            "    scraper.no_such_name\n"
            "except AttributeError:\n"
            "    print('ok')\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n"


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "README's Python API section has no python block"
    return found.group(1)


def test_readme_example_runs(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    code = readme_example()
    assert "https://cnevpost.com" in code
    code = code.replace("https://cnevpost.com", site.base)
    assert not re.search(r"https?://(?!127\.0\.0\.1)", code), "the example must stay offline"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCRAPER_CRAWL_DELAY", "0")  # the settings' environment layer
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # the README's own example
    summary = namespace["summary"]
    assert isinstance(summary, api.RunSummary)
    assert summary.fetched > 0 and summary.failures == [] and summary.old > 0
    tables = namespace["tables"]
    assert isinstance(tables, api.Tables)
    assert len(tables.articles) == summary.fetched
    assert tables.capacities["units_per_year"].dtype == "Int64"
    result = namespace["result"]
    assert isinstance(result, api.Extraction)
    assert result.article.url == tables.articles["url"].iloc[0]
    printed = capsys.readouterr().out
    assert printed.startswith("crawl: ") and result.article.title in printed

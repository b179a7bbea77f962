"""The EV-relevance score: its vocabulary both ways, the score of a whole EV article and of
a page that is not about EVs, `--min-relevance` in a real run, and the `relevance` column
read from and added to a table an older version wrote."""

from __future__ import annotations

import csv
import json
from functools import cache
from pathlib import Path

import pytest

from extract.clean import clean
from extract.nlp.facts import extract
from extract.nlp.pipeline import load_pipeline
from extract.nlp.relevance import EV_WORDS, THRESHOLD, Evidence, gather, score, words
from extract.records import Article, CompanyMention, Facts
from scraper.app.run import RunSummary
from scraper.core.errors import UsageError
from scraper.core.settings import load_settings
from scraper.fetch.fetcher import fetch_page
from scraper.output.formats import publish
from scraper.output.store import export
from scraper.output.tables import COLUMNS, read_table
from tests.conftest import PAGES, run_cli

EV_PAGE = PAGES / "generic" / "tesla-gruenheide-expansion.html"
OTHER_PAGE = PAGES / "generic" / "riverside-library-reopens.html"

# What the vocabulary must count as EV words, and what it must not (a phone's battery, a
# team called the Chargers, a hybrid that is only a word).
EV_EXAMPLES = ("electric vehicles", "an electric-vehicle maker", "all-electric", "EVs",
               "battery cells", "a battery plant", "charging network", "fast-charging",
               "new energy vehicles", "plug-in hybrids", "PHEV", "35 GWh", "gigafactory",
               "an electric 4-door coupe", "lithium mining")
NOT_EV = ("battery life", "a charger in the box", "the Chargers won", "ev", "Eve",
          "electric guitar", "electricity prices", "charging the phone", "a hybrid model",
          "lithium", "DEVs", "EVENT")


@cache
def nlp():
    return load_pipeline("en_core_web_sm")


def facts_of(path: Path) -> Facts:
    from scraper.core.settings import Settings
    from scraper.sites import profile_for

    article = clean(fetch_page(str(path), Settings()),
                    resolve=lambda url: profile_for(url).clean)
    return extract(nlp(), article)


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("text", EV_EXAMPLES)
def test_ev_words_are_counted(text: str) -> None:
    assert EV_WORDS.search(text), text


@pytest.mark.parametrize("text", NOT_EV)
def test_other_words_are_not(text: str) -> None:
    assert not EV_WORDS.search(text), text


def test_a_word_list_refuses_an_empty_alternative() -> None:
    with pytest.raises(ValueError):
        words("battery", "")
    with pytest.raises(ValueError):
        words()


def test_score_is_bounded_rounded_and_grows_with_evidence() -> None:
    none = Evidence(0, 0, 200, 0.0, 0, 0, 0, 0)
    some = Evidence(0, 2, 200, 1.0, 3, 2, 0, 0)
    much = Evidence(3, 20, 200, 6.0, 30, 20, 5, 5)
    assert score(none) == 0.0
    assert 0.0 < score(some) < score(much) <= 1.0
    assert all(round(s, 2) == s for s in (score(none), score(some), score(much)))
    # A headline's EV word alone reaches about half; a company alone does not.
    assert score(Evidence(1, 0, 200, 0.0, 0, 0, 0, 0)) == 0.5
    assert score(gather("", "Toyota said so. " * 20, [(0, "Toyota", "carmaker")], 0)) < 0.5


def test_production_news_of_known_companies_counts_without_ev_words() -> None:
    text = ("Hyundai Motor India has finalised its purchase of the Talegaon plant of General "
            "Motors, which will raise its production capacity to one million units a year.")
    known = [(0, "Hyundai", "carmaker"), (text.index("General"), "General Motors", "carmaker")]
    assert score(gather("", text, known, facts=1)) >= THRESHOLD
    assert score(gather("", text, known, facts=0, other_facts=1)) < score(
        gather("", text, known, facts=1))


def test_ev_article_scores_high_and_other_page_low() -> None:
    ev, other = facts_of(EV_PAGE), facts_of(OTHER_PAGE)
    assert ev.relevance is not None and ev.relevance >= 0.8
    assert other.relevance is not None and other.relevance <= 0.1
    # The library page's one EV headline is in its sidebar, which the cleaner drops.
    assert other.companies == ()


def test_min_relevance_skips_the_page_about_something_else(tmp_path: Path) -> None:
    first = run_cli(str(EV_PAGE), str(OTHER_PAGE), "--out", str(tmp_path), "--delay", "0")
    assert first.code == 0, first.stderr
    rows = read(tmp_path / "articles.csv")
    assert [r["title"] for r in rows] == [
        "Tesla files plans to double Grünheide output to 1 million cars a year",
        "Riverside library reopens eight months after the flood"]
    assert list(rows[0])[-1] == "relevance"
    assert float(rows[0]["relevance"]) >= 0.8 and float(rows[1]["relevance"]) <= 0.1
    assert "irrelevant" not in first.stderr

    again = run_cli(str(EV_PAGE), str(OTHER_PAGE), "--out", str(tmp_path), "--delay", "0",
                    "--min-relevance", "0.5")
    assert again.code == 0, again.stderr
    assert "Riverside library reopens eight months after the flood: irrelevant" in again.stderr
    summary = again.stderr.strip().splitlines()[-1]
    assert summary.startswith("done: 1 articles, ") and ", 0 failed, 1 irrelevant, " in summary
    # Read again and found below the cut: its row of the first run is gone too.
    rows = read(tmp_path / "articles.csv")
    assert [r["title"] for r in rows] == [
        "Tesla files plans to double Grünheide output to 1 million cars a year"]
    kept = {rows[0]["article_id"]}
    for table in ("companies", "deals", "capacities"):
        assert {r["article_id"] for r in read(tmp_path / f"{table}.csv")} <= kept
    assert read(tmp_path / "failures.csv") == []


@pytest.mark.parametrize("value", ["1.5", "-0.1", "abc", "nan"])
def test_bad_min_relevance_is_bad_usage(tmp_path: Path, value: str) -> None:
    result = run_cli(str(EV_PAGE), "--out", str(tmp_path), f"--min-relevance={value}")
    assert result.code == 2
    assert "min_relevance" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "articles.csv").exists()


def test_min_relevance_from_the_environment_is_checked_too() -> None:
    assert load_settings({}, env={"SCRAPER_MIN_RELEVANCE": "0.5"}).min_relevance == 0.5
    assert load_settings({}, env={}).min_relevance == 0.0
    with pytest.raises(UsageError, match="min_relevance"):
        load_settings({}, env={"SCRAPER_MIN_RELEVANCE": "2"})


def test_summary_lines_count_irrelevant_articles_only_when_there_are_some() -> None:
    assert "irrelevant" not in RunSummary().oneoff_line()
    assert "irrelevant" not in RunSummary().crawl_line()
    assert ", 0 failed, 2 irrelevant, 0.0s" in RunSummary(irrelevant=2).oneoff_line()
    assert "new facts, 2 irrelevant, 0 revisited" in RunSummary(irrelevant=2).crawl_line()


def article(url: str, title: str) -> Article:
    return Article(url=url, input=url, site="Example", title=title, author="",
                   published="2024-01-02T00:00:00+00:00", source_credit="",
                   paragraphs=("Body text.",), fetched_at="2024-01-03T00:00:00+00:00")


def test_old_articles_table_without_the_column_is_read_and_rewritten_with_it(
        tmp_path: Path) -> None:
    old_columns = [c for c in COLUMNS["articles"] if c != "relevance"]
    assert COLUMNS["articles"][-1] == "relevance" and len(old_columns) == 12
    with (tmp_path / "articles.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(old_columns)
        writer.writerow(["0123456789ab", "https://old.example/1", "https://old.example/1",
                         "Old", "An old story", "", "2023-01-01T00:00:00+00:00", "", "2",
                         "2023-01-02T00:00:00+00:00", "Old text.", ""])
    table = read_table(tmp_path / "articles.csv", "articles")
    assert list(table.columns) == list(COLUMNS["articles"])
    assert table.loc[0, "title"] == "An old story" and table.loc[0, "relevance"] == ""

    facts = Facts(companies=(CompanyMention("Nio", 1, ("Nio",)),), deals=(), capacities=(),
                  relevance=0.8)
    export(tmp_path, [(article("https://new.example/2", "A new story"), facts)])
    lines = (tmp_path / "articles.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(COLUMNS["articles"])
    rows = read(tmp_path / "articles.csv")
    assert [(r["title"], r["relevance"]) for r in rows] == [("An old story", ""),
                                                             ("A new story", "0.80")]
    # The other formats give it as a number (none where it is empty).
    publish(tmp_path, "jsonl", False)
    records = [json.loads(line) for line in
               (tmp_path / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["relevance"] for r in records] == [None, 0.8]

"""The cleaner on every fixture page: story sentences kept, chrome strings gone (both ways,
as trafilatura's evaluation does), metadata right."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract.clean import clean
from scraper.core.settings import Settings
from scraper.fetch.fetcher import fetch_page as fetch
from scraper.sites import profile_for
from tests.conftest import expected_pages, html_of, load_expected

PAGES = expected_pages()
CHROME_KINDS = ("teaser_cards", "compare_widget", "subscription_box", "share_bar",
                "most_read", "comments", "image_credit", "feed_footer")


def squash(text: str) -> str:
    return " ".join(text.split())


def cleaned(expected: Path):
    page = fetch(str(html_of(expected)), Settings())
    return clean(page, resolve=lambda url: profile_for(url).clean)


def test_there_are_enough_fixture_pages() -> None:
    assert len(PAGES) >= 6
    kinds: dict[str, int] = {}
    for path in PAGES:
        for kind in load_expected(path).get("chrome", []):
            kinds[kind] = kinds.get(kind, 0) + 1
    # Every kind of chrome in at least two different markups.
    assert {k: kinds.get(k, 0) for k in CHROME_KINDS if kinds.get(k, 0) < 2} == {}


@pytest.mark.parametrize("expected", PAGES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_story_kept_and_chrome_gone(expected: Path) -> None:
    want = load_expected(expected)
    article = cleaned(expected)
    text = squash(article.text)
    missing = [s for s in want["must_keep"] if squash(s) not in text]
    assert missing == []
    everything = " ".join((text, article.title, article.source_credit))
    leaked = [s for s in want["must_not_contain"] if s in everything]
    assert leaked == []


@pytest.mark.parametrize("expected", PAGES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_metadata(expected: Path) -> None:
    want = load_expected(expected)
    article = cleaned(expected)
    got = {k: getattr(article, k) for k in ("url", "title", "author", "published",
                                            "source_credit")}
    assert got == {k: want.get(k) or "" for k in got}

"""Every registered site has fixtures, and its profile claims their URLs."""

from __future__ import annotations

import pytest

from scraper.sites import GENERIC, REGISTRY, profile_for
from tests.conftest import PAGES, load_expected


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_site_has_a_fixture(name: str) -> None:
    pages = sorted((PAGES / name).glob("*.expected.json"))
    assert pages, f"site {name} has no fixture page in fixtures/pages/{name}/"
    for page in pages:
        url = load_expected(page)["url"]
        assert profile_for(url) is REGISTRY[name]
        assert REGISTRY[name].is_article(url)


def test_unknown_sites_use_the_generic_profile() -> None:
    assert profile_for("https://news.example.org/2024/01/02/story/") is GENERIC
    assert profile_for("https://www.cnevpost.com/2024/01/02/story/") is REGISTRY["cnevpost"]

"""The scheduled crawl against a real fixture site on loopback addresses (tests/crawlsite.py).

Each test gets its own site and output folder; settings make delays and backoff tiny so
the suite stays fast, except where a test is about time (Retry-After).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from scraper.app.cli import main as cli_main
from tests.crawlsite import DISALLOWED_DAY, Site, serve_site

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


def main(argv: list[str]) -> int:
    """`python -m scraper crawl ARGV`, in this process."""
    return cli_main(["crawl", *argv])

FAST = """\
crawl_delay = 0.0
backoff = 0.05
max_backoff = 0.2
retries = 2
host_budget = 4
batch_size = 8
"""


def rows(out: Path, table: str) -> list[dict[str, str]]:
    path = out / f"{table}.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def tables(out: Path) -> dict[str, bytes]:
    return {name: (out / f"{name}.csv").read_bytes()
            for name in ("articles", "companies", "deals", "capacities")}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "fast.toml"
    path.write_text(FAST)
    return path


def crawl(site: Site, out: Path, config: Path, *extra: str) -> int:
    return main(["cnevpost", "--base-url", site.base + "/", "--out", str(out),
                 "--config", str(config), *extra])


def allowed_paths(site: Site) -> set[str]:
    return {s.path for s in site.stories if DISALLOWED_DAY not in s.path}


def test_first_run_collects_every_allowed_article(site: Site, tmp_path: Path, config: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert crawl(site, out, config) == EXIT_OK
    urls = {r["url"].removeprefix(site.base) for r in rows(out, "articles")}
    assert urls == allowed_paths(site) and len(urls) >= 20
    assert {r["company"] for r in rows(out, "capacities")} >= {"Nio", "XPeng", "BYD"}
    assert any(d["acquirer"] == "Li Auto" and d["target"] == "Lifan"
               for d in rows(out, "deals"))
    assert rows(out, "failures") == []
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith("crawl: 24 discovered (0 too old), 23 fetched, 0 not modified, "
                              "0 failed, ") and "new facts" in summary
    # The one article robots.txt disallows is counted, not failed.
    assert ", 1 disallowed by robots.txt, " in summary
    # Politeness: one User-Agent with a contact URL; nothing off-site was asked for.
    agents = {h.get("User-Agent") for _, _, h, _ in site.requests()}
    assert len(agents) == 1 and "(+http" in agents.pop()


def test_disallowed_paths_are_never_requested(site: Site, tmp_path: Path,
                                              config: Path) -> None:
    assert crawl(site, tmp_path / "out", config) == EXIT_OK
    assert site.requests("/robots.txt")
    assert not site.requests(f"/{DISALLOWED_DAY}/")


def test_second_run_is_conditional_and_adds_nothing(site: Site, tmp_path: Path,
                                                    config: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert crawl(site, out, config) == EXIT_OK
    before, first = tables(out), len(site.requests())
    capsys.readouterr()
    assert crawl(site, out, config) == EXIT_OK
    second = site.log[first:]
    assert second, "the second run asked nothing"
    for _, path, headers, status in second:
        assert "If-None-Match" in headers or "If-Modified-Since" in headers, path
        assert status == 304, path
    assert tables(out) == before
    # Every article was fetched moments ago and no lastmod moved: none is due again.
    assert (", 0 fetched, 0 not modified, 0 failed, 0 new facts, 0 revisited, "
            "23 left alone, ") in capsys.readouterr().err


def test_changed_article_is_extracted_again_and_replaced(site: Site, tmp_path: Path,
                                                         config: Path) -> None:
    out = tmp_path / "out"
    assert crawl(site, out, config) == EXIT_OK
    changed = site.newest()[0]
    site.extra[changed.path] = ("XPeng also agreed to buy the Guangzhou plant of Didi, "
                                "the company said in a filing on Friday.")
    count = len(rows(out, "articles"))
    assert crawl(site, out, config) == EXIT_OK
    articles = rows(out, "articles")
    assert len(articles) == count
    mine = [a for a in articles if a["url"].endswith(changed.path)]
    assert len(mine) == 1 and "filing on Friday" in mine[0]["text"]
    ids = [r["article_id"] for r in rows(out, "companies")]
    companies = [r["company"] for r in rows(out, "companies")
                 if r["article_id"] == mine[0]["article_id"]]
    assert len(companies) == len(set(companies)) and "XPeng" in companies
    assert len(ids) == len(set(zip(ids, (r["company"] for r in rows(out, "companies")),
                                   strict=True)))


def test_since_skips_old_items_without_downloading_them(site: Site, tmp_path: Path,
                                                        config: Path) -> None:
    out = tmp_path / "out"
    assert crawl(site, out, config, "--since", "2026-11-01") == EXIT_OK
    old = [s.path for s in site.stories if s.published.month == 10]
    new = allowed_paths(site) - set(old)
    assert old and new
    asked = {path for _, path, _, _ in site.requests("/2026/")}
    assert asked == new
    assert {r["url"].removeprefix(site.base) for r in rows(out, "articles")} == new


def test_retry_after_is_honoured(site: Site, tmp_path: Path, config: Path) -> None:
    target = site.newest()[0].path
    site.faults[target] = [(429, {"Retry-After": "2"})]
    assert crawl(site, tmp_path / "out", config) == EXIT_OK
    times = [t for t, path, _, _ in site.requests(target)]
    assert len(times) == 2
    assert 1.95 <= times[1] - times[0] < 4.0
    assert any(r["url"].endswith(target) for r in rows(tmp_path / "out", "articles"))


def test_a_host_that_always_answers_503_is_given_up(site: Site, tmp_path: Path,
                                                     config: Path) -> None:
    with serve_site("127.0.0.2") as down:
        down.always = 503
        out = tmp_path / "out"
        code = main([f"{site.base}/feed/", f"{down.base}/feed/", "--out", str(out),
                     "--config", str(config)])
    assert code == EXIT_FAILURES
    # The healthy host is crawled in full (its feed, and the sitemaps its robots.txt lists).
    assert {r["url"].removeprefix(site.base) for r in rows(out, "articles")} == \
        allowed_paths(site)
    failures = rows(out, "failures")
    assert failures and all("127.0.0.2" in f["url"] for f in failures)
    # retries + 1 answers for robots.txt, then nothing more: the budget is spent.
    assert len(down.requests()) <= 4


def test_generic_profile_from_a_homepage(site: Site, tmp_path: Path, config: Path) -> None:
    out = tmp_path / "out"
    assert main([site.base + "/", "--out", str(out), "--config", str(config)]) == EXIT_OK
    urls = {r["url"].removeprefix(site.base) for r in rows(out, "articles")}
    # The homepage's links, its <link rel=alternate> feed and robots.txt's sitemaps.
    assert urls == allowed_paths(site)
    assert site.requests("/feed/") and site.requests("/sitemap_index.xml")


def test_off_site_redirect_is_recorded_not_followed(site: Site, tmp_path: Path,
                                                    config: Path) -> None:
    target = site.newest()[1].path
    site.faults[target] = [(301, {"Location": "https://elsewhere.example/moved/"})]
    out = tmp_path / "out"
    assert crawl(site, out, config) == EXIT_FAILURES
    failure, = rows(out, "failures")
    assert failure["error"] == "offsite_redirect" and "elsewhere.example" in failure["message"]
    site.faults[target] = [(301, {"Location": "https://elsewhere.example/moved/"})]
    assert crawl(site, out, config) == EXIT_OK  # recorded once, not asked again
    assert len(rows(out, "failures")) == 1 and len(site.requests(target)) == 1


def test_not_found_is_recorded_once(site: Site, tmp_path: Path, config: Path) -> None:
    gone = site.newest()[2]
    site.stories.remove(gone)
    feed = site.feed
    site.feed = lambda: feed().replace("</channel>", f"<item><link>{site.base}{gone.path}"
                                       "</link></item></channel>")  # type: ignore[method-assign]
    out = tmp_path / "out"
    assert crawl(site, out, config) == EXIT_FAILURES
    assert crawl(site, out, config) == EXIT_OK
    assert [f["error"] for f in rows(out, "failures")] == ["http_404"]
    assert len(site.requests(gone.path)) == 1


def test_max_articles_takes_the_newest(site: Site, tmp_path: Path, config: Path) -> None:
    out = tmp_path / "out"
    assert crawl(site, out, config, "--max-articles", "5") == EXIT_OK
    newest = [s.path for s in site.newest() if DISALLOWED_DAY not in s.path][:5]
    assert {r["url"].removeprefix(site.base) for r in rows(out, "articles")} == set(newest)


def test_bad_usage_exits_2(site: Site, tmp_path: Path, config: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-site", "--out", str(tmp_path)]) == EXIT_USAGE
    assert "neither a registered site" in capsys.readouterr().err
    assert main(["cnevpost", "--since", "last week", "--out", str(tmp_path)]) == EXIT_USAGE
    assert crawl(site, tmp_path / "out", config, "--model", "no_such_model") == EXIT_USAGE
    assert "cannot load the spaCy model" in capsys.readouterr().err


def test_url_variants_are_fetched_once(site: Site, tmp_path: Path, config: Path) -> None:
    story = site.newest()[3]
    feed = site.feed
    variant = site.base.replace("http://", "HTTP://") + story.path + "?utm_source=rss#more"
    site.feed = lambda: feed().replace(  # type: ignore[method-assign]
        "</channel>", f"<item><link>{variant}</link></item></channel>")
    out = tmp_path / "out"
    assert crawl(site, out, config) == EXIT_OK
    assert len(site.requests(story.path)) == 1
    assert sum(r["url"].endswith(story.path) for r in rows(out, "articles")) == 1

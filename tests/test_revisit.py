"""The revisit policy: a crawl asks an article it extracted before only when it may have
changed (by its age, or a newer sitemap `lastmod`), against a real fixture site on loopback
(tests/crawlsite.py) whose articles are dated back from now. Time is simulated through the
state's recorded fetch times, never by sleeping."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scraper.core.errors import UsageError
from scraper.core.settings import load_settings
from scraper.fetch.state import History, Revisit
from tests.crawlsite import Site, recent_site, serve_site
from tests.test_crawl import EXIT_OK, EXIT_USAGE, FAST, main

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
NEW_COLUMNS = ("fetched", "lastmod", "fetched_lastmod")


def history(age_days: float, idle_days: float, state: str = "done",
            lastmod: datetime | None = None, at_fetch: datetime | None = None) -> History:
    """An article published `age_days` ago and last fetched `idle_days` ago."""
    born = NOW - timedelta(days=age_days)
    return History(state=state, published=born, first_seen=born,
                   fetched=NOW - timedelta(days=idle_days), lastmod=lastmod or born,
                   fetched_lastmod=at_fetch or born)


@pytest.mark.parametrize(("age", "idle", "due"), [
    (0.5, 0.9, False), (0.5, 1.0, True),  # first week: daily
    (6.9, 0.99, False), (6.9, 1.01, True),
    (7.0, 1.5, False), (7.0, 6.9, False), (7.0, 7.0, True),  # first month: weekly
    (29.9, 6.9, False), (29.9, 7.1, True),
    (30.0, 7.1, False), (400, 300, False),  # then never, unless lastmod moves
])
def test_the_schedule_by_age(age: float, idle: float, due: bool) -> None:
    assert Revisit().due(history(age, idle), NOW) is due
    assert Revisit(everything=True).due(history(age, idle), NOW)


def test_a_newer_lastmod_unknown_or_unfinished_urls_are_always_due() -> None:
    policy = Revisit()
    old = history(400, 0.01)
    moved = history(400, 0.01, lastmod=NOW - timedelta(hours=1),
                    at_fetch=NOW - timedelta(days=400))
    assert not policy.due(old, NOW) and policy.due(moved, NOW)
    assert policy.due(None, NOW)  # never seen
    for state in ("seen", "failed"):  # never fetched, or failed last time
        assert policy.due(history(400, 0.01, state=state), NOW)
    # The age counts from the earlier of published and first seen: a sitemap that gives
    # only lastmod (edited yesterday) does not make a years-old article young again.
    edited = History("done", NOW - timedelta(days=1), NOW - timedelta(days=400),
                     NOW - timedelta(hours=2), NOW - timedelta(days=1),
                     NOW - timedelta(days=1))
    assert not policy.due(edited, NOW)
    # Settings move the tiers: a 60-day-old article is weekly when the month is 90 days.
    assert Revisit(weekly_days=90).due(history(60, 8), NOW)
    assert not Revisit(daily_days=0, weekly_days=0).due(history(0.5, 3), NOW)


@pytest.mark.parametrize("config", [
    'revisit = "sometimes"', "revisit_daily_days = -1", "revisit_weekly_days = 40000",
    'revisit_weekly_days = "a month"'])
def test_bad_revisit_settings_are_refused(tmp_path: Path, config: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(config + "\n")
    with pytest.raises(UsageError, match="revisit"):
        load_settings(config_path=path, env={})
    assert main(["cnevpost", "--out", str(tmp_path / "out"), "--config", str(path)]) \
        == EXIT_USAGE
    assert not (tmp_path / "out").exists()


def test_revisit_defaults_and_the_flag(tmp_path: Path) -> None:
    settings = load_settings(env={})
    assert (settings.revisit, settings.revisit_daily_days,
            settings.revisit_weekly_days) == ("due", 7.0, 30.0)
    assert load_settings({"revisit": "all"}, env={}).revisit == "all"
    with pytest.raises(SystemExit) as exc:
        main(["cnevpost", "--revisit", "sometimes", "--out", str(tmp_path)])
    assert exc.value.code == EXIT_USAGE


# --------------------------------------------------------------------------- crawls
@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "fast.toml"
    path.write_text(FAST)
    return path


def crawl(site: Site, out: Path, config: Path, capsys: pytest.CaptureFixture[str],
          *extra: str) -> tuple[int, str]:
    """One crawl: (requests it sent, its summary line)."""
    before = len(site.requests())
    capsys.readouterr()
    assert main(["cnevpost", "--base-url", site.base + "/", "--out", str(out),
                 "--config", str(config), *extra]) == EXIT_OK
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("crawl: ")
    return len(site.requests()) - before, line


def articles_asked(site: Site, since: int) -> set[str]:
    paths = {s.path for s in site.stories}
    return {path for _, path, _, _ in site.log[since:] if path in paths}


def shift_fetched(state: Path, days: float) -> None:
    """As if every article's last fetch had happened `days` earlier."""
    with closing(sqlite3.connect(state)) as db, db:
        rows = db.execute("SELECT key, fetched FROM urls WHERE kind = 'article' "
                          "AND fetched IS NOT NULL").fetchall()
        assert rows
        db.executemany("UPDATE urls SET fetched = ? WHERE key = ?",
                       [((datetime.fromisoformat(when) - timedelta(days=days)).isoformat(),
                         key) for key, when in rows])


def test_a_rerun_with_nothing_new_sends_at_most_5_percent(
        tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """300 articles in sitemaps, 6 hours apart (75 days): the rerun asks only the feed,
    the sitemaps and the first listing page; `--revisit all` asks all 300 again."""
    with serve_site(site=recent_site(300, per_sitemap=100)) as site:
        out = tmp_path / "out"
        first, line = crawl(site, out, config, capsys)
        assert first >= 300 and ", 300 fetched, " in line and ", 0 left alone, " in line
        rerun, line = crawl(site, out, config, capsys)
        with capsys.disabled():
            print(f"\nrerun with nothing new: {rerun} requests (first run {first})")
        assert rerun <= 0.05 * first
        assert ", 0 fetched, 0 not modified, 0 failed, 0 new facts, 0 revisited, " \
               "300 left alone, " in line
        mark = len(site.log)
        everything, line = crawl(site, out, config, capsys, "--revisit", "all")
        assert len(articles_asked(site, mark)) == 300 and rerun <= 0.05 * everything
        assert ", 0 fetched, 300 not modified, " in line and ", 300 revisited, 0 left alone" \
            in line


def test_an_article_whose_lastmod_moves_is_asked_again(
        tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Old articles are never asked again on age alone; a sitemap lastmod that moves (an
    edit, or a touch without one) brings the article back, once."""
    with serve_site(site=recent_site(40, spacing=timedelta(days=2), per_sitemap=25)) as site:
        out = tmp_path / "out"
        crawl(site, out, config, capsys)
        old = site.newest()
        touched, edited = old[30].path, old[35].path  # 60 and 70 days old
        site.touched[touched] = datetime.now(UTC).replace(microsecond=0)
        site.extra[edited] = "Nio also said it will open a third plant in Hefei in 2028."
        mark = len(site.log)
        _, line = crawl(site, out, config, capsys)
        assert articles_asked(site, mark) == {touched, edited}
        assert ", 1 fetched, 1 not modified, " in line and ", 2 revisited, 38 left alone, " \
            in line
        text = {r["url"].removeprefix(site.base): r["text"] for r in read_articles(out)}
        assert "third plant in Hefei" in text[edited]
        mark = len(site.log)
        _, line = crawl(site, out, config, capsys)  # asked once per change, not again
        assert articles_asked(site, mark) == set() and ", 40 left alone, " in line


def test_young_articles_are_asked_daily_then_weekly(
        tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Articles 1 h to 39 days old, one a day: after two days without a crawl only the
    first week's are due; after eight days, the first month's too; never the older."""
    with serve_site(site=recent_site(40, spacing=timedelta(days=1), per_sitemap=50)) as site:
        out = tmp_path / "out"
        crawl(site, out, config, capsys)
        ages = {s.path: (datetime.now(UTC) - s.published).days for s in site.stories}
        week = {p for p, age in ages.items() if age < 7}
        month = {p for p, age in ages.items() if age < 30}
        assert len(week) == 7 and len(month) == 30
        shift_fetched(out / "state.sqlite", 2)
        mark = len(site.log)
        _, line = crawl(site, out, config, capsys)
        assert articles_asked(site, mark) == week
        assert ", 7 revisited, 33 left alone, " in line
        shift_fetched(out / "state.sqlite", 8)
        mark = len(site.log)
        _, line = crawl(site, out, config, capsys)
        assert articles_asked(site, mark) == month
        assert ", 30 revisited, 10 left alone, " in line


def test_an_old_state_file_is_migrated_in_place(
        tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A state.sqlite written before the revisit columns existed: the next crawl adds
    them, takes its articles as fetched when last seen, and leaves them alone."""
    with serve_site(site=recent_site(30, spacing=timedelta(days=2), per_sitemap=50)) as site:
        out = tmp_path / "out"
        crawl(site, out, config, capsys)
        path = out / "state.sqlite"
        with closing(sqlite3.connect(path)) as db, db:
            for column in NEW_COLUMNS:
                db.execute(f"ALTER TABLE urls DROP COLUMN {column}")
        assert not set(NEW_COLUMNS) & columns(path)
        mark = len(site.log)
        _, line = crawl(site, out, config, capsys)
        assert set(NEW_COLUMNS) <= columns(path)
        assert articles_asked(site, mark) == set() and ", 30 left alone, " in line
        with closing(sqlite3.connect(path)) as db:
            unfetched = db.execute("SELECT COUNT(*) FROM urls WHERE kind = 'article' AND "
                                   "state = 'done' AND fetched IS NULL").fetchone()[0]
        assert unfetched == 0


def columns(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as db:
        return {row[1] for row in db.execute("PRAGMA table_info(urls)")}


def read_articles(out: Path) -> list[dict[str, str]]:
    import csv

    with (out / "articles.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))

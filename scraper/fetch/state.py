"""The crawl's memory between runs: one SQLite file (default output/state.sqlite).

One row per URL ever seen, keyed by its normalised form (`scraper.fetch.urls.url_key`): what it
is, the last answer, the validators for a conditional GET, the hash of the body that was
extracted, and when it was first and last seen. Discovery documents (feeds, sitemaps,
listing pages) also keep their last body, so a 304 can be read again.

An article is marked `done` only after its rows are in the tables, so a run killed in
between fetches it again next time instead of trusting a validator for rows never written.

A damaged state file (not a database, or malformed: overwritten, cut short) never stops a
run: it is moved aside as `state.sqlite.damaged-<UTC time>` with its -wal and -shm files,
and a new one is rebuilt from articles.csv, every article `done` with error 'rebuilt' and
no validators (see `State.rebuilt`).

An extracted article is asked again only when the revisit policy (`Revisit`) says it is
due: by its age, and whenever discovery reports a newer `lastmod` than the one recorded
at its last fetch. A state file written before these columns existed is migrated in place
(`MIGRATIONS`): its answered articles count as fetched when last seen, since every run
then asked every article.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from extract.records import Page
from scraper.core.files import Notice, move_aside, say, sqlite_problem
from scraper.core.records import now_utc
from scraper.fetch.urls import url_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
    key TEXT PRIMARY KEY,      -- normalised URL
    url TEXT NOT NULL,         -- as requested
    kind TEXT NOT NULL,        -- article | feed | sitemap | listing
    state TEXT NOT NULL,       -- seen | done | gone | failed
    status INTEGER,            -- last HTTP status, NULL before any answer
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT,
    canonical TEXT,            -- the article's canonical URL (its rows' url)
    published TEXT,            -- ISO 8601 from the feed, sitemap or page
    error TEXT,
    body BLOB,                 -- discovery documents only
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    fetched TEXT,              -- the last answer (200 or 304): the revisit schedule's clock
    lastmod TEXT,              -- the newest change time discovery gave (sitemap lastmod)
    fetched_lastmod TEXT       -- lastmod as it was at the last answer
);
CREATE INDEX IF NOT EXISTS urls_canonical ON urls (canonical);
"""
# Columns added since the first state files, with what an old row gets: (column, backfill).
# Before the revisit policy every run asked every article, so last_seen was its last fetch.
MIGRATIONS = (
    ("fetched", "UPDATE urls SET fetched = last_seen WHERE status IS NOT NULL "
                "OR error = 'rebuilt'"),
    ("lastmod", ""),
    ("fetched_lastmod", ""),
)
# States that end a URL's story: extracted, or an answer that will not change (404, PDF).
FINAL = ("done", "gone")
# The error of a row rebuilt from articles.csv after the state file was damaged.
REBUILT = "rebuilt"
# What SQLite calls a damaged file: "database disk image is malformed", "file is not a
# database". Any other error (locked, unwritable folder) is not ours to repair.
DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


class Corrupt(sqlite3.DatabaseError):
    """The file's check found it damaged (`scraper.core.files.sqlite_problem`)."""


def connect(path: Path) -> sqlite3.Connection:
    """Open (or create) the state file and check that it is whole."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        # WAL: readers never block, and a kill -9 leaves the last commit intact.
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        migrate(db)
        problem = sqlite_problem(db, path) if str(path) != ":memory:" else None
        if problem is not None:
            raise Corrupt(problem)
    except BaseException:
        db.close()
        raise
    return db


def migrate(db: sqlite3.Connection) -> None:
    """Add the columns an older state file lacks, in one transaction."""
    have = {row[1] for row in db.execute("PRAGMA table_info(urls)")}
    missing = [(column, backfill) for column, backfill in MIGRATIONS if column not in have]
    if not missing:
        return
    with db:
        db.execute("BEGIN IMMEDIATE")
        for column, backfill in missing:
            db.execute(f"ALTER TABLE urls ADD COLUMN {column} TEXT")
            if backfill:
                db.execute(backfill)


def damaged(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, Corrupt) or (code is not None and (code & 0xFF) in DAMAGED)


@dataclass(frozen=True)
class Known:
    """What the state remembers about one URL."""

    key: str
    url: str
    kind: str
    state: str
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    body: bytes | None

    def conditional_headers(self) -> dict[str, str]:
        """If-None-Match / If-Modified-Since from the validators the server gave."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def parse_time(text: str | None) -> datetime | None:
    """A time the state wrote (ISO 8601) as aware UTC; None when empty or unreadable."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


@dataclass(frozen=True)
class History:
    """What the revisit policy reads of one article: its state, dates and change times."""

    state: str
    published: datetime | None
    first_seen: datetime | None
    fetched: datetime | None
    lastmod: datetime | None
    fetched_lastmod: datetime | None

    def born(self) -> datetime | None:
        """The article's age is counted from here: its published date, but never after it
        was first seen (a sitemap giving only `lastmod` moves that date on each edit)."""
        dates = [d for d in (self.published, self.first_seen) if d is not None]
        return min(dates) if dates else None

    def changed(self) -> bool:
        """Discovery reports a change time newer than the one known at the last fetch (or,
        when none was known then, newer than the fetch itself)."""
        if self.lastmod is None:
            return False
        since = self.fetched_lastmod or self.fetched
        return since is None or self.lastmod > since


@dataclass(frozen=True)
class Revisit:
    """When an extracted article is asked again: every day while younger than
    `daily_days`, every week while younger than `weekly_days`, then only when discovery
    reports a newer `lastmod`. `everything`: every run asks every article (--revisit all)."""

    daily_days: float = 7.0
    weekly_days: float = 30.0
    everything: bool = False

    def due(self, history: History | None, now: datetime) -> bool:
        """Ask this URL now? Never fetched, failed, or unknown: always."""
        if self.everything or history is None or history.state != "done":
            return True
        if history.fetched is None or history.changed():
            return True
        born = history.born() or history.fetched
        age, idle = now - born, now - history.fetched
        if age < timedelta(days=self.daily_days):
            return idle >= timedelta(days=1)
        if age < timedelta(days=self.weekly_days):
            return idle >= timedelta(days=7)
        return False


def header_map(page: Page) -> dict[str, str]:
    """A page's headers by lower-case name (the last one wins)."""
    return {key.lower(): value for key, value in page.headers}


def content_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class State:
    """The SQLite state file. Every write is its own committed transaction."""

    def __init__(self, path: Path, tables: Path | None = None,
                 notice: Notice | None = None) -> None:
        """Open the state at `path`. A damaged file is moved aside and rebuilt from the
        articles.csv in `tables` (default: the state file's folder); `notice` gets one line
        saying so."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = connect(path)
        except sqlite3.DatabaseError as exc:
            if not damaged(exc):
                raise
            aside = move_aside(path, ("-wal", "-shm", "-journal"))
            self.db = connect(path)
            count = self.rebuild((tables or path.parent) / "articles.csv")
            say(notice, f"{path.name} is damaged ({exc}): moved aside as {aside.name}; a new "
                        f"one was rebuilt from articles.csv ({count} articles marked done)")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, key: str) -> Known | None:
        row = self.db.execute(
            "SELECT key, url, kind, state, etag, last_modified, content_hash, body "
            "FROM urls WHERE key = ?", (key,)).fetchone()
        return Known(*row) if row else None

    def is_final(self, key: str) -> bool:
        """Extracted already (or permanently failed): known to listing pagination."""
        row = self.db.execute("SELECT state FROM urls WHERE key = ?", (key,)).fetchone()
        return bool(row) and row[0] in FINAL

    def seen(self, key: str, url: str, kind: str, published: str = "",
             lastmod: str = "") -> None:
        """Record that discovery found `url` (keeps everything already known about it),
        with the change time (`lastmod`) it gave, if any."""
        now = now_utc()
        self.db.execute(
            "INSERT INTO urls (key, url, kind, state, published, lastmod, first_seen, "
            "last_seen) VALUES (?, ?, ?, 'seen', ?, NULLIF(?, ''), ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET last_seen = excluded.last_seen, "
            "published = COALESCE(NULLIF(excluded.published, ''), published), "
            "lastmod = COALESCE(excluded.lastmod, lastmod)",
            (key, url, kind, published, lastmod, now, now))

    def seen_many(self, rows: Sequence[tuple[str, ...]]) -> None:
        """`seen` for many (key, url, kind, published[, lastmod]) rows in one
        transaction."""
        with self.db:
            self.db.execute("BEGIN")
            for row in rows:
                self.seen(*row)

    def answered(self, key: str, url: str, kind: str, status: int, headers: dict[str, str],
                 content: bytes | None, state: str = "done") -> None:
        """Store an answer with its validators (and the body, for discovery documents)."""
        now = now_utc()
        digest = content_hash(content) if content is not None else None
        body = content if kind != "article" else None
        self.db.execute(
            "INSERT INTO urls (key, url, kind, state, status, etag, last_modified, "
            "content_hash, body, first_seen, last_seen, fetched) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (key) DO UPDATE SET state = excluded.state, status = excluded.status, "
            "etag = excluded.etag, last_modified = excluded.last_modified, "
            "content_hash = COALESCE(excluded.content_hash, content_hash), "
            "body = COALESCE(excluded.body, body), error = NULL, last_seen = excluded.last_seen, "
            "fetched = excluded.fetched, fetched_lastmod = lastmod",
            (key, url, kind, state, status, headers.get("etag"), headers.get("last-modified"),
             digest, body, now, now, now))

    def not_modified(self, key: str, status: int = 304) -> None:
        """The server answered 304: the copy we have is current as of now."""
        now = now_utc()
        self.db.execute("UPDATE urls SET status = ?, last_seen = ?, fetched = ?, "
                        "fetched_lastmod = lastmod WHERE key = ?", (status, now, now, key))

    def history(self, key: str) -> History | None:
        """What the revisit policy needs to know about `key` (None: never seen)."""
        row = self.db.execute(
            "SELECT state, published, first_seen, fetched, lastmod, fetched_lastmod "
            "FROM urls WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return History(str(row[0]), *(parse_time(value) for value in row[1:]))

    def done_many(self, rows: list[tuple[str, str, int, dict[str, str], bytes, str]]) -> None:
        """Mark articles extracted, after their rows are written: (key, url, status,
        headers, content, canonical)."""
        with self.db:
            self.db.execute("BEGIN")
            for key, url, status, headers, content, canonical in rows:
                self.answered(key, url, "article", status, headers, content)
                self.db.execute("UPDATE urls SET canonical = ? WHERE key = ?",
                                (canonical, key))

    def failed(self, key: str, url: str, kind: str, status: int | None, error: str,
               final: bool) -> None:
        """Record a failure: `final` ones (404, 410, PDF, too large) are not tried again."""
        now = now_utc()
        self.db.execute(
            "INSERT INTO urls (key, url, kind, state, status, error, first_seen, last_seen) "
            "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (key) DO UPDATE SET state = excluded.state, "
            "status = excluded.status, error = excluded.error, last_seen = excluded.last_seen",
            (key, url, kind, "gone" if final else "failed", status, error, now, now))

    def canonical_done(self, canonical: str, key: str) -> bool:
        """Another URL with this canonical URL was extracted already."""
        row = self.db.execute(
            "SELECT 1 FROM urls WHERE canonical = ? AND key != ? AND state = 'done' LIMIT 1",
            (canonical, key)).fetchone()
        return row is not None

    def rebuild(self, articles: Path) -> int:
        """Mark every article of `articles` (articles.csv) done, as a run extracted it: with
        error 'rebuilt' and no validators, so the crawl knows its rows are written."""
        from scraper.output.tables import read_table  # pandas, only for a rebuild

        df = read_table(articles, "articles")
        now = now_utc()
        rows = [(url_key(url), url, url, published, REBUILT, now, now, now)
                for url, published in zip(df["url"], df["published"], strict=True) if url]
        with self.db:
            self.db.execute("BEGIN")
            # Fetched "now" for the revisit policy: the rows are as current as the tables.
            self.db.executemany(
                "INSERT INTO urls (key, url, kind, state, canonical, published, error, "
                "first_seen, last_seen, fetched) "
                "VALUES (?, ?, 'article', 'done', ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO NOTHING", rows)
        return self.count("done")

    def unfinished(self) -> list[tuple[str, str, str]]:
        """Articles discovered and not extracted yet (never fetched, or failed in a way
        worth another try), newest first: (key, url, published)."""
        rows = self.db.execute(
            "SELECT key, url, COALESCE(published, '') FROM urls WHERE kind = 'article' "
            "AND state IN ('seen', 'failed') ORDER BY published DESC, key").fetchall()
        return [(str(k), str(u), str(p)) for k, u, p in rows]

    def rebuilt(self, key: str) -> bool:
        """The URL's row was rebuilt from articles.csv (and not answered since)."""
        row = self.db.execute("SELECT error FROM urls WHERE key = ?", (key,)).fetchone()
        return row is not None and row[0] == REBUILT

    def count(self, state: str) -> int:
        row = self.db.execute("SELECT COUNT(*) FROM urls WHERE state = ?",
                              (state,)).fetchone()
        return int(row[0])

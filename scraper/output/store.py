"""The store of record: one SQLite database in the output folder (`state.sqlite`, beside
the crawl's state in the same file), and the tables exported from it.

A run writes each chunk of articles with `Store.put`: one transaction that replaces the
rows of the articles it touched and brings the ledger's rows for them up to date. Its cost
depends on what the chunk adds, not on what is stored (every lookup is by an index).

The CSVs, `tables.xlsx`, the JSONL files and `report.html` are exports (`Store.publish`, at
the end of a run). They hold the newest `window` articles (by published date, else fetch
time; default 10,000, 0 for all) and their facts, the newest `window` failures and the
whole ledger, sorted and written as `scraper.output.tables` writes them, each only when its
bytes change. So an export stops growing when the store does; `evnews export` writes any
period from the store as the same tables.

What a person does to an exported CSV is read back before the next export (`Store.sync`):
a file whose size or modification time is not what the last export left is compared with
what that export wrote, and the differences are kept as edits that every later export
applies: a deleted row stays deleted, a corrected cell stays corrected (in a fact table a
corrected row replaces the row it was, as long as extraction gives that row again), a
column a person added stays where they put it, with its values. A folder of CSVs written
before the store existed is imported on the first run, with nothing lost.

A damaged store (not a database, or malformed) is moved aside for a person to look at and
a new one is built from the CSVs of the folder; the crawl state goes with it (see
`scraper.fetch.state`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from extract.records import Article, Facts
from scraper.core.files import Notice, move_aside, say, sqlite_problem
from scraper.core.records import Failure
from scraper.output import ledger
from scraper.output.ledger import LEDGER_COLUMNS
from scraper.output.tables import (
    CELL_LIMIT,
    COLUMNS,
    CUT,
    EMPTY,
    FACT_TABLES,
    NUMERIC,
    TEXT_DIR,
    Unreadable,
    cell,
    csv_pieces,
    file_digest,
    fit,
    frame,
    has_bom,
    load,
    locked,
    neutralise,
    rows_for,
    sort_rows,
    write_atomic,
)

log = logging.getLogger(__name__)
STORE_NAME = "state.sqlite"
# The exports hold the newest this many articles (0: all of them).
WINDOW = 10_000
Row = dict[str, str]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY, url TEXT, input TEXT, site TEXT, title TEXT, author TEXT,
    published TEXT, source_credit TEXT, word_count TEXT, fetched_at TEXT, text TEXT,
    relevance TEXT,
    recency TEXT NOT NULL,     -- published, else fetched_at: what the window keeps
    gen INTEGER NOT NULL       -- the write that last changed the article's rows
);
CREATE INDEX IF NOT EXISTS articles_recency ON articles (recency, article_id);
CREATE TABLE IF NOT EXISTS companies (
    article_id TEXT NOT NULL, url TEXT, company TEXT, mentions TEXT, surface_forms TEXT);
CREATE INDEX IF NOT EXISTS companies_article ON companies (article_id);
CREATE TABLE IF NOT EXISTS deals (
    article_id TEXT NOT NULL, url TEXT, published TEXT, acquirer TEXT, target TEXT,
    deal_type TEXT, status TEXT, year TEXT, evidence TEXT, method TEXT);
CREATE INDEX IF NOT EXISTS deals_article ON deals (article_id);
CREATE TABLE IF NOT EXISTS capacities (
    article_id TEXT NOT NULL, url TEXT, published TEXT, company TEXT, facility TEXT,
    units_per_year TEXT, kind TEXT, year TEXT, evidence TEXT, location TEXT);
CREATE INDEX IF NOT EXISTS capacities_article ON capacities (article_id);
CREATE TABLE IF NOT EXISTS failures (
    input TEXT, url TEXT, stage TEXT, error TEXT, message TEXT, at TEXT);
CREATE INDEX IF NOT EXISTS failures_at ON failures (at);
-- Which ledger rows an article's facts feed: (fact table, article) -> ledger key.
CREATE TABLE IF NOT EXISTS lkeys (
    tbl TEXT NOT NULL, article_id TEXT NOT NULL, lkey TEXT NOT NULL, lgroup TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS lkeys_article ON lkeys (tbl, article_id);
CREATE INDEX IF NOT EXISTS lkeys_key ON lkeys (tbl, lkey);
CREATE TABLE IF NOT EXISTS ledger_deals (id TEXT PRIMARY KEY, row TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_plants (id TEXT PRIMARY KEY, row TEXT NOT NULL);
-- A person's edits of the exports: kind 'removed' | 'added' (a row, JSON) | 'cells'
-- (articles: column -> value) | 'extra' (values of the columns they added).
CREATE TABLE IF NOT EXISTS edits (
    tbl TEXT NOT NULL, article_id TEXT NOT NULL, kind TEXT NOT NULL, row TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS edits_article ON edits (tbl, article_id);
-- The files the last export wrote, as it left them, and the columns each one has.
CREATE TABLE IF NOT EXISTS exports (
    name TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, digest TEXT, gen INTEGER,
    columns TEXT NOT NULL);
-- The articles the last export wrote: what a person's edits are compared with.
CREATE TABLE IF NOT EXISTS shown (article_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS runs (
    run INTEGER PRIMARY KEY, started TEXT, finished TEXT, counts TEXT NOT NULL);
"""
# Our columns as the store keeps them: articles without text_file (an export's detail).
STORED = {**COLUMNS, "articles": tuple(c for c in COLUMNS["articles"] if c != "text_file")}
# An article's row without its text, which the export reads one at a time.
ARTICLE_META = tuple(c for c in STORED["articles"] if c != "text")
LEDGER_SOURCES = (("ledger_deals", "deals", ledger.deal_key, ledger.deal_row),
                  ("ledger_plants", "capacities", ledger.plant_key, ledger.plant_row))
DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
# Columns compared by meaning when a spreadsheet re-saved a file (a date or a number
# written another way is the same value, not a correction).
TIMES = {"published", "fetched_at", "at"}


def connect(path: Path) -> sqlite3.Connection:
    """Open (or create) the store and check that it is whole."""
    db = sqlite3.connect(path, isolation_level=None, timeout=60, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        problem = sqlite_problem(db, path)
        if problem is not None:
            raise sqlite3.DatabaseError(f"check: {problem}")
    except BaseException:
        db.close()
        raise
    return db


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return str(exc).startswith("check: ") or (code is not None
                                                   and (code & 0xFF) in DAMAGED)


def recency(row: Mapping[str, str]) -> str:
    return row.get("published") or row.get("fetched_at") or ""


def same(a: str, b: str, column: str) -> bool:
    """Whether a cell a spreadsheet wrote back is the value we wrote: equal text, the
    same time written another way, or the same number."""
    if a == b or neutralise(fit(a)) == b or a == neutralise(b):
        return True
    if column in TIMES and a and b:
        try:
            x, y = datetime.fromisoformat(a), datetime.fromisoformat(b)
        except ValueError:
            return False
        return x.replace(tzinfo=None) == y.replace(tzinfo=None)
    if column in NUMERIC and a and b:
        try:
            return float(a) == float(b)
        except ValueError:
            return False
    return False


def same_row(a: Mapping[str, str], b: Mapping[str, str], columns: Sequence[str]) -> bool:
    return all(same(a.get(c, ""), b.get(c, ""), c) for c in columns if c != "text_file")


@dataclass
class Edits:
    """A table's edits for some articles, as an export applies them."""

    removed: dict[str, list[dict[str, Any]]]
    added: dict[str, list[dict[str, Any]]]
    cells: dict[str, Row]
    extra: dict[str, list[tuple[Row, Row]]]  # article -> (row, values of added columns)


class Store:
    """The store in `out_dir`; every write is one transaction."""

    def __init__(self, out_dir: Path, notice: Notice | None = None,
                 window: int = WINDOW) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir, self.notice, self.window = out_dir, notice, window
        self.path = out_dir / STORE_NAME
        self.rebuilt = False
        try:
            self.db = connect(self.path)
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            aside = move_aside(self.path, ("-wal", "-shm", "-journal"))
            self.db = connect(self.path)
            self.rebuilt = True
            say(notice, f"{self.path.name} is damaged ({exc}): moved aside as {aside.name}; "
                        "a new store is built from the CSVs of the folder (the articles they "
                        "hold; `sqlite3 ... .recover` may get more out of the old one)")
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS picked (article_id TEXT PRIMARY KEY)")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Small helpers.

    def meta(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                        "SET value = excluded.value", (key, value))

    def bump(self) -> int:
        gen = int(self.meta("gen", "0")) + 1
        self.set_meta("gen", str(gen))
        return gen

    def pick(self, ids: Iterable[str]) -> None:
        """Fill the temporary table `picked` (what the queries below join with)."""
        self.db.execute("DELETE FROM picked")
        self.db.executemany("INSERT OR IGNORE INTO picked VALUES (?)", ((i,) for i in ids))

    def count(self, table: str) -> int:
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def known(self, ids: Iterable[str]) -> frozenset[str]:
        """Which of `ids` the store holds an article for."""
        self.pick(ids)
        return frozenset(r[0] for r in self.db.execute(
            "SELECT a.article_id FROM articles a JOIN picked USING (article_id)"))

    # Writing.

    def put(self, results: Sequence[tuple[Article, Facts]], failures: Iterable[Failure] = (),
            dropped: Iterable[str] = ()) -> None:
        """Replace the rows of these articles (and remove those of `dropped`), add the
        failures, and bring the ledger up to date: one transaction."""
        rows: dict[str, list[dict[str, object]]] = {t: [] for t in FACT_TABLES}
        replaced = set(dropped)
        for article, facts in results:
            replaced.add(article.article_id)
            for table, table_rows in rows_for(article, facts).items():
                rows[table].extend(table_rows)
        failure_rows = [tuple(cell(getattr(f, c)) for c in COLUMNS["failures"])
                        for f in failures]
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            gen = self.bump()
            self.replace(replaced, {t: [{c: cell(r.get(c)) for c in STORED[t]} for r in rs]
                                    for t, rs in rows.items()}, gen)
            self.db.executemany("INSERT INTO failures VALUES (?, ?, ?, ?, ?, ?)",
                                failure_rows)

    def replace(self, ids: set[str], rows: Mapping[str, list[Row]], gen: int) -> None:
        """Inside a transaction: the rows of the articles `ids` become `rows`."""
        self.pick(ids)
        old = {r["article_id"]: r for r in self.select("articles", STORED["articles"])}
        for table in FACT_TABLES:
            self.db.execute(f"DELETE FROM {table} WHERE article_id IN "
                            "(SELECT article_id FROM picked)")
        articles = []
        for row in rows.get("articles", []):
            before = old.get(row["article_id"])
            if before is not None and all(before[c] == row[c] for c in row
                                          if c != "fetched_at"):
                # Refetched and unchanged: its row keeps its time, and its bytes.
                row = {**row, "fetched_at": before["fetched_at"]}
            articles.append((*(row[c] for c in STORED["articles"]), recency(row), gen))
        marks = ", ".join("?" * (len(STORED["articles"]) + 2))
        self.db.executemany(f"INSERT INTO articles VALUES ({marks})", articles)
        for table in FACT_TABLES[1:]:
            columns = STORED[table]
            self.db.executemany(
                f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
                [tuple(r[c] for c in columns) for r in rows.get(table, [])])
        self.refresh_ledger(ids)

    def select(self, table: str, columns: Sequence[str]) -> list[Row]:
        """The rows of `table` of the picked articles, in rowid order."""
        query = (f"SELECT {', '.join(columns)} FROM {table} WHERE article_id IN "
                 "(SELECT article_id FROM picked) ORDER BY rowid")
        return [dict(zip(columns, (v or "" for v in r), strict=True))
                for r in self.db.execute(query)]

    # A person's edits.

    def edits(self, table: str) -> Edits:
        """The edits of `table` for the picked articles."""
        out = Edits({}, {}, {}, {})
        for aid, kind, row, extra in self.db.execute(
                "SELECT article_id, kind, row, extra FROM edits WHERE tbl = ? AND "
                "(article_id IN (SELECT article_id FROM picked) OR article_id = '') "
                "ORDER BY rowid", (table,)):
            value = json.loads(row)
            if kind == "cells":
                out.cells.setdefault(aid, {}).update(value)
            elif kind == "extra":
                out.extra.setdefault(aid, []).append((value, json.loads(extra)))
            else:
                getattr(out, kind).setdefault(aid, []).append({**value, "__extra":
                                                               json.loads(extra)})
        return out

    def effective(self, table: str, columns: Sequence[str] | None = None) -> list[Row]:
        """The rows of `table` for the picked articles as the exports show them: the
        stored rows with a person's edits applied (added columns as extra keys)."""
        columns = columns or STORED[table]
        return self.apply(table, self.select(table, columns), columns)

    def apply(self, table: str, rows: list[Row], columns: Sequence[str]) -> list[Row]:
        """`rows` with the edits of the picked articles applied."""
        edits = self.edits(table)
        if not (edits.removed or edits.added or edits.cells or edits.extra):
            return rows
        group = (lambda r: "") if table == "failures" else (lambda r: r.get("article_id", ""))
        gone = {a: list(rs) for a, rs in edits.removed.items()}
        out = []
        for row in rows:
            aid = group(row)
            hit = next((g for g in gone.get(aid, []) if same_row(g, row, columns)), None)
            if hit is not None:
                gone[aid].remove(hit)
                continue
            for match, values in edits.extra.get(aid, []):
                if table == "articles" or same_row(match, row, columns):
                    row = {**row, **values}
                    break
            if aid in edits.cells:
                row = {**row, **{c: v for c, v in edits.cells[aid].items() if c in row}}
            out.append(row)
        for added in edits.added.values():
            for user_row in added:
                out.append({**{c: user_row.get(c, "") for c in columns},
                            **user_row["__extra"]})
        return out

    def read_back(self, table: str, name: str, df: pd.DataFrame, gen: int) -> str:
        """Compare a CSV a person changed (`df`, as `load` read the file `name`) with the
        rows the store holds for what the last export showed, and keep every difference
        as an edit (they replace the earlier edits of those rows); returns what was found,
        for the run's line."""
        added_columns = [c for c in df.columns if c not in COLUMNS[table]]
        self.db.execute("UPDATE exports SET columns = ? WHERE name = ?",
                        (json.dumps(list(df.columns)), name))
        theirs_rows: list[Row] = df.to_dict("records")
        if table == "failures":
            self.pick([""])
            mine_rows = self.newest_failures(edited=False)
        else:
            # The articles the last export showed, minus those written since (a run that
            # stopped before its export): their rows were never in the file.
            shown = [r[0] for r in self.db.execute(
                "SELECT s.article_id FROM shown s JOIN articles a USING (article_id) "
                "WHERE a.gen <= ?", (gen,))]
            fresh = {r[0] for r in self.db.execute(
                "SELECT article_id FROM articles WHERE gen > ?", (gen,))}
            theirs_rows = [r for r in theirs_rows if r["article_id"] not in fresh]
            unknown = {r["article_id"] for r in theirs_rows} - self.known(
                r["article_id"] for r in theirs_rows)
            self.pick([*shown, *unknown])
            mine_rows = self.select(table, STORED[table])
        key = (lambda r: "") if table == "failures" else (lambda r: r["article_id"])
        mine: dict[str, list[Row]] = {}
        theirs: dict[str, list[Row]] = {}
        for row in mine_rows:
            mine.setdefault(key(row), []).append(row)
        for row in theirs_rows:
            theirs.setdefault(key(row), []).append(row)
        found: Counter[str] = Counter()
        new_edits: list[tuple[str, str, str, str]] = []
        for aid in sorted(set(mine) | set(theirs)):
            new_edits += self.diff(table, aid, mine.get(aid, []), theirs.get(aid, []),
                                   added_columns, found)
        old: dict[str, list[tuple[str, str, str]]] = {}
        for aid, kind, json_row, extra in self.db.execute(
                "SELECT article_id, kind, row, extra FROM edits WHERE tbl = ? AND "
                "(article_id IN (SELECT article_id FROM picked) OR ? = 'failures')",
                (table, table)):
            old.setdefault(aid, []).append((kind, json_row, extra))
        new: dict[str, list[tuple[str, str, str]]] = {}
        for aid, kind, json_row, extra in new_edits:
            new.setdefault(aid, []).append((kind, json_row, extra))
        changed = {aid for aid in set(old) | set(new)
                   if sorted(old.get(aid, [])) != sorted(new.get(aid, []))}
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM edits WHERE tbl = ? AND (article_id IN "
                            "(SELECT article_id FROM picked) OR ? = 'failures')",
                            (table, table))
            self.db.executemany("INSERT INTO edits VALUES (?, ?, ?, ?, ?)",
                                [(table, *e) for e in new_edits])
            if table in ("deals", "capacities") and changed:
                # Only the deals and plants whose rows a person changed are computed again.
                self.refresh_ledger(changed)
        parts = [f"{n:,} {what}" for what, n in sorted(found.items()) if n]
        if added_columns:
            parts.append(f"added columns kept: {', '.join(added_columns)}")
        return "; ".join(parts)

    @staticmethod
    def diff(table: str, aid: str, mine: list[Row], theirs: list[Row],
             added_columns: list[str], found: Counter[str]
             ) -> list[tuple[str, str, str, str]]:
        """The edits that turn the stored rows of one article (`mine`) into the file's
        (`theirs`): (article_id, kind, row as JSON, added columns' values as JSON)."""
        compare = list(STORED[table])
        out: list[tuple[str, str, str, str]] = []
        left = list(theirs)
        for row in mine:
            hit = next((t for t in left if same_row(row, t, compare)), None)
            if hit is None and table == "articles":
                hit = next((t for t in left if t["article_id"] == row["article_id"]), None)
            plain = {c: row.get(c, "") for c in compare}
            if hit is None:
                out.append((aid, "removed", json.dumps(plain), "{}"))
                found["rows deleted"] += 1
                continue
            left.remove(hit)
            changed = {c: hit[c] for c in compare if not same(row.get(c, ""), hit[c], c)}
            if changed:  # only an article's row is matched by its id alone
                out.append((aid, "cells", json.dumps(changed), "{}"))
                found["cells corrected"] += len(changed)
            extra = {c: hit[c] for c in added_columns if hit.get(c)}
            if extra:
                out.append((aid, "extra", json.dumps(plain), json.dumps(extra)))
        for row in left:
            extra = {c: row[c] for c in added_columns if row.get(c)}
            out.append((aid, "added", json.dumps({c: row.get(c, "") for c in compare}),
                        json.dumps(extra)))
            found["rows added or corrected"] += 1
        return out

    def newest_failures(self, edited: bool = True) -> list[Row]:
        """The newest `window` failures, with a person's edits applied unless `edited`
        is False."""
        columns = COLUMNS["failures"]
        rows = [dict(zip(columns, (v or "" for v in r), strict=True)) for r in self.db.execute(
            f"SELECT {', '.join(columns)} FROM failures ORDER BY at DESC, rowid DESC "
            "LIMIT ?", (self.window or -1,))]
        if not edited:
            return rows
        self.pick([""])
        return self.apply("failures", rows, columns)

    # The ledger.

    def refresh_ledger(self, ids: set[str]) -> None:
        """Inside a transaction: the ledger rows that the articles `ids` fed or feed now
        are computed again from every article that reports them."""
        for table, fact, key_of, make in LEDGER_SOURCES:
            self.pick(ids)
            stale = {r[0] for r in self.db.execute(
                "SELECT lkey FROM lkeys WHERE tbl = ? AND article_id IN "
                "(SELECT article_id FROM picked)", (fact,))}
            self.db.execute("DELETE FROM lkeys WHERE tbl = ? AND article_id IN "
                            "(SELECT article_id FROM picked)", (fact,))
            fresh = []
            for aid, rows in self.by_article(self.effective(fact)).items():
                for key in ledger.group(rows, key_of):
                    fresh.append((fact, aid, ledger.ledger_id(*key), json.dumps(key)))
            self.db.executemany("INSERT INTO lkeys VALUES (?, ?, ?, ?)", fresh)
            stale |= {f[2] for f in fresh}
            if not stale:
                continue
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS stale (lkey TEXT PRIMARY KEY)")
            self.db.execute("DELETE FROM stale")
            self.db.executemany("INSERT INTO stale VALUES (?)", ((k,) for k in stale))
            members = [r[0] for r in self.db.execute(
                "SELECT DISTINCT article_id FROM lkeys WHERE tbl = ? AND lkey IN "
                "(SELECT lkey FROM stale)", (fact,))]
            self.pick(members)
            articles = {r["article_id"]: r for r in self.effective(
                "articles", ("article_id", "url", "site", "published"))}
            groups: dict[tuple[str, ...], list[Mapping[str, str]]] = {}
            for rows in self.by_article(self.effective(fact)).values():
                for key, grouped in ledger.group(rows, key_of).items():
                    if ledger.ledger_id(*key) in stale:
                        groups.setdefault(key, []).extend(grouped)
            self.db.execute(f"DELETE FROM {table} WHERE id IN (SELECT lkey FROM stale)")
            self.db.executemany(
                f"INSERT INTO {table} VALUES (?, ?)",
                [(ledger.ledger_id(*k), json.dumps(make(k, v, articles)))  # type: ignore[arg-type]
                 for k, v in groups.items()])

    @staticmethod
    def by_article(rows: Iterable[Row]) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {}
        for row in rows:
            out.setdefault(row.get("article_id", ""), []).append(
                {k: v for k, v in row.items() if k in STORED["deals"] or k in
                 STORED["capacities"]})
        return out

    # Exports.

    def newest(self) -> list[str]:
        """The article_ids the exports show: the newest `window` (all when 0)."""
        limit = self.window or -1
        return [r[0] for r in self.db.execute(
            "SELECT article_id FROM articles ORDER BY recency DESC, article_id DESC "
            "LIMIT ?", (limit,))]

    def layout(self, name: str, table: str) -> list[str]:
        row = self.db.execute("SELECT columns FROM exports WHERE name = ?",
                              (name,)).fetchone()
        columns = list(COLUMNS.get(table) or LEDGER_COLUMNS[table])
        if row is None:
            return columns
        kept: list[str] = json.loads(row[0])
        return kept if set(columns) <= set(kept) else columns

    def frames(self, ids: Sequence[str], layouts: Mapping[str, list[str]] | None = None,
               failures: list[Row] | None = None
               ) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
        """The tables of the articles `ids` as the CSVs show them (sorted, cells safe,
        added columns in place), articles.csv with its texts left out (`texts` fills them
        in as it is written: they are most of its bytes), and the full texts of those cut
        to fit a cell."""
        self.pick(ids)
        out: dict[str, pd.DataFrame] = {}
        for table in FACT_TABLES:
            columns = ARTICLE_META if table == "articles" else None
            out[table] = self.shape(table, self.effective(table, columns),
                                    (layouts or {}).get(table))
        long = {r[0] for r in self.db.execute(
            "SELECT article_id FROM articles WHERE article_id IN "
            "(SELECT article_id FROM picked) AND length(text) > ?", (CELL_LIMIT // 2,))}
        corrected = {aid: cells["text"] for aid, cells in self.edits("articles").cells.items()
                     if "text" in cells}
        texts = {aid: text for aid in long | set(corrected)
                 if fit(neutralise(text := corrected.get(aid) or self.text(aid)))
                 != neutralise(text)}
        out["articles"] = out["articles"].assign(text_file=[
            f"{TEXT_DIR}/{aid}.txt" if aid in texts else ""
            for aid in out["articles"]["article_id"]])
        published = dict(zip(out["articles"]["article_id"], out["articles"]["published"],
                             strict=True))
        for table in FACT_TABLES:
            out[table] = sort_rows(out[table], table, published)
        failures = self.newest_failures() if failures is None else failures
        out["failures"] = self.shape("failures", failures,
                                     (layouts or {}).get("failures"))
        out["failures"] = sort_rows(out["failures"], "failures")
        for table in LEDGER_COLUMNS:
            rows = [json.loads(r[0]) for r in self.db.execute(f"SELECT row FROM {table}")]
            out[table] = frame(table, ledger.sort_ledger(rows, table))
        return out, texts

    def text(self, aid: str) -> str:
        """An article's text as the store holds it, a person's correction applied."""
        row = self.db.execute("SELECT text FROM articles WHERE article_id = ?",
                              (aid,)).fetchone()
        for (cells,) in self.db.execute(
                "SELECT row FROM edits WHERE tbl = 'articles' AND kind = 'cells' AND "
                "article_id = ? ORDER BY rowid", (aid,)):
            row = (json.loads(cells).get("text", row[0] if row else ""),)
        return str(row[0] or "") if row else ""

    def pieces(self, table: str, df: pd.DataFrame, bom: bool) -> Iterator[bytes]:
        """A table's CSV bytes, articles.csv with each text filled in as it is written."""
        if table != "articles":
            return csv_pieces(df, bom)
        at, key = list(df.columns).index("text"), list(df.columns).index("article_id")

        def fill(row: list[str]) -> list[str]:
            row[at] = fit(neutralise(self.text(row[key])))
            return row

        return csv_pieces(df, bom, fill)

    @staticmethod
    def shape(table: str, rows: list[Row], layout: list[str] | None) -> pd.DataFrame:
        df = frame(table, rows)
        if not layout:
            return df
        added = [c for c in layout if c not in df.columns]
        for column in added:
            df[column] = [r.get(column, "") for r in rows]
        return df[[c for c in layout if c in df.columns]]

    def publish(self, excel: bool | None) -> list[str]:
        """Write the exports of the newest articles where their bytes changed; returns the
        names written."""
        ids = self.newest()
        layouts = {t: self.layout(f"{t}.csv", t) for t in [*COLUMNS, *LEDGER_COLUMNS]}
        tables, texts = self.frames(ids, layouts)
        gen = int(self.meta("gen", "0"))
        written = []
        with locked(self.out_dir):
            self.side_texts(texts)
            for table, df in tables.items():
                path = self.out_dir / f"{table}.csv"
                bom = has_bom(path) if excel is None else excel
                if self.write_export(path, self.pieces(table, df, bom), gen, list(df.columns)):
                    written.append(path.name)
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.execute("DELETE FROM shown")
                self.db.executemany("INSERT INTO shown VALUES (?)", ((i,) for i in ids))
        return written

    def export_period(self, dest: Path, since: str | None, until: str | None,
                      excel: bool) -> int:
        """Write the tables of the articles whose date (published, else fetched) is in
        [since, until) into `dest`, as a run writes its own; returns how many articles."""
        ids = [r[0] for r in self.db.execute(
            "SELECT article_id FROM articles WHERE recency >= ? AND recency < ? "
            "ORDER BY recency, article_id", (since or "", until or "\uffff"))]
        columns = COLUMNS["failures"]
        failures = [dict(zip(columns, (v or "" for v in r), strict=True)) for r in self.db.execute(
            f"SELECT {', '.join(columns)} FROM failures WHERE at >= ? AND at < ?",
            (since or "", until or "\uffff"))]
        tables, texts = self.frames(ids, failures=failures)
        for table, df in tables.items():
            write_atomic(dest / f"{table}.csv", self.pieces(table, df, excel))
        for aid, text in texts.items():
            write_atomic(dest / TEXT_DIR / f"{aid}.txt", text.encode("utf-8"))
        return len(ids)

    def write_export(self, path: Path, data: Iterable[bytes], gen: int,
                     columns: list[str]) -> bool:
        """Write `path` unless it holds these bytes already; record how it was left."""
        row = self.db.execute("SELECT size, mtime_ns, digest FROM exports WHERE name = ?",
                              (path.name,)).fetchone()
        try:
            stat = path.stat()
            untouched = row is not None and (stat.st_size, stat.st_mtime_ns) == row[:2]
        except FileNotFoundError:
            untouched = False
        code = ""

        def keep(digest: str) -> bool:
            nonlocal code
            code = digest
            return untouched and row[2] == digest

        if not write_atomic(path, data, keep):
            self.db.execute("UPDATE exports SET gen = ?, columns = ? WHERE name = ?",
                            (gen, json.dumps(columns), path.name))
            return False
        stat = path.stat()
        self.db.execute(
            "INSERT INTO exports VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, digest = excluded.digest, "
            "gen = excluded.gen, columns = excluded.columns",
            (path.name, stat.st_size, stat.st_mtime_ns, code, gen, json.dumps(columns)))
        return True

    def side_texts(self, texts: Mapping[str, str]) -> None:
        """text/<article_id>.txt for each shown text cut to fit a cell; others go."""
        folder = self.out_dir / TEXT_DIR
        for aid, text in texts.items():
            path = folder / f"{aid}.txt"
            data = text.encode("utf-8")
            try:
                if path.read_bytes() == data:
                    continue
            except FileNotFoundError:
                pass
            write_atomic(path, data)
        if folder.is_dir():
            for path in folder.glob("*.txt"):
                if path.stem not in texts:
                    path.unlink(missing_ok=True)

    # Reading the folder back.

    def sync(self) -> None:
        """Before a run: take in what a person did to the exported CSVs (edits kept), a
        folder of CSVs from before the store (imported), or a damaged file (set aside or
        left: the next export writes it again from the store). One line each."""
        with locked(self.out_dir):
            for table in COLUMNS:  # articles first: an import of facts needs them
                path = self.out_dir / f"{table}.csv"
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                row = self.db.execute(
                    "SELECT size, mtime_ns, gen, digest FROM exports WHERE name = ?",
                    (path.name,)).fetchone()
                if row is not None and (stat.st_size, stat.st_mtime_ns) == row[:2]:
                    continue
                if row is not None and row[3] and stat.st_size == row[0] and \
                        file_digest(path) == row[3]:
                    # Copied or touched, not changed: the bytes are those exported.
                    self.db.execute("UPDATE exports SET mtime_ns = ? WHERE name = ?",
                                    (stat.st_mtime_ns, path.name))
                    continue
                try:
                    self.take(table, path, None if row is None else int(row[2] or 0))
                except Unreadable as exc:
                    aside = move_aside(path)
                    say(self.notice, f"{path.name} cannot be read ({exc}): moved aside as "
                                     f"{aside.name}; it is written again from the store")

    def take(self, table: str, path: Path, gen: int | None) -> None:
        """Read one changed table: imported when the store never exported it (`gen` None),
        else read back as a person's edits, unless it lost rows to damage."""
        if gen is None:
            line = self.take_in(table, path)
            if line:
                say(self.notice, line)
            return
        df, fixes = load(path, table)
        lost = [f for f in fixes if f.startswith((CUT, EMPTY))]
        if lost:
            say(self.notice, f"{path.name} is damaged ({'; '.join(lost)}): no edits are read "
                             "from it; it is written again from the store")
            return
        found = self.read_back(table, path.name, df, gen)
        if fixes:
            say(self.notice, f"{path.name} was re-saved ({'; '.join(fixes)}): "
                             f"{found or 'no edits in it'}; written again as a standard CSV")
        elif found:
            log.info("%s was edited: %s; the store keeps the edits for every export",
                     path.name, found)

    def take_in(self, table: str, path: Path) -> str:
        """Import a table written before the store existed (or when the store was lost):
        its rows become the store's, its added columns edits. Returns a line to say."""
        df, fixes = load(path, table)
        ours = set(STORED[table])
        rows: list[Row] = df.to_dict("records")
        added_columns = [c for c in df.columns if c not in COLUMNS[table]]
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            gen = self.bump()
            if table == "failures":
                self.db.executemany("INSERT INTO failures VALUES (?, ?, ?, ?, ?, ?)",
                                    [tuple(r[c] for c in COLUMNS["failures"]) for r in rows])
            else:
                for row in rows:
                    if table == "articles" and row.get("text_file"):
                        side = self.out_dir / row["text_file"]
                        if side.is_file() and side.parent.name == TEXT_DIR:
                            row["text"] = side.read_text(encoding="utf-8")
                ids = {r["article_id"] for r in rows}
                if table == "articles":
                    self.pick(ids)
                    self.db.execute("DELETE FROM articles WHERE article_id IN "
                                    "(SELECT article_id FROM picked)")
                    self.db.executemany(
                        f"INSERT INTO articles VALUES ({', '.join('?' * (len(ours) + 2))})",
                        [(*(r[c] for c in STORED["articles"]), recency(r), gen)
                         for r in rows])
                else:
                    columns = STORED[table]
                    self.db.executemany(
                        f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
                        [tuple(r[c] for c in columns) for r in rows])
                    if table in ("deals", "capacities"):
                        self.refresh_ledger(ids)
            self.db.executemany("INSERT INTO edits VALUES (?, ?, 'extra', ?, ?)", [
                (table, r.get("article_id", "") if table != "failures" else "",
                 json.dumps({c: r[c] for c in STORED[table]}),
                 json.dumps({c: r[c] for c in added_columns if r.get(c)}))
                for r in rows if any(r.get(c) for c in added_columns)])
            # As read: the export at the end of the run rewrites it only if its bytes change.
            stat = path.stat()
            self.db.execute(
                "INSERT INTO exports VALUES (?, ?, ?, NULL, ?, ?) ON CONFLICT (name) "
                "DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
                "columns = excluded.columns",
                (path.name, stat.st_size, stat.st_mtime_ns, gen, json.dumps(list(df.columns))))
        lost = [f for f in fixes if f.startswith(EMPTY)]
        if lost:
            return f"{path.name} is {lost[0]}: nothing to import from it"
        if not rows and not fixes:
            return ""
        line = f"{path.name}: {len(rows):,} rows imported into {STORE_NAME}"
        return f"{line} ({'; '.join(fixes)})" if fixes else line

    def record_run(self, started: str, finished: str, counts: Mapping[str, object]) -> None:
        with self.db:
            self.db.execute("INSERT INTO runs (started, finished, counts) VALUES (?, ?, ?)",
                            (started, finished, json.dumps(counts, sort_keys=True)))


def export(out_dir: Path, results: Iterable[tuple[Article, Facts]],
           failures: Iterable[Failure] = (), *, excel: bool | None = None,
           notice: Notice | None = None, dropped: Iterable[str] = (),
           window: int = WINDOW) -> None:
    """Put these articles' facts and these failures into the store in `out_dir` and write
    the exports: what a run does, in one call (tests, the API, small scripts)."""
    with Store(out_dir, notice, window) as store:
        store.sync()
        store.put(list(results), failures, dropped)
        store.publish(excel)


def repair(out_dir: Path, notice: Notice | None = None, window: int = WINDOW) -> None:
    """`Store.sync`, then the exports: every table of the folder in the contract's form
    (for readers of the folder outside a run)."""
    if not out_dir.is_dir():
        return
    with Store(out_dir, notice, window) as store:
        store.sync()
        store.publish(excel=None)

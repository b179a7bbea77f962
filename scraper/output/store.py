"""Export stage: facts -> the tables of the output folder (the CSV contract).

The CSV files are the store of record. Each write merges: rows of the articles being
written replace that article's old rows, everything else stays. Rows are sorted (published,
url, then every other column), so a rerun of the same inputs leaves every file
byte-identical. Each file is written to a temporary file in the same folder, fsynced and
renamed into place, so a crash or a kill leaves either the old or the new complete file.
`scraper.output.formats` renders xlsx and jsonl from the CSVs at the end of a run.
pandas is used here and only here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pandas as pd

from extract.records import Article, Facts
from scraper.core.records import Failure

try:  # POSIX only; elsewhere concurrent runs on one folder are simply not guarded
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

COLUMNS: dict[str, tuple[str, ...]] = {
    "articles": ("article_id", "url", "input", "site", "title", "author", "published",
                 "source_credit", "word_count", "fetched_at", "text", "text_file"),
    "companies": ("article_id", "url", "company", "mentions", "surface_forms"),
    "deals": ("article_id", "url", "published", "acquirer", "target", "deal_type", "status",
              "year", "evidence"),
    "capacities": ("article_id", "url", "published", "company", "facility", "units_per_year",
                   "kind", "year", "evidence"),
    "failures": ("input", "url", "stage", "error", "message", "at"),
}
FACT_TABLES = ("articles", "companies", "deals", "capacities")
NUMERIC = {"word_count", "mentions", "units_per_year", "year"}
# Cells a spreadsheet would run as a formula (OWASP's list). Numbers are not text cells.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SORT_FIRST = {"failures": ("at", "input")}
# Excel refuses longer cells (counted in UTF-16 code units); LibreOffice and Sheets cope.
CELL_LIMIT = 32_767
TEXT_DIR = "text"
BOM = b"\xef\xbb\xbf"

def cell(value: object) -> str:
    """A value as CSV text: None is the empty cell."""
    return "" if value is None else str(value)


def fit(value: str, limit: int = CELL_LIMIT) -> str:
    """Cut `value` to `limit` UTF-16 code units, never splitting a surrogate pair."""
    if len(value) <= limit // 2:
        return value
    data = value.encode("utf-16-le")
    if len(data) <= 2 * limit:
        return value
    return data[:2 * limit].decode("utf-16-le", errors="ignore")


def rows_for(article: Article, facts: Facts) -> dict[str, list[dict[str, object]]]:
    """The rows one article contributes to each fact table."""
    aid, url, published = article.article_id, article.url, article.published
    return {
        "articles": [{
            "article_id": aid, "url": url, "input": article.input, "site": article.site,
            "title": article.title, "author": article.author, "published": published,
            "source_credit": article.source_credit, "word_count": article.word_count,
            "fetched_at": article.fetched_at, "text": article.text, "text_file": ""}],
        "companies": [{
            "article_id": aid, "url": url, "company": c.company, "mentions": c.mentions,
            "surface_forms": "; ".join(c.surface_forms)} for c in facts.companies],
        "deals": [{
            "article_id": aid, "url": url, "published": published, "acquirer": d.acquirer,
            "target": d.target, "deal_type": d.deal_type, "status": d.status, "year": d.year,
            "evidence": d.evidence} for d in facts.deals],
        "capacities": [{
            "article_id": aid, "url": url, "published": published, "company": c.company,
            "facility": c.facility, "units_per_year": c.units_per_year, "kind": c.kind,
            "year": c.year, "evidence": c.evidence} for c in facts.capacities],
    }


def neutralise(value: str) -> str:
    """Make a text cell inert in a spreadsheet (idempotent: "'=1" stays as it is)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def frame(table: str, rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """Rows -> a frame of strings in contract column order, text cells neutralised."""
    columns = COLUMNS[table]
    data = [[cell(row.get(c)) for c in columns] for row in rows]
    df = pd.DataFrame(data, columns=list(columns), dtype=str)
    for column in columns:
        if column not in NUMERIC:
            df[column] = df[column].map(lambda v: fit(neutralise(v)))
    return df


def has_bom(path: Path) -> bool:
    """Whether the file starts with a UTF-8 byte-order mark (False when missing)."""
    try:
        with path.open("rb") as handle:
            return handle.read(3) == BOM
    except FileNotFoundError:
        return False


def read_table(path: Path, table: str) -> pd.DataFrame:
    """A table as strings, in contract column order; empty when the file is missing."""
    if not path.exists():
        return frame(table, [])
    # utf-8-sig reads files written with or without --excel's byte-order mark.
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for column in COLUMNS[table]:
        if column not in df.columns:
            df[column] = ""
    return df[list(COLUMNS[table])]


def sort_rows(df: pd.DataFrame, table: str,
              published: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Sort by published, url, then every other column (stable and total)."""
    if table in SORT_FIRST:
        first: tuple[str, ...] = SORT_FIRST[table]
    elif "published" in df.columns:
        first = ("published", "url")
    else:
        # companies.csv has no published column: borrow the article's, so that every table
        # lists articles in the same order.
        df = df.assign(_published=df["article_id"].map(published or {}).fillna(""))
        first = ("_published", "url")
    order = [*first, *(c for c in df.columns if c not in first)]
    df = df.sort_values(order, kind="mergesort").reset_index(drop=True)
    return df.drop(columns=["_published"], errors="ignore")


def file_mode(path: Path) -> int:
    """The permission bits `path` has, or those a new file gets under the umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the mode the file had, or the
        # one the umask gives a new file, as a plain open() would have.
        os.fchmod(fd, file_mode(path))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # The rename itself survives a power cut only once the folder is synced too.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def csv_bytes(df: pd.DataFrame, bom: bool) -> bytes:
    """A frame as CSV bytes: UTF-8, "\\n" line ends, with a byte-order mark when asked."""
    data = df.to_csv(index=False, lineterminator="\n").encode("utf-8")
    return BOM + data if bom else data


@contextlib.contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the output folder: two runs must not interleave merges."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(out_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # Temp files of a writer that was killed: nobody else writes while we hold the lock.
        for stale in [*out_dir.glob(".*.tmp"), *(out_dir / TEXT_DIR).glob(".*.tmp")]:
            stale.unlink(missing_ok=True)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def side_texts(out_dir: Path, articles: Iterable[Article], df: pd.DataFrame) -> pd.DataFrame:
    """Write text/<article_id>.txt for texts cut to fit a cell; fill `text_file`."""
    full = {a.article_id: a.text for a in articles}
    text_files = []
    for aid, text in zip(df["article_id"], df["text"], strict=True):
        path = out_dir / TEXT_DIR / f"{aid}.txt"
        if text != neutralise(full[aid]):  # frame() cut it to fit a cell
            write_atomic(path, full[aid].encode("utf-8"))
            text_files.append(f"{TEXT_DIR}/{aid}.txt")
        else:
            path.unlink(missing_ok=True)  # an earlier, longer version of the article
            text_files.append("")
    return df.assign(text_file=text_files)


def keep_fetched_at(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Keep an article's old fetched_at when nothing else in its row changed.

    A rerun of the same inputs refetches every page; without this the timestamps alone
    would rewrite articles.csv on every run.
    """
    rest = [c for c in COLUMNS["articles"] if c != "fetched_at"]
    previous = {tuple(r[c] for c in rest): r["fetched_at"] for r in old.to_dict("records")}
    kept = [previous.get(tuple(r[c] for c in rest), r["fetched_at"])
            for r in new.to_dict("records")]
    return new.assign(fetched_at=kept)


def merge_table(out_dir: Path, table: str, new: pd.DataFrame, replaced: set[str],
                excel: bool | None, published: Mapping[str, str] | None = None,
                ) -> pd.DataFrame:
    """Merge `new` into `<table>.csv` (rows of `replaced` articles go) and write it."""
    path = out_dir / f"{table}.csv"
    old = read_table(path, table)
    if table == "articles":
        new = keep_fetched_at(old, new)
    if table == "failures":
        merged = pd.concat([old, new], ignore_index=True)  # one row per failure per run
    else:
        old = old[~old["article_id"].isin(replaced)]
        merged = pd.concat([old, new], ignore_index=True).drop_duplicates()
    merged = sort_rows(merged, table, published)
    bom = has_bom(path) if excel is None else excel
    write_atomic(path, csv_bytes(merged, bom))
    return merged


def export(out_dir: Path, results: Iterable[tuple[Article, Facts]],
           failures: Iterable[Failure] = (), *, excel: bool | None = None) -> None:
    """Merge these articles' facts and these failures into the CSV tables in `out_dir`.

    `excel` chooses the byte-order mark; None keeps whatever each file has now (the end of
    the run, `publish()`, settles it).
    """
    results = list(results)
    rows: dict[str, list[dict[str, object]]] = {t: [] for t in FACT_TABLES}
    replaced: set[str] = set()
    for article, facts in results:
        replaced.add(article.article_id)
        for table, table_rows in rows_for(article, facts).items():
            rows[table].extend(table_rows)
    with locked(out_dir):
        new_articles = side_texts(out_dir, (a for a, _ in results),
                                  frame("articles", rows["articles"]))
        # Side files first: a table never names a text file that is not there yet.
        merged = merge_table(out_dir, "articles", new_articles, replaced, excel)
        published = dict(zip(merged["article_id"], merged["published"], strict=True))
        for table in FACT_TABLES[1:]:
            merge_table(out_dir, table, frame(table, rows[table]), replaced, excel, published)
        merge_table(out_dir, "failures", frame("failures", (vars(f) for f in failures)),
                    set(), excel)

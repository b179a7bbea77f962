"""Export stage: facts -> the tables of the output folder (the CSV contract).

The CSV files are the store of record. Each write merges: rows of the articles being
written replace that article's old rows, everything else stays. Rows are sorted (published,
url, then every other column), so a rerun of the same inputs leaves every file
byte-identical. Each file is written to a temporary file in the same folder, fsynced and
renamed into place, so a crash or a kill leaves either the old or the new complete file.
`scraper.output.formats` renders xlsx and jsonl from the CSVs at the end of a run.
pandas is used here and only here.

A damaged table never stops a run. A table a spreadsheet re-saved (`;`-separated,
Windows-1252, columns moved) or a file cut off mid-row is repaired: the cut row is dropped,
never kept as data, and the table is rewritten in the contract's form. Columns a person
added are kept where they were. A file that is not one of our tables at all (random bytes,
another header) is moved aside as `<name>.csv.damaged-<UTC time>` and the run starts that
table afresh. Either way the caller's `notice` gets one line per table.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import pandas as pd

from extract.records import Article, Facts
from scraper.core.files import Notice, move_aside, say
from scraper.core.records import Failure
from scraper.output import ledger
from scraper.output.ledger import LEDGER_COLUMNS

try:  # POSIX only; elsewhere concurrent runs on one folder are simply not guarded
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

COLUMNS: dict[str, tuple[str, ...]] = {
    "articles": ("article_id", "url", "input", "site", "title", "author", "published",
                 "source_credit", "word_count", "fetched_at", "text", "text_file",
                 "relevance"),
    "companies": ("article_id", "url", "company", "mentions", "surface_forms"),
    "deals": ("article_id", "url", "published", "acquirer", "target", "deal_type", "status",
              "year", "evidence", "method"),
    "capacities": ("article_id", "url", "published", "company", "facility", "units_per_year",
                   "kind", "year", "evidence", "location"),
    "failures": ("input", "url", "stage", "error", "message", "at"),
}
FACT_TABLES = ("articles", "companies", "deals", "capacities")
NUMERIC = {"word_count", "mentions", "units_per_year", "year", "relevance", "articles"}
# Cells a spreadsheet would run as a formula (OWASP's list). Numbers are not text cells.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SORT_FIRST = {"failures": ("at", "input")}
# Excel refuses longer cells (counted in UTF-16 code units); LibreOffice and Sheets cope.
CELL_LIMIT = 32_767
TEXT_DIR = "text"
BOM = b"\xef\xbb\xbf"
# Receives one line per damaged table (or state file) for the run to show; no "warning:".


class Unreadable(ValueError):
    """A file that is not one of our tables: it is moved aside, never rewritten."""


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
            "fetched_at": article.fetched_at, "text": article.text, "text_file": "",
            "relevance": "" if facts.relevance is None else f"{facts.relevance:.2f}"}],
        "companies": [{
            "article_id": aid, "url": url, "company": c.company, "mentions": c.mentions,
            "surface_forms": "; ".join(c.surface_forms)} for c in facts.companies],
        "deals": [{
            "article_id": aid, "url": url, "published": published, "acquirer": d.acquirer,
            "target": d.target, "deal_type": d.deal_type, "status": d.status, "year": d.year,
            "evidence": d.evidence, "method": d.method} for d in facts.deals],
        "capacities": [{
            "article_id": aid, "url": url, "published": published, "company": c.company,
            "facility": c.facility, "units_per_year": c.units_per_year, "kind": c.kind,
            "year": c.year, "evidence": c.evidence, "location": c.location}
            for c in facts.capacities],
    }


def neutralise(value: str) -> str:
    """Make a text cell inert in a spreadsheet (idempotent: "'=1" stays as it is)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def frame(table: str, rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """Rows -> a frame of strings in contract column order, text cells neutralised."""
    columns = COLUMNS.get(table) or LEDGER_COLUMNS[table]
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


def decode(data: bytes) -> tuple[str, list[str]]:
    """A table's text and what reading it needed: UTF-8 with or without a byte-order mark,
    else Windows-1252 (a spreadsheet's re-save)."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        if exc.end == len(data) and exc.reason == "unexpected end of data":
            # Cut inside a character: the cut line goes anyway (see parse).
            return data[:exc.start].decode("utf-8-sig"), []
    try:
        return data.removeprefix(BOM).decode("cp1252"), ["read as Windows-1252"]
    except UnicodeDecodeError:
        raise Unreadable("neither UTF-8 nor Windows-1252 text") from None


def layout(header: Sequence[str], table: str) -> list[str]:
    """Our columns in contract order; a column a person added stays after the column it
    followed in the file (first when it came before all of ours)."""
    added: dict[str | None, list[str]] = {}
    anchor: str | None = None
    for name in header:
        if name in COLUMNS[table]:
            anchor = name
        else:
            added.setdefault(anchor, []).append(name)
    columns = list(added.get(None, []))
    for column in COLUMNS[table]:
        columns += [column, *added.get(column, [])]
    return columns


def ends_in_quotes(text: str, sep: str) -> bool:
    """Whether the text ends inside a quoted cell: cut off there."""
    if text.count('"') % 2 == 0:  # quotes come in pairs in a whole file: no second parse
        return False
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def parse(data: bytes, table: str) -> tuple[pd.DataFrame, list[str]]:
    """Tolerant reading of a table file: the frame (our columns in contract order, added
    ones in place, missing ones empty) and the repairs it needed; `Unreadable` when the file
    is not one of our tables. A last row cut off is dropped, never kept as data."""
    text, fixes = decode(data)
    if "\0" in text:
        raise Unreadable("NUL bytes in the file")
    ours = COLUMNS[table]
    first_line = text.split("\n", 1)[0]
    try:
        # A spreadsheet in a comma-decimal locale saves with ";": the header tells which.
        sep = max(",;", key=lambda d: len(set(ours).intersection(
            *csv.reader([first_line], delimiter=d))))
        records = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=sep) if r]
    except csv.Error as exc:
        raise Unreadable(str(exc)) from None
    header = [name.strip() for name in records[0]] if records else []
    while header and not header[-1]:
        header.pop()  # trailing empty columns a spreadsheet added
    if not set(ours[:2]) <= set(header):
        raise Unreadable(f"no {ours[0]},{ours[1]} header")
    if len(set(header)) < len(header):
        raise Unreadable("a column name appears twice")
    rows, width = records[1:], len(header)
    cut = ends_in_quotes(text, sep) or (not text.endswith(("\n", "\r"))
                                         and bool(rows) and len(rows[-1]) < width)
    if cut and rows:
        fixes.append(f"its last row was cut off and is dropped (it began {rows.pop()[0][:40]!r})")
    if any(any(cell.strip() for cell in row[width:]) for row in rows):
        raise Unreadable("a row has more cells than the header")
    if sep == ";":
        fixes.append("';'-separated")
    if [c for c in header if c in ours] != [c for c in ours if c in header]:
        fixes.append("columns in another order")
    df = pd.DataFrame([(row + [""] * width)[:width] for row in rows], columns=header, dtype=str)
    for column in ours:
        if column not in df.columns:
            df[column] = ""
    if fixes:  # whatever edited the file may have taken the formula guards off
        for column in ours:
            if column not in NUMERIC:
                df[column] = df[column].map(neutralise)
    return df[layout(header, table)], fixes


def load(path: Path, table: str) -> tuple[pd.DataFrame, list[str]]:
    """`parse` of the file at `path`: empty when it is missing or empty (0 bytes)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return frame(table, []), []
    if not data.removeprefix(BOM).strip():
        return frame(table, []), [f"empty ({len(data)} bytes), taken as an empty table"]
    header = (",".join(COLUMNS[table]) + "\n").encode()
    if data.removeprefix(BOM).startswith(header) and data.endswith(b"\n"):
        # As this module writes it: pandas' fast parser, unless it finds the file damaged.
        with contextlib.suppress(pd.errors.ParserError, UnicodeDecodeError):
            return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False,
                               encoding="utf-8-sig"), []
    return parse(data, table)


def read_table(path: Path, table: str) -> pd.DataFrame:
    """A table as strings, in contract column order; empty when the file is missing or
    unreadable (`export` and `repair` move an unreadable one aside and say so)."""
    try:
        df = load(path, table)[0]
    except Unreadable:
        return frame(table, [])
    return df[list(COLUMNS[table])]


def take(path: Path, table: str, notice: Notice | None) -> tuple[pd.DataFrame, bool]:
    """A table with every column, for rewriting, and whether it needs to be rewritten
    (it was repaired); an unreadable one is moved aside and read as empty."""
    try:
        df, fixes = load(path, table)
    except Unreadable as exc:
        aside = move_aside(path)
        say(notice, f"{path.name} cannot be read ({exc}): moved aside as {aside.name}, "
                    "the table starts afresh")
        return frame(table, []), False
    if fixes:
        say(notice, f"{path.name} repaired: {'; '.join(fixes)}; rewritten as a standard CSV")
    return df, bool(fixes)


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
    data: bytes = df.to_csv(index=False, lineterminator="\n").encode("utf-8")
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


def with_added(new: pd.DataFrame, gone: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """`new` in the table's layout `columns`. A column a person added takes its value from
    the old row a new row repeats (a rerun keeps their notes); it is empty otherwise."""
    ours = list(new.columns)
    added = [c for c in columns if c not in ours]
    if added:
        new = new.merge(gone.drop_duplicates(ours), on=ours, how="left")
        new = new.fillna(dict.fromkeys(added, ""))
    return new[list(columns)]


def merge_table(out_dir: Path, table: str, new: pd.DataFrame, replaced: set[str],
                excel: bool | None, published: Mapping[str, str] | None = None,
                notice: Notice | None = None) -> pd.DataFrame:
    """Merge `new` into `<table>.csv` (rows of `replaced` articles go) and write it."""
    path = out_dir / f"{table}.csv"
    old, _ = take(path, table, notice)
    if table == "articles":
        new = keep_fetched_at(old, new)
    if table == "failures":
        new = with_added(new, old.iloc[:0], old.columns)
        merged = pd.concat([old, new], ignore_index=True)  # one row per failure per run
    else:
        gone = old["article_id"].isin(replaced)
        new = with_added(new, old[gone], old.columns)
        merged = pd.concat([old[~gone], new], ignore_index=True).drop_duplicates()
    merged = sort_rows(merged, table, published)
    bom = has_bom(path) if excel is None else excel
    write_atomic(path, csv_bytes(merged, bom))
    return merged


def repair(out_dir: Path, notice: Notice | None = None) -> None:
    """Before a run: move unreadable tables aside and rewrite repairable ones, so that every
    reader of the folder (formats, report.html) finds tables in the contract's form. Tables
    in good order are not touched. One `notice` line per table that was not."""
    if not out_dir.is_dir():
        return
    with locked(out_dir):
        published: dict[str, str] = {}
        for table in COLUMNS:  # articles first: companies.csv sorts by their published
            path = out_dir / f"{table}.csv"
            df, rewrite = take(path, table, notice)
            if table == "articles":
                published = dict(zip(df["article_id"], df["published"], strict=True))
            if rewrite:
                write_atomic(path, csv_bytes(sort_rows(df, table, published), has_bom(path)))


def previous_ledger(out_dir: Path) -> dict[str, list[dict[str, str]]] | None:
    """The ledger tables as the last run wrote them; None when one is missing or not as
    written (hand-edited, damaged): the ledger is derived data, rebuilt in full then."""
    previous = {}
    for table, columns in LEDGER_COLUMNS.items():
        try:
            text = (out_dir / f"{table}.csv").read_bytes().decode("utf-8-sig")
            reader = csv.DictReader(io.StringIO(text, newline=""))
            rows = list(reader)
        except (OSError, UnicodeDecodeError, csv.Error):
            return None
        if tuple(reader.fieldnames or ()) != columns or not text.endswith("\n") or any(
                None in r or None in r.values() for r in rows):
            return None
        previous[table] = rows
    return previous


def merge_ledger(out_dir: Path, touched: set[str], articles: pd.DataFrame,
                 facts: Mapping[str, pd.DataFrame], excel: bool | None) -> None:
    """Bring ledger_deals.csv and ledger_plants.csv in step with the merged fact tables:
    only the ledger rows of the `touched` articles are computed again."""
    tables = (facts["deals"].to_dict("records"), facts["capacities"].to_dict("records"),
              articles.to_dict("records"))
    previous = previous_ledger(out_dir)
    result = (ledger.build(*tables) if previous is None
              else ledger.update(previous, touched, *tables))
    for table, rows in result.items():
        path = out_dir / f"{table}.csv"
        bom = has_bom(path) if excel is None else excel
        write_atomic(path, csv_bytes(frame(table, rows), bom))


def export(out_dir: Path, results: Iterable[tuple[Article, Facts]],
           failures: Iterable[Failure] = (), *, excel: bool | None = None,
           notice: Notice | None = None, dropped: Iterable[str] = ()) -> None:
    """Merge these articles' facts and these failures into the CSV tables in `out_dir`.

    `excel` chooses the byte-order mark; None keeps whatever each file has now (the end of
    the run, `publish()`, settles it). `notice` gets one line per damaged table (repaired,
    or moved aside and started afresh). `dropped`: article_ids read again and not kept
    (below --min-relevance): rows an earlier run wrote for them go, as a rerun's would.
    """
    results = list(results)
    rows: dict[str, list[dict[str, object]]] = {t: [] for t in FACT_TABLES}
    replaced: set[str] = set(dropped)
    for article, facts in results:
        replaced.add(article.article_id)
        for table, table_rows in rows_for(article, facts).items():
            rows[table].extend(table_rows)
    with locked(out_dir):
        new_articles = side_texts(out_dir, (a for a, _ in results),
                                  frame("articles", rows["articles"]))
        # Side files first: a table never names a text file that is not there yet.
        merged = merge_table(out_dir, "articles", new_articles, replaced, excel,
                             notice=notice)
        for aid in replaced.difference(new_articles["article_id"]):  # dropped: no row now
            (out_dir / TEXT_DIR / f"{aid}.txt").unlink(missing_ok=True)
        published = dict(zip(merged["article_id"], merged["published"], strict=True))
        tables = {table: merge_table(out_dir, table, frame(table, rows[table]), replaced,
                                     excel, published, notice) for table in FACT_TABLES[1:]}
        merge_ledger(out_dir, replaced, merged, tables, excel)
        merge_table(out_dir, "failures", frame("failures", (vars(f) for f in failures)),
                    set(), excel, notice=notice)

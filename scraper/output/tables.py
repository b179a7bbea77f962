"""The CSV tables of the output folder: their contract (columns, order, safe cells) and
how they are read and written. `scraper.output.store` keeps the rows and exports them
through these functions.

Rows are sorted (published, url, then every other column), so the same rows give the same
bytes. Each file is written to a temporary file in the same folder, fsynced and renamed into
place, so a crash or a kill leaves either the old or the new complete file. pandas is used
in `scraper.output` and only there.

Reading is tolerant: a table a spreadsheet re-saved (`;`-separated, Windows-1252, columns
moved) or a file cut off mid-row is read with the repairs it needed (a cut row is dropped,
never kept as data), and columns a person added are kept where they were. A file that is
not one of our tables at all (random bytes, another header) is `Unreadable`.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import pandas as pd

from extract.records import Article, Facts
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


# What `load` says of a file that lost rows (cut off by a crash or a full disk, emptied):
# damage, not a person's edit.
CUT = "its last row was cut off"
EMPTY = "empty"


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
        fixes.append(f"{CUT} (it began {rows.pop()[0][:40]!r})")
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
        return frame(table, []), [f"{EMPTY} ({len(data)} bytes)"]
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


def write_atomic(path: Path, data: bytes | Iterable[bytes],
                 keep: Callable[[str], bool] | None = None) -> bool:
    """Write `data` (bytes, or pieces of them) to a temporary file beside `path`, fsync it,
    and rename it into place. `keep`, given the digest of what was written, may say that
    `path` holds these bytes already: then nothing is replaced. Returns whether `path` was
    written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    code = hashlib.blake2b(digest_size=16)
    try:
        # mkstemp makes the file private (0600); give it the mode the file had, or the
        # one the umask gives a new file, as a plain open() would have.
        os.fchmod(fd, file_mode(path))
        with os.fdopen(fd, "wb") as handle:
            for piece in [data] if isinstance(data, bytes) else data:
                handle.write(piece)
                code.update(piece)
            handle.flush()
            if keep is not None and keep(code.hexdigest()):
                Path(tmp).unlink()
                return False
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
    return True


def file_digest(path: Path) -> str:
    """The digest `write_atomic` gives its `keep`, of the bytes a file holds now."""
    code = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        while piece := handle.read(1 << 20):
            code.update(piece)
    return code.hexdigest()


def csv_pieces(df: pd.DataFrame, bom: bool, fill: Callable[[list[str]], list[str]] | None = None,
               rows: int = 2000) -> Iterator[bytes]:
    """A frame as CSV bytes (UTF-8, "\\n" line ends, a byte-order mark when asked), a few
    thousand rows at a time; `fill` may complete each row first (a text kept out of the
    frame)."""
    if bom:
        yield BOM
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(df.columns))
    for start in range(0, len(df), rows):
        for row in df.iloc[start:start + rows].itertuples(index=False, name=None):
            writer.writerow(fill(list(row)) if fill else row)
        yield out.getvalue().encode("utf-8")
        out.seek(0)
        out.truncate()
    yield out.getvalue().encode("utf-8")


def csv_bytes(df: pd.DataFrame, bom: bool) -> bytes:
    """A frame as CSV bytes: UTF-8, "\\n" line ends, with a byte-order mark when asked."""
    return b"".join(csv_pieces(df, bom))


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

"""Export stage: facts -> the CSV tables of the output folder (the CSV contract).

Each write merges: rows of the articles being written replace that article's old rows,
everything else stays. Rows are sorted (published, url, then every other column), so a
rerun of the same inputs leaves every file byte-identical. Each table is written to a
temporary file in the same folder and renamed into place, so a crash leaves either the
old or the new complete file. pandas is used here and only here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from extract.records import Article, Facts

COLUMNS: dict[str, tuple[str, ...]] = {
    "articles": ("article_id", "url", "input", "site", "title", "author", "published",
                 "source_credit", "word_count", "fetched_at", "text"),
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


@dataclass(frozen=True)
class Failure:
    input: str
    url: str
    stage: str
    error: str
    message: str
    at: str


def cell(value: object) -> str:
    return "" if value is None else str(value)


def rows_for(article: Article, facts: Facts) -> dict[str, list[dict[str, object]]]:
    """The rows one article contributes to each fact table."""
    aid, url, published = article.article_id, article.url, article.published
    return {
        "articles": [{
            "article_id": aid, "url": url, "input": article.input, "site": article.site,
            "title": article.title, "author": article.author, "published": published,
            "source_credit": article.source_credit, "word_count": article.word_count,
            "fetched_at": article.fetched_at, "text": article.text}],
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
    columns = COLUMNS[table]
    data = [[cell(row.get(c)) for c in columns] for row in rows]
    df = pd.DataFrame(data, columns=list(columns), dtype=str)
    for column in columns:
        if column not in NUMERIC:
            df[column] = df[column].map(neutralise)
    return df


def read_table(path: Path, table: str) -> pd.DataFrame:
    if not path.exists():
        return frame(table, [])
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    for column in COLUMNS[table]:
        if column not in df.columns:
            df[column] = ""
    return df[list(COLUMNS[table])]


def sort_rows(df: pd.DataFrame, table: str) -> pd.DataFrame:
    first = SORT_FIRST.get(table) or tuple(c for c in ("published", "url") if c in df.columns)
    order = [*first, *(c for c in df.columns if c not in first)]
    return df.sort_values(order, kind="mergesort").reset_index(drop=True)


def write_atomic(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            df.to_csv(handle, index=False, lineterminator="\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def merge_table(out_dir: Path, table: str, new: pd.DataFrame,
                replaced: set[str]) -> pd.DataFrame:
    path = out_dir / f"{table}.csv"
    old = read_table(path, table)
    if replaced and "article_id" in old.columns:
        old = old[~old["article_id"].isin(replaced)]
    merged = pd.concat([old, new], ignore_index=True).drop_duplicates()
    merged = sort_rows(merged, table)
    write_atomic(merged, path)
    return merged


def export(out_dir: Path, results: Iterable[tuple[Article, Facts]],
           failures: Iterable[Failure] = ()) -> None:
    """Merge these articles' facts and these failures into the tables in `out_dir`."""
    rows: dict[str, list[dict[str, object]]] = {t: [] for t in FACT_TABLES}
    replaced: set[str] = set()
    for article, facts in results:
        replaced.add(article.article_id)
        for table, table_rows in rows_for(article, facts).items():
            rows[table].extend(table_rows)
    for table in FACT_TABLES:
        merge_table(out_dir, table, frame(table, rows[table]), replaced)
    merge_table(out_dir, "failures", frame("failures", (vars(f) for f in failures)), set())


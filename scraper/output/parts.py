"""Parquet partitions: the results of one bulk task, as they travel from a worker to the
merge.

One row per article: the `Article`'s fields (its paragraphs as a list), then the
`Facts`' fields (the relevance, and the companies, deals and capacities as lists of
structs). The schema is read from the records' dataclasses and their type hints, so a
field added to a record travels without a change here, and reading a partition back gives
the very `(Article, Facts)` pairs the worker made, for the merge
(`scraper.output.store.export`) to write as any run does.
"""

from __future__ import annotations

import dataclasses
import io
import types
import typing
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from extract.records import Article, Facts

SCALARS = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}
# The columns the merge reads first, to choose one capture per article.
KEYS = ["url", "input", "fetched_at"]


def arrow_type(hint: Any) -> pa.DataType:
    """The Arrow type of a record field's type hint: a scalar (None allowed), a tuple of
    scalars or of records (a list), or a record (a struct)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        if len(args) != 1:
            raise TypeError(f"no Arrow type for {hint}")
        return arrow_type(args[0])
    if typing.get_origin(hint) is tuple:
        return pa.list_(arrow_type(args[0]))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return pa.struct([(name, arrow_type(h)) for name, h in hints(hint).items()])
    if hint in SCALARS:
        return SCALARS[hint]
    raise TypeError(f"no Arrow type for {hint}")


@cache
def hints(cls: type) -> dict[str, Any]:
    """A record's fields and their types, in declaration order."""
    resolved = typing.get_type_hints(cls)
    return {f.name: resolved[f.name] for f in dataclasses.fields(cls)}


def columns() -> dict[str, Any]:
    """The row's fields: the article's, then the facts' (one namespace: none may repeat)."""
    article, facts = hints(Article), hints(Facts)
    if set(article) & set(facts):
        raise TypeError(f"Article and Facts share field names {set(article) & set(facts)}")
    return {**article, **facts}


@cache
def schema() -> pa.Schema:
    return pa.schema([(name, arrow_type(hint)) for name, hint in columns().items()])


def plain(value: Any) -> Any:
    """A field's value as Arrow takes it: records as dicts, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return value


def typed(hint: Any, value: Any) -> Any:
    """A value read back from Arrow as the field's type: lists as tuples, dicts as
    records."""
    if value is None:
        return None
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return typed(args[0], value)
    if typing.get_origin(hint) is tuple:
        return tuple(typed(args[0], v) for v in value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint(**{name: typed(h, value[name]) for name, h in hints(hint).items()})
    return value


def row_of(article: Article, facts: Facts) -> dict[str, Any]:
    return {name: plain(getattr(article if name in hints(Article) else facts, name))
            for name in columns()}


def pair_of(row: dict[str, Any]) -> tuple[Article, Facts]:
    return (Article(**{n: typed(h, row[n]) for n, h in hints(Article).items()}),
            Facts(**{n: typed(h, row[n]) for n, h in hints(Facts).items()}))


def to_parquet(results: Sequence[tuple[Article, Facts]]) -> bytes:
    """The results as the bytes of one Parquet file (empty bytes for no results)."""
    if not results:
        return b""
    table = pa.Table.from_pylist([row_of(a, f) for a, f in results], schema=schema())
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def keys(path: Path) -> list[dict[str, Any]]:
    """The url, input and fetched_at of each row of a partition, in row order."""
    return list(pq.read_table(path, columns=KEYS).to_pylist())


def read_part(path: Path, rows: set[int] | None = None) -> Iterator[tuple[Article, Facts]]:
    """The results in a partition file (only the rows numbered in `rows`, when given)."""
    for number, row in enumerate(pq.read_table(path, schema=schema()).to_pylist()):
        if rows is None or number in rows:
            yield pair_of(row)

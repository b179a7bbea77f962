"""Formats rendered from the CSVs at the end of a run: xlsx (one sheet per table, a
long table split across sheets at Excel's row limit) and jsonl. Like the CSVs they are
exports of the store (`scraper.output.store`): the same tables give the same bytes. Add a
format here: a `<name>_bytes` renderer and a `FORMATS` entry.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from scraper.output.ledger import LEDGER_COLUMNS
from scraper.output.tables import (
    BOM,
    COLUMNS,
    NUMERIC,
    has_bom,
    locked,
    neutralise,
    read_table,
    write_atomic,
)

XLSX_NAME = "tables.xlsx"
# A fixed timestamp inside the workbook, so that the same rows give the same bytes.
XLSX_EPOCH = datetime(2000, 1, 1)
MAX_WIDTH = 60
DECIMAL = re.compile(r"-?\d+\.\d+")  # a number column's decimal: relevance "0.83"
# Times as Excel date-times. Excel has no time zones: the cell holds the time in UTC (the
# README says so). A value that is not an ISO 8601 date (hand-edited) stays text.
DATE_COLUMNS = {"published", "fetched_at", "at"}
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
NUMBER_FORMATS = {"units_per_year": "#,##0", "word_count": "#,##0"}
# url cells are links, http(s) only, within Excel's limits (XlsxWriter keeps the same):
# 65,530 links on a sheet, 2,079 characters a link. Past them the cell is plain text.
LINK_COLUMNS = {"url"}
# The workbook's sheets: the tables, then the ledgers built from them.
SHEETS: dict[str, tuple[str, ...]] = {**COLUMNS, **LEDGER_COLUMNS}
MAX_LINKS = 65_530
MAX_LINK_LENGTH = 2_079
# Excel's rows on a sheet, the header included: a longer table goes on to further sheets
# ("companies (2)", ...), each with the header, never past the limit.
MAX_ROWS = 1_048_576


def typed(table: str, row: Mapping[str, str]) -> dict[str, object]:
    """A CSV row with its numeric columns as int, or float for a decimal (relevance),
    None when empty, for xlsx and jsonl."""
    out: dict[str, object] = {}
    for column in SHEETS[table]:
        value = row[column]
        if column in NUMERIC:
            out[column] = (int(value) if value.lstrip("-").isdigit()
                           else float(value) if DECIMAL.fullmatch(value) else (value or None))
        else:
            out[column] = value
    return out


def read_tables(out_dir: Path) -> dict[str, pd.DataFrame]:
    """Every table of the output folder, as strings."""
    return {t: read_table(out_dir / f"{t}.csv", t) for t in COLUMNS}


def excel_time(value: str) -> datetime | None:
    """An ISO 8601 time as Excel holds one: naive, in UTC. None when it is not a time
    (empty, hand-edited) or before 1900, where Excel's calendar starts."""
    if not ISO_DATE.match(value):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when if when.year >= 1900 else None


def is_link(value: object) -> bool:
    """A URL a spreadsheet may open with a click: http(s), within Excel's length."""
    return (isinstance(value, str) and len(value) <= MAX_LINK_LENGTH
            and re.match(r"https?://", value, re.I) is not None)


def xlsx_cells(table: str, row: Mapping[str, str]) -> list[object]:
    """A CSV row as worksheet values: numbers as int, times as datetime, text safe."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    values = typed(table, row)
    for column in DATE_COLUMNS.intersection(values):
        values[column] = excel_time(row[column]) or values[column]
    # openpyxl rejects control characters; removing one could expose a "=" again.
    return [neutralise(ILLEGAL_CHARACTERS_RE.sub("", v)) if isinstance(v, str) else v
            for v in values.values()]


def sheets(tables: Mapping[str, pd.DataFrame], max_rows: int = MAX_ROWS
           ) -> list[tuple[str, str, pd.DataFrame]]:
    """(sheet name, table, rows) for each sheet: a table longer than a sheet holds is
    split across "name", "name (2)", ... in its order."""
    out = []
    for table, df in tables.items():
        size = max_rows - 1
        parts = [df.iloc[i:i + size] for i in range(0, len(df), size)] or [df]
        out += [(table if n == 0 else f"{table} ({n + 1})", table, part)
                for n, part in enumerate(parts)]
    return out


def xlsx_bytes(tables: Mapping[str, pd.DataFrame], max_rows: int = MAX_ROWS) -> bytes:
    """One sheet per table, header frozen and filtered, widths set, times as date-times,
    URLs as links; same bytes each time."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.created = wb.properties.modified = XLSX_EPOCH
    for name, table, df in sheets(tables, max_rows):
        ws = wb.create_sheet(name)
        columns = SHEETS[table]
        ws.append(list(columns))
        links = 0
        for row in df.to_dict("records"):
            ws.append(xlsx_cells(table, row))
            for cell, column in zip(ws[ws.max_row], columns, strict=True):
                if isinstance(cell.value, datetime):
                    cell.number_format = DATE_FORMAT
                elif column in NUMBER_FORMATS and isinstance(cell.value, int):
                    cell.number_format = NUMBER_FORMATS[column]
                elif column in LINK_COLUMNS and links < MAX_LINKS and is_link(cell.value):
                    cell.hyperlink = cell.value
                    cell.style = "Hyperlink"
                    links += 1
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = ws.dimensions
        for i, column in enumerate(columns, start=1):
            longest = max((len(line) for v in df[column].head(500)
                           for line in v.splitlines()[:1]), default=0)
            width = min(max(len(column), longest), MAX_WIDTH) + 2
            ws.column_dimensions[get_column_letter(i)].width = width
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        writer = ExcelWriter(wb, archive)
        writer.write_data()
    # Zip entries carry the time they were written; pin it so that a rerun is byte-identical.
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            pinned = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            pinned.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(pinned, src.read(info.filename))
    return out.getvalue()


def jsonl_bytes(table: str, df: pd.DataFrame) -> bytes:
    """One JSON object per line, keys in column order, numbers as numbers."""
    lines = (json.dumps(typed(table, row), ensure_ascii=False) + "\n"
             for row in df.to_dict("records"))
    return "".join(lines).encode("utf-8")


def publish(out_dir: Path, fmt: str = "csv", excel: bool = False) -> list[Path]:
    """End of a run: settle the CSVs' byte-order mark and render xlsx or jsonl from them.

    Returns the files written in the asked format.
    """
    with locked(out_dir):
        for table in SHEETS:
            path = out_dir / f"{table}.csv"
            if path.exists() and has_bom(path) != excel:
                data = path.read_bytes()
                write_atomic(path, BOM + data if excel else data.removeprefix(BOM))
        if fmt == "csv":
            return [out_dir / f"{t}.csv" for t in COLUMNS]
        return FORMATS[fmt](out_dir, read_tables(out_dir))


def read_ledgers(out_dir: Path) -> dict[str, pd.DataFrame]:
    """The ledger tables as strings (empty when missing or not ours: export rebuilds them)."""
    out = {}
    for table, columns in LEDGER_COLUMNS.items():
        try:
            df = pd.read_csv(out_dir / f"{table}.csv", dtype=str, keep_default_na=False,
                             encoding="utf-8-sig")
        except (OSError, ValueError):
            df = pd.DataFrame(columns=list(columns), dtype=str)
        out[table] = df if tuple(df.columns) == columns else pd.DataFrame(
            columns=list(columns), dtype=str)
    return out


def write_xlsx(out_dir: Path, tables: Mapping[str, pd.DataFrame]) -> list[Path]:
    write_atomic(out_dir / XLSX_NAME, xlsx_bytes({**tables, **read_ledgers(out_dir)}))
    return [out_dir / XLSX_NAME]


def write_jsonl(out_dir: Path, tables: Mapping[str, pd.DataFrame]) -> list[Path]:
    for table, df in tables.items():
        write_atomic(out_dir / f"{table}.jsonl", jsonl_bytes(table, df))
    return [out_dir / f"{t}.jsonl" for t in COLUMNS]


# Formats besides csv: name -> writer. The settings accept exactly these names and "csv".
FORMATS: dict[str, Callable[[Path, Mapping[str, pd.DataFrame]], list[Path]]] = {
    "xlsx": write_xlsx,
    "jsonl": write_jsonl,
}

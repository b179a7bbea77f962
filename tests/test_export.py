"""Export: the CSV contract, merging, atomic writes, spreadsheet safety."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from extract.records import Article, Capacity, CompanyMention, Deal, Facts
from scraper.core.records import Failure
from scraper.output import formats
from scraper.output.formats import MAX_LINK_LENGTH, publish
from scraper.output.store import export
from scraper.output.tables import BOM, COLUMNS, FORMULA_START, fit, neutralise
from tests.conftest import ROOT


def article(url: str, published: str = "2024-01-02T00:00:00+00:00",
            text: str = "Body text.") -> Article:
    return Article(url=url, input=url, site="Example", title="=HYPERLINK(\"x\")",
                   author="-Someone", published=published, source_credit="",
                   paragraphs=(text,), fetched_at="2024-01-03T00:00:00+00:00")


def facts(units: int = 150_000) -> Facts:
    return Facts(
        companies=(CompanyMention("Nio", 2, ("NIO", "Nio")),),
        deals=(Deal("Nio", "JAC", "contract_manufacturing", "completed", None,
                    "Nio contracts with JAC."),),
        capacities=(Capacity("Nio", "", units, "total", 2024, f"Nio can build {units}."),),
    )


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.csv"))}


def test_columns_in_contract_order(tmp_path: Path) -> None:
    export(tmp_path, [(article("https://a.example/1"), facts())])
    for table, columns in COLUMNS.items():
        header = (tmp_path / f"{table}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == list(columns)
    row = read(tmp_path / "capacities.csv")[0]
    assert row["units_per_year"] == "150000" and row["year"] == "2024"
    assert read(tmp_path / "deals.csv")[0]["year"] == ""


def test_rerun_is_byte_identical_and_changed_article_replaces_rows(tmp_path: Path) -> None:
    a, b = article("https://a.example/1"), article("https://b.example/2", "2023-05-01")
    export(tmp_path, [(a, facts()), (b, facts())])
    first = snapshot(tmp_path)
    export(tmp_path, [(b, facts()), (a, facts())])
    assert snapshot(tmp_path) == first
    export(tmp_path, [(a, facts(units=300_000))])
    rows = read(tmp_path / "capacities.csv")
    assert sorted(r["units_per_year"] for r in rows) == ["150000", "300000"]
    assert [r["url"] for r in rows] == ["https://b.example/2", "https://a.example/1"]


def test_formula_cells_are_neutralised(tmp_path: Path) -> None:
    export(tmp_path, [(article("https://a.example/1"), facts())])
    row = read(tmp_path / "articles.csv")[0]
    assert row["title"] == "'=HYPERLINK(\"x\")" and row["author"] == "'-Someone"
    assert row["word_count"] == "2"
    assert neutralise(neutralise("+1")) == "'+1"


def test_failures_accumulate_and_no_temp_files_remain(tmp_path: Path) -> None:
    fail = Failure("x.html", "x.html", "fetch", "not_found", "no such file",
                   "2024-01-01T00:00:00+00:00")
    export(tmp_path, [], [fail])
    export(tmp_path, [], [Failure(**{**vars(fail), "at": "2024-01-02T00:00:00+00:00"})])
    assert len(read(tmp_path / "failures.csv")) == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_failures_keep_one_row_per_failure_even_when_identical(tmp_path: Path) -> None:
    fail = Failure("x.html", "x.html", "fetch", "not_found", "no such file",
                   "2024-01-01T00:00:00+00:00")
    export(tmp_path, [], [fail, fail])  # the same input given twice in one run
    export(tmp_path, [], [fail])  # and again by a run in the same second
    assert len(read(tmp_path / "failures.csv")) == 3


def test_unchanged_article_keeps_its_fetched_at(tmp_path: Path) -> None:
    a = article("https://a.example/1")
    export(tmp_path, [(a, facts())])
    first = snapshot(tmp_path)
    export(tmp_path, [(replace(a, fetched_at="2024-02-01T00:00:00+00:00"), facts())])
    assert snapshot(tmp_path) == first
    changed = replace(a, fetched_at="2024-02-01T00:00:00+00:00", paragraphs=("New.",))
    export(tmp_path, [(changed, facts())])
    assert read(tmp_path / "articles.csv")[0]["fetched_at"] == "2024-02-01T00:00:00+00:00"


def test_companies_follow_the_articles_order(tmp_path: Path) -> None:
    late, early = article("https://a.example/1"), article("https://z.example/2", "2020-01-01")
    export(tmp_path, [(late, facts()), (early, facts())])
    assert [r["url"] for r in read(tmp_path / "companies.csv")] == [early.url, late.url]
    assert [r["url"] for r in read(tmp_path / "articles.csv")] == [early.url, late.url]


def test_long_text_is_cut_to_a_cell_with_the_full_text_beside(tmp_path: Path) -> None:
    # "=" start (neutralised) and characters outside the BMP, which Excel counts twice.
    text = "=" + "\U0001f697 car " * 8000
    a = article("https://a.example/1", text=text)
    export(tmp_path, [(a, facts())])
    row = read(tmp_path / "articles.csv")[0]
    assert row["text"].startswith("'=") and len(row["text"].encode("utf-16-le")) <= 2 * 32_767
    assert row["text_file"] == f"text/{a.article_id}.txt"
    assert (tmp_path / row["text_file"]).read_text(encoding="utf-8") == text
    export(tmp_path, [(article("https://a.example/1", text="Short now."), facts())])
    row = read(tmp_path / "articles.csv")[0]
    assert (row["text"], row["text_file"]) == ("Short now.", "")
    assert not (tmp_path / "text" / f"{a.article_id}.txt").exists()
    assert fit("a" * 40_000) == "a" * 32_767


def test_excel_bom_is_written_kept_and_removed(tmp_path: Path) -> None:
    export(tmp_path, [(article("https://a.example/1"), facts())], excel=True)
    assert all(data.startswith(BOM) for data in snapshot(tmp_path).values())
    export(tmp_path, [(article("https://b.example/1"), facts())])  # None keeps the mark
    assert all(data.startswith(BOM) for data in snapshot(tmp_path).values())
    assert len(read_bom(tmp_path / "articles.csv")) == 2
    publish(tmp_path, "csv", excel=False)
    assert not any(data.startswith(BOM) for data in snapshot(tmp_path).values())
    publish(tmp_path, "csv", excel=True)
    assert snapshot(tmp_path)["deals.csv"].startswith(BOM + b"article_id,")


def read_bom(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_files_get_the_umask_mode_not_mkstemp_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        export(tmp_path, [(article("https://a.example/1"), facts())])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "deals.csv").stat().st_mode) == 0o644


def test_xlsx_has_the_csv_rows_typed_and_safe(tmp_path: Path) -> None:
    export(tmp_path, [(article("https://a.example/1"), facts()),
                      (article("https://b.example/2", "2023-01-01"), facts(90_000))],
           [Failure("=cmd|' /C calc'!A0", "", "fetch", "not_found", "-x", "2024-01-01")])
    [path] = publish(tmp_path, "xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [*COLUMNS, "ledger_deals", "ledger_plants"]
    for table, columns in COLUMNS.items():
        ws = wb[table]
        rows = [[as_csv(v) for v in r] for r in ws.iter_rows(values_only=True)]
        assert rows[0] == list(columns)
        assert rows[1:] == [[utc(r[c]) if c in TIMES else r[c] for c in columns]
                            for r in read(tmp_path / f"{table}.csv")]
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == ws.dimensions
        assert all(ws.column_dimensions[c].width >= 4 for c in "ABC")
        cells = [c for r in ws.iter_rows(min_row=2) for c in r]
        assert not any(c.data_type == "f" for c in cells)  # no formulas, ever
        assert not any(isinstance(c.value, str) and c.value.startswith(FORMULA_START)
                       for c in cells)
    assert wb["capacities"]["F2"].value == 90_000  # numbers stay numbers
    assert wb["failures"]["A2"].value == "'=cmd|' /C calc'!A0"
    before = path.read_bytes()
    publish(tmp_path, "xlsx")
    assert path.read_bytes() == before  # a rerun gives the same workbook, byte for byte


TIMES = {"published", "fetched_at", "at"}


def as_csv(value: object) -> str:
    """A worksheet value as the CSV has it: Excel's times are UTC without a zone."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat()
    return "" if value is None else str(value)


def utc(value: str) -> str:
    """A CSV time in the tables' own form (a date alone is midnight UTC)."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return value
    return (when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()


def test_xlsx_times_are_utc_datetimes_and_urls_are_links(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    china = replace(article("https://a.example/1", "2024-03-15T16:30:00+08:00"),
                    fetched_at="2024-03-16T01:02:03+00:00")
    odd = article("javascript:alert(1)", "yesterday")
    long_url = "https://c.example/" + "x" * MAX_LINK_LENGTH
    export(tmp_path, [(china, facts()), (odd, facts()), (article(long_url, ""), facts())],
           [Failure("in", "=HYPERLINK(\"http://x\")", "fetch", "not_found", "-", "garbage")])
    wb = openpyxl.load_workbook(publish(tmp_path, "xlsx")[0])
    rows = {r[1].value: r for r in wb["articles"].iter_rows(min_row=2)}
    published, fetched = rows[china.url][6], rows[china.url][9]
    # Excel has no time zones: the UTC time, as a date-time with a date format.
    assert published.value == datetime(2024, 3, 15, 8, 30)
    assert fetched.value == datetime(2024, 3, 16, 1, 2, 3)
    assert published.number_format == fetched.number_format == "yyyy-mm-dd hh:mm:ss"
    assert published.data_type == "d" or published.is_date
    assert rows[odd.url][6].value == "yesterday"  # not a time: stays text
    assert rows[long_url][6].value is None  # unknown
    # http(s) URLs are links to themselves; anything else, or too long for Excel, is text.
    assert rows[china.url][1].hyperlink.target == china.url
    assert rows[china.url][1].style == "Hyperlink"
    assert rows[odd.url][1].hyperlink is None and rows[long_url][1].hyperlink is None
    fail = wb["failures"]["B2"]
    assert fail.value == "'=HYPERLINK(\"http://x\")" and fail.hyperlink is None
    assert fail.data_type == "s" and wb["failures"]["F2"].value == "garbage"
    # Numbers are numbers, with a thousands separator where it helps.
    capacity = next(wb["capacities"].iter_rows(min_row=2))
    assert capacity[5].value == 150_000 and capacity[5].number_format == "#,##0"
    assert capacity[7].value == 2024 and capacity[7].number_format == "General"
    assert wb["companies"]["D2"].value == 2  # mentions
    # Excel's 65,530 links a sheet: past the limit, url cells are plain text.
    monkeypatch.setattr(formats, "MAX_LINKS", 1)
    wb = openpyxl.load_workbook(publish(tmp_path, "xlsx")[0])
    links = [r[1].hyperlink for r in wb["articles"].iter_rows(min_row=2)]
    assert sum(link is not None for link in links) == 1


def test_jsonl_parses_with_numbers_as_numbers(tmp_path: Path) -> None:
    export(tmp_path, [(article("https://a.example/1"), facts())])
    paths = publish(tmp_path, "jsonl")
    assert [p.name for p in paths] == [f"{t}.jsonl" for t in COLUMNS]
    lines = (tmp_path / "capacities.jsonl").read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[0])
    assert list(row) == list(COLUMNS["capacities"])
    assert row["units_per_year"] == 150_000 and row["year"] == 2024
    deal = json.loads((tmp_path / "deals.jsonl").read_text(encoding="utf-8"))
    assert deal["year"] is None
    assert (tmp_path / "failures.jsonl").read_bytes() == b""


# A writer killed with SIGKILL at random moments must leave every file either complete old
# or complete new. Two versions of a few hundred articles are exported in turn, forever.
N_ARTICLES = 300
WORKER = """
import sys
from pathlib import Path
from scraper.output.store import export
from tests.test_export import version
out = Path(sys.argv[1])
export(out, version("a"))
print("ready", flush=True)
while True:
    export(out, version("b"))
    export(out, version("a"))
"""


def version(name: str) -> list[tuple[Article, Facts]]:
    """Version "a" or "b" of the same articles: texts and capacities differ."""
    long_text = "Long " * 7_000  # over the cell limit: a side file is written too
    return [(article(f"https://x.example/{i}", f"2024-01-{1 + i % 28:02d}T00:00:00+00:00",
                     (long_text if i % 50 == 0 else f"Version {name} of story {i}. ") * 20),
             facts(units=150_000 if name == "a" else 200_000 + i))
            for i in range(N_ARTICLES)]


def test_sigkill_during_export_leaves_old_or_new_files(tmp_path: Path) -> None:
    refs = {}
    for name in ("a", "b"):
        export(tmp_path / name, version(name))
        refs[name] = {p.relative_to(tmp_path / name): p.read_bytes()
                      for p in (tmp_path / name).rglob("*") if p.is_file()}
    out = tmp_path / "out"
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(6)
    seen: set[str] = set()
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, str(worker), str(out)], env=env,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.05, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        for table in COLUMNS:
            path = Path(f"{table}.csv")
            data = (out / path).read_bytes()
            assert data in (refs["a"][path], refs["b"][path]), table
            read(out / path)  # and it parses
            seen.add("a" if data == refs["a"][path] else "b")
        for side in (out / "text").glob("*.txt"):
            rel = side.relative_to(out)
            assert side.read_bytes() in (refs["a"][rel], refs["b"][rel])
    assert seen == {"a", "b"}  # the kills landed in both halves of the loop
    export(out, version("a"))  # a later run tidies what the killed ones left
    assert not [p for p in out.rglob(".*") if p.name.endswith(".tmp")]

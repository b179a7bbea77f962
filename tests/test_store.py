"""The store of record (state.sqlite) and the exports written from it: the newest articles
only, a person's edits kept, an old folder of CSVs imported, a damaged store rebuilt."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from dataclasses import replace
from pathlib import Path

import openpyxl
import pandas as pd

from extract.records import Article, Deal, Facts
from scraper.app.cli import main
from scraper.core.records import Failure
from scraper.output.formats import xlsx_bytes
from scraper.output.store import STORE_NAME, Store, export
from scraper.output.tables import COLUMNS, TEXT_DIR
from tests.conftest import expected_pages, html_of
from tests.test_export import article, facts, read, snapshot

A = "https://a.example/1"
B = "https://b.example/2"
C = "https://c.example/3"


def three() -> list[tuple[Article, Facts]]:
    return [(article(A, "2024-01-01T00:00:00+00:00"), facts(100_000)),
            (article(B, "2024-02-01T00:00:00+00:00"), facts(200_000)),
            (article(C, "2024-03-01T00:00:00+00:00"), facts(300_000))]


def write_rows(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> None:
    """What a person's spreadsheet saves: the rows they kept, as they left them."""
    text = io.StringIO()
    writer = csv.DictWriter(text, columns or list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(text.getvalue(), encoding="utf-8")


def urls(path: Path) -> list[str]:
    return [r["url"] for r in read(path)]


def test_exports_hold_the_newest_articles_and_the_store_holds_all(tmp_path: Path) -> None:
    export(tmp_path, three(), window=2)
    assert urls(tmp_path / "articles.csv") == [B, C]
    assert urls(tmp_path / "deals.csv") == [B, C]
    # The ledger sums up every article of the store, not only those shown.
    [ledger] = read(tmp_path / "ledger_deals.csv")
    assert ledger["articles"] == "3"
    with Store(tmp_path) as store:
        assert store.count("articles") == 3 and store.count("capacities") == 3
    export(tmp_path, [], window=0)  # 0: every article
    assert urls(tmp_path / "articles.csv") == [A, B, C]


def test_an_undated_article_counts_by_its_fetch_time(tmp_path: Path) -> None:
    undated = replace(article("https://d.example/4", ""), fetched_at="2025-01-01T00:00:00+00:00")
    export(tmp_path, [*three(), (undated, facts())], window=2)
    assert urls(tmp_path / "articles.csv") == ["https://d.example/4", C]


def test_an_export_rewrites_only_the_files_whose_bytes_change(tmp_path: Path) -> None:
    export(tmp_path, three()[1:], window=2)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.csv")}
    export(tmp_path, three()[:1], window=2)  # older than the two shown: only the ledger
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.csv")}
    assert {n for n in before if before[n] != after[n]} == {"ledger_deals.csv",
                                                            "ledger_plants.csv"}


def test_a_deleted_row_stays_deleted_when_its_article_comes_again(tmp_path: Path) -> None:
    export(tmp_path, three())
    path = tmp_path / "capacities.csv"
    kept = [r for r in read(path) if r["url"] != B]
    write_rows(path, kept)
    export(tmp_path, three())  # B extracted again, with the same row
    assert urls(path) == [A, C]
    export(tmp_path, [(article(B, "2024-02-01T00:00:00+00:00"), facts(250_000))])
    # Extraction gives another row now: that one is new to the person, so it shows.
    assert [r["units_per_year"] for r in read(path)] == ["100000", "250000", "300000"]


def test_a_corrected_cell_stays_corrected(tmp_path: Path) -> None:
    export(tmp_path, three())
    deals, articles = tmp_path / "deals.csv", tmp_path / "articles.csv"
    rows = read(deals)
    rows[1]["status"] = "agreed"
    write_rows(deals, rows)
    rows = read(articles)
    rows[0]["title"] = "A title a person wrote"
    write_rows(articles, rows)
    export(tmp_path, three())  # every article extracted again
    assert [r["status"] for r in read(deals)] == ["completed", "agreed", "completed"]
    assert read(articles)[0]["title"] == "A title a person wrote"
    assert read(articles)[1]["title"] == "'=HYPERLINK(\"x\")"
    # The ledger reads the corrected rows: B's report is the latest "agreed"... and C's
    # "completed" is later still.
    [ledger] = read(tmp_path / "ledger_deals.csv")
    assert "2024-02-01: agreed" in ledger["status_history"]


def test_a_column_the_person_added_stays_with_its_values(tmp_path: Path) -> None:
    export(tmp_path, three())
    path = tmp_path / "deals.csv"
    rows = read(path)
    for row in rows:
        row["checked"] = "yes" if row["url"] == A else ""
    columns = ["checked", *COLUMNS["deals"]]
    write_rows(path, rows, columns)
    export(tmp_path, [*three(), (article("https://d.example/4", "2024-04-01T00:00:00+00:00"),
                                 facts())])
    rows = read(path)
    assert list(rows[0]) == columns
    assert [(r["url"], r["checked"]) for r in rows] == [
        (A, "yes"), (B, ""), (C, ""), ("https://d.example/4", "")]
    first = snapshot(tmp_path)
    export(tmp_path, three())
    assert snapshot(tmp_path) == first


def test_a_row_the_person_added_stays(tmp_path: Path) -> None:
    export(tmp_path, three())
    path = tmp_path / "deals.csv"
    rows = read(path)
    rows.append({**rows[0], "target": "Foxconn", "evidence": "Added by hand."})
    write_rows(path, rows)
    export(tmp_path, three())
    assert [(r["url"], r["target"]) for r in read(path)] == [
        (A, "Foxconn"), (A, "JAC"), (B, "JAC"), (C, "JAC")]


def test_a_failure_the_person_deleted_stays_deleted(tmp_path: Path) -> None:
    failure = Failure("x.html", "x.html", "fetch", "missing", "no such file",
                      "2024-01-01T00:00:00+00:00")
    export(tmp_path, three(), [failure])
    path = tmp_path / "failures.csv"
    write_rows(path, [], list(COLUMNS["failures"]))
    later = replace(failure, at="2024-02-01T00:00:00+00:00")
    export(tmp_path, [], [later])
    assert [r["at"] for r in read(path)] == ["2024-02-01T00:00:00+00:00"]


def test_a_folder_of_csvs_from_before_the_store_is_imported(tmp_path: Path) -> None:
    long_text = "Nio builds cars. " * 3000  # past a cell: its text lives in text/
    long = article("https://e.example/5", "2024-05-01T00:00:00+00:00", long_text)
    results = [*three(), (long, facts())]
    export(tmp_path, results)
    path = tmp_path / "companies.csv"
    rows = read(path)
    for row in rows:
        row["note"] = row["url"][-1]
    write_rows(path, rows, [*COLUMNS["companies"], "note"])
    before = snapshot(tmp_path)
    for old in tmp_path.glob(f"{STORE_NAME}*"):  # as the version before the store left it
        old.unlink()
    notices: list[str] = []
    export(tmp_path, [], notice=notices.append)
    assert snapshot(tmp_path) == before
    assert "articles.csv: 4 rows imported into state.sqlite" in notices
    with Store(tmp_path) as store:
        store.pick([long.article_id])
        [row] = store.select("articles", ("text",))
        assert row["text"] == long.text and len(long.text) > 32_767
        assert store.count("deals") == 4
    assert (tmp_path / TEXT_DIR).is_dir()


def test_a_damaged_store_is_set_aside_and_built_again_from_the_csvs(tmp_path: Path) -> None:
    export(tmp_path, three())
    before = snapshot(tmp_path)
    (tmp_path / STORE_NAME).write_bytes(b"not a database " * 500)
    for companion in tmp_path.glob(f"{STORE_NAME}-*"):
        companion.unlink()
    notices: list[str] = []
    export(tmp_path, [], notice=notices.append)
    assert notices[0].startswith("state.sqlite is damaged (")
    assert re.search(r"moved aside as state\.sqlite\.damaged-\d{8}T\d{6}Z", notices[0])
    assert snapshot(tmp_path) == before
    with Store(tmp_path) as store:
        assert store.count("articles") == 3


def test_a_run_adds_one_row_to_the_history(tmp_path: Path) -> None:
    page = html_of(expected_pages()[0])
    for _ in range(2):
        assert main([str(page), "--out", str(tmp_path), "-q", "--workers", "1"]) == 0
    db = sqlite3.connect(tmp_path / STORE_NAME)
    runs = [json.loads(r[0]) for r in db.execute("SELECT counts FROM runs ORDER BY run")]
    db.close()
    assert [(r["written"], r["failed"], r["fetched"]) for r in runs] == [(1, 0, 1), (1, 0, 1)]


def test_a_table_longer_than_a_sheet_goes_on_to_further_sheets() -> None:
    deals = pd.DataFrame([{c: f"{c}{i}" for c in COLUMNS["deals"]} for i in range(5)])
    deals["year"] = ""
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_bytes({"deals": deals}, max_rows=3)))
    assert wb.sheetnames == ["deals", "deals (2)", "deals (3)"]
    sizes = [wb[name].max_row for name in wb.sheetnames]
    assert sizes == [3, 3, 2]  # each with its header, never past the limit
    assert [wb[n]["A2"].value for n in wb.sheetnames] == ["article_id0", "article_id2",
                                                          "article_id4"]


def test_deal_of_an_article_shown_and_not_in_the_window(tmp_path: Path) -> None:
    """A deal reported by an article out of the window still counts in the ledger, and
    leaves it when its article is extracted again without it."""
    export(tmp_path, three(), window=1)
    assert read(tmp_path / "ledger_deals.csv")[0]["articles"] == "3"
    no_deal = replace(facts(100_000), deals=())
    export(tmp_path, [(article(A, "2024-01-01T00:00:00+00:00"), no_deal)], window=1)
    assert read(tmp_path / "ledger_deals.csv")[0]["articles"] == "2"
    other = replace(facts(), deals=(Deal("Nio", "Foxconn", "contract_manufacturing",
                                         "agreed", None, "Nio and Foxconn."),))
    export(tmp_path, [(article(A, "2024-01-01T00:00:00+00:00"), other)], window=1)
    assert sorted(r["target"] for r in read(tmp_path / "ledger_deals.csv")) == ["Foxconn",
                                                                                 "JAC"]


def test_export_writes_any_period_of_the_store(tmp_path: Path) -> None:
    out, dest = tmp_path / "out", tmp_path / "2024-02"
    export(out, three(), window=1)
    assert urls(out / "articles.csv") == [C]
    code = main(["export", str(dest), "-o", str(out), "--since", "2024-01-15",
                 "--until", "2024-03-01", "--format", "xlsx", "-q"])
    assert code == 0
    assert urls(dest / "articles.csv") == [B] and urls(dest / "deals.csv") == [B]
    assert read(dest / "ledger_deals.csv")[0]["articles"] == "3"
    assert openpyxl.load_workbook(dest / "tables.xlsx")["deals"].max_row == 2
    assert main(["export", str(out), "-o", str(out), "-q"]) == 2  # not over the run's own
    assert main(["export", str(dest), "-o", str(tmp_path / "none"), "-q"]) == 2
    assert main(["export", str(dest), "-o", str(out), "--until", "soon", "-q"]) == 2


def test_a_copied_folder_is_not_read_back(tmp_path: Path, caplog) -> None:
    """Files with new times and the bytes exported (a copy, a restore) are no edits."""
    import logging
    import os

    export(tmp_path, three())
    for path in tmp_path.glob("*.csv"):
        os.utime(path, ns=(1, 1))
    with caplog.at_level(logging.INFO, logger="scraper.output.store"):
        export(tmp_path, three())
    assert not [r for r in caplog.records if "edited" in r.getMessage()]
    with Store(tmp_path) as store:
        assert store.count("edits") == 0
        [(mtime,)] = store.db.execute(
            "SELECT mtime_ns FROM exports WHERE name = 'deals.csv'").fetchall()
        assert mtime == 1
    rows = read(tmp_path / "deals.csv")
    rows[0]["status"] = "planned"
    write_rows(tmp_path / "deals.csv", rows)
    with caplog.at_level(logging.INFO, logger="scraper.output.store"):
        export(tmp_path, [])
    assert [r.getMessage() for r in caplog.records if "edited" in r.getMessage()] == [
        "deals.csv was edited: 1 rows added or corrected; 1 rows deleted; the store keeps "
        "the edits for every export"]


def test_the_report_says_what_the_store_holds_beyond_the_tables(tmp_path: Path) -> None:
    from scraper.output.report import REPORT_NAME, write_report

    export(tmp_path, three(), window=1)
    write_report(tmp_path, [], [], 0.0, stored=3)
    page = (tmp_path / REPORT_NAME).read_text(encoding="utf-8")
    assert "The store (state.sqlite) holds 3 articles: the tables show the newest 1" in page
    write_report(tmp_path, [], [], 0.0, stored=1)
    assert "The store (state.sqlite) holds" not in (tmp_path / REPORT_NAME).read_text(
        encoding="utf-8")


def test_a_deleted_table_file_and_an_edited_ledger_are_written_again(tmp_path: Path) -> None:
    export(tmp_path, three())
    ledger_before = (tmp_path / "ledger_deals.csv").read_bytes()
    (tmp_path / "deals.csv").unlink()
    (tmp_path / "ledger_deals.csv").write_text("deal_id\nmine\n", encoding="utf-8")
    export(tmp_path, [])
    assert urls(tmp_path / "deals.csv") == [A, B, C]
    assert (tmp_path / "ledger_deals.csv").read_bytes() == ledger_before

"""Damaged files in the output folder: repaired or moved aside, never fatal to a run."""

from __future__ import annotations

import csv
import io
import random
import re
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from extract.records import Article, Facts
from scraper.core.files import move_aside
from scraper.fetch.state import State
from scraper.fetch.urls import url_key
from scraper.output.formats import publish
from scraper.output.report import write_report
from scraper.output.store import export, repair
from scraper.output.tables import BOM, COLUMNS
from tests.test_export import article, facts, read, snapshot

STAMP = r"\d{8}T\d{6}Z"


def two_articles() -> list[tuple[Article, Facts]]:
    """Our fixture rows; the texts have commas and paragraphs, so their cells are quoted."""
    return [(article("https://a.example/1", "2024-01-01T00:00:00+00:00",
                     "Nio builds cars, at JAC.\n\nMore, later."), facts()),
            (article("https://b.example/2", "2024-02-01T00:00:00+00:00",
                     "Škoda invests €2 billion, says the board.\n\nAnd more."), facts(90_000))]


def third() -> tuple[Article, Facts]:
    return article("https://c.example/3", "2024-03-01T00:00:00+00:00"), facts(70_000)


def exported(out: Path) -> Path:
    export(out, two_articles())
    return out


def resave(path: Path, sep: str = ",", encoding: str = "utf-8",
           order: list[str] | None = None) -> None:
    """What a spreadsheet does on save: its separator, its encoding, CRLF, maybe the
    columns moved around."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = order or list(rows[0])
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, delimiter=sep, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(text.getvalue().encode(encoding))


def run(out: Path, results: list[tuple[Article, Facts]] | None = None) -> list[str]:
    """One export with the third article; returns its notices."""
    notices: list[str] = []
    export(out, results if results is not None else [third()], notice=notices.append)
    return notices


def urls(path: Path) -> list[str]:
    return [row["url"] for row in read(path)]


def asides(out: Path) -> list[str]:
    return sorted(p.name for p in out.glob("*.damaged-*"))


def test_an_emptied_table_is_written_again_from_the_store(tmp_path: Path) -> None:
    out = exported(tmp_path)
    (out / "deals.csv").write_bytes(b"")
    notices = run(out)
    assert urls(out / "deals.csv") == ["https://a.example/1", "https://b.example/2",
                                       "https://c.example/3"]
    assert asides(out) == []
    assert notices == ["deals.csv is damaged (empty (0 bytes)): no edits are read from it; "
                       "it is written again from the store"]


@pytest.mark.parametrize("cut_before", ["€2 billion", "And more."])
def test_file_cut_inside_a_quoted_cell_loses_only_the_cut_row(tmp_path: Path,
                                                              cut_before: str) -> None:
    out = exported(tmp_path)
    path = out / "articles.csv"
    data = path.read_bytes()
    # Inside b's quoted text; before "And more." the file even ends with a newline.
    path.write_bytes(data[:data.index(cut_before.encode())])
    notices = run(out)
    rows = read(path)
    # The cut row is not taken as a row the person deleted: the store has it whole.
    assert [r["url"] for r in rows] == ["https://a.example/1", "https://b.example/2",
                                        "https://c.example/3"]
    assert rows[0]["text"] == "Nio builds cars, at JAC.\n\nMore, later."
    assert rows[1]["text"] == "Škoda invests €2 billion, says the board.\n\nAnd more."
    assert len(notices) == 1 and "articles.csv is damaged" in notices[0]
    assert "last row was cut off" in notices[0] and "written again from the store" in notices[0]
    assert asides(out) == []


def test_file_cut_in_the_middle_of_a_line_drops_the_half_row(tmp_path: Path) -> None:
    out = exported(tmp_path)
    path = out / "capacities.csv"
    data = path.read_bytes()
    path.write_bytes(data[:data.rindex(b"https://b.example") + 12])  # inside the url
    notices = run(out)
    assert urls(path) == ["https://a.example/1", "https://b.example/2", "https://c.example/3"]
    assert all(len(r) == len(COLUMNS["capacities"]) and None not in r.values()
               for r in read(path))
    assert len(notices) == 1
    assert notices[0].startswith("capacities.csv is damaged (its last row was cut off")


def test_utf8_cut_inside_a_character_is_still_utf8(tmp_path: Path) -> None:
    out = exported(tmp_path)
    path = out / "articles.csv"
    data = path.read_bytes()
    path.write_bytes(data[:data.index("€".encode()) + 1])  # the middle of a 3-byte character
    assert "Windows-1252" not in "".join(run(out))
    assert urls(path) == ["https://a.example/1", "https://b.example/2", "https://c.example/3"]


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8", "utf-8-sig"])
def test_spreadsheet_resave_with_semicolons_is_read_back(tmp_path: Path, encoding: str) -> None:
    out = exported(tmp_path)
    before = read(out / "articles.csv")
    for table in COLUMNS:
        if table != "failures":
            resave(out / f"{table}.csv", ";", encoding)
    notices = run(out)
    rows = read(out / "articles.csv") if encoding != "utf-8-sig" else read_bom(out)
    assert rows[:2] == before  # "Škoda", "€", the paragraphs, the "'=" guard: all kept
    assert rows[1]["text"].startswith("Škoda invests €2 billion")
    assert len(notices) == 4 and all("';'-separated" in n for n in notices)
    assert all("no edits in it; written again as a standard CSV" in n for n in notices)
    assert ("read as Windows-1252" in notices[0]) == (encoding == "cp1252")
    # utf-8-sig: the file had a byte-order mark and keeps it; the others have none.
    assert (out / "deals.csv").read_bytes().startswith(BOM) == (encoding == "utf-8-sig")
    header = (out / "deals.csv").read_bytes().removeprefix(BOM).split(b"\n")[0]
    assert header.decode() == ",".join(COLUMNS["deals"])


def read_bom(out: Path) -> list[dict[str, str]]:
    with (out / "articles.csv").open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_cp1252_with_commas(tmp_path: Path) -> None:
    out = exported(tmp_path)
    resave(out / "articles.csv", ",", "cp1252")
    notices = run(out)
    assert read(out / "articles.csv")[1]["text"].startswith("Škoda invests €2 billion")
    assert notices == ["articles.csv was re-saved (read as Windows-1252): no edits in it; "
                       "written again as a standard CSV"]


def test_header_only_table(tmp_path: Path) -> None:
    out = tmp_path
    for table, columns in COLUMNS.items():
        (out / f"{table}.csv").write_text(",".join(columns) + "\n", encoding="utf-8")
    repair(out)
    assert run(out) == []
    assert urls(out / "deals.csv") == ["https://c.example/3"]


def test_columns_in_another_order_are_put_back(tmp_path: Path) -> None:
    out = exported(tmp_path)
    before = read(out / "companies.csv")
    resave(out / "companies.csv", order=list(reversed(COLUMNS["companies"])))
    notices = run(out)
    assert read(out / "companies.csv")[:2] == before
    header = (out / "companies.csv").read_text(encoding="utf-8").split("\n")[0]
    assert header == ",".join(COLUMNS["companies"])
    assert notices == ["companies.csv was re-saved (columns in another order): no edits in "
                       "it; written again as a standard CSV"]


def test_a_column_the_user_added_is_kept_in_place(tmp_path: Path) -> None:
    out = exported(tmp_path)
    path = out / "companies.csv"
    rows = read(path)
    for row in rows:
        row["my_notes"] = f"check {row['url']}, later"
    order = ["article_id", "url", "company", "my_notes", "mentions", "surface_forms"]
    text = io.StringIO()
    writer = csv.DictWriter(text, order, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(text.getvalue(), encoding="utf-8")
    a, b = two_articles()
    # a comes again unchanged, b with other facts, and c is new.
    notices = run(out, [a, (b[0], replace(b[1], companies=())), third()])
    assert notices == []  # an added column is no damage
    assert path.read_text(encoding="utf-8").split("\n")[0] == ",".join(order)
    notes = {r["url"]: r["my_notes"] for r in read(path)}
    assert notes == {"https://a.example/1": "check https://a.example/1, later",
                     "https://c.example/3": ""}
    first = snapshot(out)
    run(out, [a, third()])
    assert snapshot(out) == first  # a rerun keeps the notes, byte for byte


def test_random_bytes_are_moved_aside(tmp_path: Path) -> None:
    out = exported(tmp_path)
    garbage = random.Random(7).randbytes(5000)
    (out / "deals.csv").write_bytes(garbage)
    notices = run(out)
    [aside] = asides(out)
    assert re.fullmatch(rf"deals\.csv\.damaged-{STAMP}", aside)
    assert (out / aside).read_bytes() == garbage  # kept, untouched, for a person to look at
    # Nothing is lost: the store writes the table again, old rows and new.
    assert urls(out / "deals.csv") == ["https://a.example/1", "https://b.example/2",
                                       "https://c.example/3"]
    assert len(notices) == 1 and notices[0].startswith("deals.csv cannot be read (")
    assert f"moved aside as {aside}" in notices[0]
    assert urls(out / "articles.csv") == [a.url for a, _ in [*two_articles(), third()]]


@pytest.mark.parametrize("data", [b"\x00" * 300, b"<html><body>Not found</body></html>\n",
                                  b"article_id,url\n1,2,3,4\n"])
def test_other_files_in_place_of_a_table_are_moved_aside(tmp_path: Path, data: bytes) -> None:
    out = exported(tmp_path)
    (out / "failures.csv").write_bytes(data)
    notices = run(out)
    assert len(notices) == 1 and len(asides(out)) == 1
    assert read(out / "failures.csv") == []  # the store had no failures either


def test_repair_before_a_run_that_writes_nothing(tmp_path: Path) -> None:
    out = exported(tmp_path)
    (out / "deals.csv").write_bytes(random.Random(8).randbytes(3000))
    resave(out / "capacities.csv", ";", "cp1252")
    untouched = {name: data for name, data in snapshot(out).items()
                 if name not in ("deals.csv", "capacities.csv")}
    notices: list[str] = []
    repair(out, notices.append)
    assert [n.split(" ")[0] for n in notices] == ["deals.csv", "capacities.csv"]
    assert {n: d for n, d in snapshot(out).items() if n in untouched} == untouched
    assert len(read(out / "capacities.csv")) == 2 and len(read(out / "deals.csv")) == 2
    # Every reader of the folder copes now: the formats and report.html.
    publish(out, "xlsx")
    publish(out, "jsonl")
    write_report(out, [], [], 0.0)
    again: list[str] = []
    repair(out, again.append)
    assert again == []


def test_tables_in_good_order_are_left_alone(tmp_path: Path) -> None:
    out = exported(tmp_path)
    export(out, [], excel=True)  # with byte-order marks too
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.glob("*.csv")}
    notices: list[str] = []
    repair(out, notices.append)
    repair(tmp_path / "missing", notices.append)
    assert notices == [] and not (tmp_path / "missing").exists()
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.glob("*.csv")} == before


# The crawl state.

def state_with_rows(out: Path) -> Path:
    path = out / "state.sqlite"
    with State(path) as state:
        state.seen_many([(f"https://x.example/{i}", f"https://x.example/{i}", "article", "")
                         for i in range(300)])
        for i in range(10):
            state.answered(f"feed{i}", f"https://x.example/feed{i}", "feed", 200,
                           {"etag": '"e"'}, random.Random(i).randbytes(4000))
    return path


@pytest.mark.parametrize("damage", ["truncate", "header", "garbage"])
def test_damaged_state_is_moved_aside_and_rebuilt(tmp_path: Path, damage: str) -> None:
    out = exported(tmp_path)
    path = state_with_rows(out)
    data = path.read_bytes()
    damaged = {"truncate": data[:len(data) // 2],
               "header": b"\xff" * 16 + data[16:],
               "garbage": random.Random(3).randbytes(len(data))}[damage]
    path.write_bytes(damaged)
    notices: list[str] = []
    with State(path, notice=notices.append) as state:
        assert state.count("seen") == 0 and state.count("done") == 2
        for a, _ in two_articles():
            key = url_key(a.url)
            known = state.get(key)
            assert known is not None and (known.kind, known.state) == ("article", "done")
            assert (known.etag, known.last_modified, known.content_hash) == (None, None, None)
            assert state.rebuilt(key) and state.is_final(key)
            assert state.canonical_done(a.url, "another key")
        row = state.db.execute("SELECT published, canonical FROM urls WHERE key = ?",
                               (url_key("https://b.example/2"),)).fetchone()
        assert row == ("2024-02-01T00:00:00+00:00", "https://b.example/2")
        state.answered(url_key("https://a.example/1"), "https://a.example/1", "article", 200,
                       {}, b"<html></html>")
        assert not state.rebuilt(url_key("https://a.example/1"))
        assert not state.rebuilt("https://x.example/0")
    [aside] = asides(out)
    assert re.fullmatch(rf"state\.sqlite\.damaged-{STAMP}", aside)
    assert (out / aside).read_bytes() == damaged
    assert len(notices) == 1 and notices[0].startswith("state.sqlite is damaged (")
    assert f"moved aside as {aside}" in notices[0] and "2 articles" in notices[0]
    with State(path, notice=notices.append) as state:  # the new one is whole
        assert state.count("done") == 2
    assert len(notices) == 1


def test_move_aside_takes_the_companion_files(tmp_path: Path) -> None:
    # SQLite removes the -wal and -shm files when it closes the damaged file; those that a
    # killed process left behind go along with it, so they never meet the new file.
    for name, data in [("state.sqlite", b"db"), ("state.sqlite-wal", b"wal"),
                       ("state.sqlite-shm", b"shm"), ("state.sqlite.lock", b"1")]:
        (tmp_path / name).write_bytes(data)
    aside = move_aside(tmp_path / "state.sqlite", ("-wal", "-shm", "-journal"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [aside.name, f"{aside.name}-shm", f"{aside.name}-wal", "state.sqlite.lock"])
    assert (tmp_path / f"{aside.name}-wal").read_bytes() == b"wal"
    assert move_aside(tmp_path / "state.sqlite.lock").name.startswith("state.sqlite.lock.")


def test_state_rebuilt_from_tables_elsewhere(tmp_path: Path) -> None:
    out = exported(tmp_path / "out")
    path = tmp_path / "state" / "crawl.sqlite"
    path.parent.mkdir()
    path.write_bytes(b"not a database at all" * 100)
    with State(path, tables=out) as state:
        assert state.rebuilt(url_key("https://a.example/1"))


def test_empty_state_file_is_a_new_state(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"")
    notices: list[str] = []
    with State(path, notice=notices.append) as state:
        assert state.count("done") == 0
    assert notices == [] and asides(tmp_path) == []


def test_other_sqlite_errors_are_not_taken_for_damage(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.mkdir()  # cannot be opened as a file at all
    with pytest.raises(sqlite3.OperationalError):
        State(path)
    assert asides(tmp_path) == []

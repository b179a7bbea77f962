"""Export: the CSV contract, merging, atomic writes, spreadsheet safety."""

from __future__ import annotations

import csv
from pathlib import Path

from extract.export import COLUMNS, Failure, export, neutralise
from extract.records import Article, Capacity, CompanyMention, Deal, Facts


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

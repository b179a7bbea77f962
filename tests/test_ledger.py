"""The ledger: one row per deal and per plant across articles, kept in step with the store."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from extract.records import Article, Capacity, Deal, Facts
from scraper.output import ledger
from scraper.output.store import export
from scraper.output.tables import COLUMNS, csv_bytes, frame, read_table


def article(n: int, day: str, site: str = "Example") -> Article:
    url = f"https://news.example/{n}"
    return Article(url=url, input=url, site=site, title=f"Story {n}", author="",
                   published=f"2024-{day}T08:00:00+00:00", source_credit="",
                   paragraphs=("Text.",), fetched_at="2024-12-31T00:00:00+00:00")


def deal(status: str, acquirer: str = "Nio", target: str = "JAC",
         deal_type: str = "acquisition", evidence: str = "") -> Deal:
    return Deal(acquirer, target, deal_type, status, 2024,
                evidence or f"Nio and JAC: {status}.")


def facts(*deals: Deal, capacities: tuple[Capacity, ...] = ()) -> Facts:
    return Facts(companies=(), deals=deals, capacities=capacities)


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_same_deal_in_two_articles_is_one_row_with_both(tmp_path: Path) -> None:
    a, b = article(1, "03-01", "CnEVPost"), article(2, "03-05", "Reuters")
    export(tmp_path, [(a, facts(deal("rumored", evidence="Nio is reportedly in talks.")))])
    export(tmp_path, [(b, facts(deal("agreed")))])
    [row] = read(tmp_path / "ledger_deals.csv")
    assert row["status"] == "agreed"
    assert row["status_history"] == "2024-03-01: rumored; 2024-03-05: agreed"
    assert row["article_ids"].split("; ") == [a.article_id, b.article_id]
    assert (row["articles"], row["sources"]) == ("2", "CnEVPost; Reuters")
    assert (row["first_reported"], row["last_reported"]) == ("2024-03-01", "2024-03-05")
    assert row["signal"] == "corroborated" and row["evidence"] == "Nio and JAC: agreed."


def test_replacing_an_article_updates_the_history(tmp_path: Path) -> None:
    a, b = article(1, "03-01"), article(2, "03-05", "Other")
    export(tmp_path, [(a, facts(deal("planned"))), (b, facts(deal("agreed")))])
    export(tmp_path, [(b, facts(deal("completed")))])  # the article was corrected
    [row] = read(tmp_path / "ledger_deals.csv")
    assert row["status"] == "completed"
    assert row["status_history"] == "2024-03-01: planned; 2024-03-05: completed"


def test_deleting_an_article_removes_its_contribution(tmp_path: Path) -> None:
    a, b = article(1, "03-01"), article(2, "03-05", "Other")
    export(tmp_path, [(a, facts(deal("agreed"), deal("rumored", "Xiaomi", "BAIC"))),
                      (b, facts(deal("completed")))])
    assert len(read(tmp_path / "ledger_deals.csv")) == 2
    export(tmp_path, [], dropped=[a.article_id])
    [row] = read(tmp_path / "ledger_deals.csv")  # Xiaomi-BAIC: no article reports it now
    assert (row["acquirer"], row["status_history"]) == ("Nio", "2024-03-05: completed")
    assert row["articles"] == "1" and row["signal"] == ""
    export(tmp_path, [], dropped=[b.article_id])
    assert read(tmp_path / "ledger_deals.csv") == []


def test_joint_venture_in_either_order_and_a_same_day_conflict(tmp_path: Path) -> None:
    export(tmp_path, [
        (article(1, "05-01"), facts(deal("agreed", "Renault", "Geely", "joint_venture"))),
        (article(2, "05-31", "A"), facts(deal("agreed", "Geely", "Renault", "joint_venture"))),
        (article(3, "05-31", "B"), facts(deal("completed", "Renault", "Geely",
                                              "joint_venture")))])
    [row] = read(tmp_path / "ledger_deals.csv")
    assert (row["acquirer"], row["target"], row["articles"]) == ("Renault", "Geely", "3")
    # Same day, two statuses: the report furthest along in the deal's life wins.
    assert row["status"] == "completed"
    assert row["status_history"] == "2024-05-01: agreed; 2024-05-31: completed"


def test_single_hedged_source_is_marked() -> None:
    rows = [{"article_id": "x", "url": "https://a.example/x", "published": "2024-01-01",
             "acquirer": "Foxconn", "target": "Nissan", "deal_type": "acquisition",
             "status": "rumored", "year": "", "evidence": "Foxconn reportedly eyes Nissan."}]
    [row] = ledger.build(rows, [], [])["ledger_deals"]
    assert row["signal"] == "single_source" and row["sources"] == "a.example"
    plain = [{**rows[0], "evidence": "Foxconn bought a stake in Nissan."}]
    assert ledger.build(plain, [], [])["ledger_deals"][0]["signal"] == ""


def capacity(units: int, facility: str = "", location: str = "", kind: str = "total",
             year: int | None = None, company: str = "BYD") -> Capacity:
    return Capacity(company, facility, units, kind, year, f"{company} builds {units}.",
                    location)


def test_plants_grow_by_phases_and_two_plants_of_one_maker_stay_apart(tmp_path: Path) -> None:
    export(tmp_path, [
        (article(1, "01-10"), facts(capacities=(capacity(150_000, "Camaçari plant", "Brazil"),
                                                capacity(150_000, "second phase", "Brazil",
                                                         "added")))),
        (article(2, "02-10"), facts(capacities=(capacity(150_000, "Rayong plant",
                                                         "Thailand"),))),
        (article(3, "06-10", "Other"), facts(capacities=(capacity(300_000, "Camaçari factory",
                                                                  "Brazil"),))),
        (article(4, "06-11"), facts(capacities=(capacity(20_000, year=2024),)))])
    rows = {r["plant"] or r["years"]: r for r in read(tmp_path / "ledger_plants.csv")}
    # A tie between spellings goes to the latest one.
    assert set(rows) == {"Camaçari factory", "Rayong plant", "2024"}
    camacari = rows["Camaçari factory"]
    assert (camacari["units_per_year"], camacari["kind"]) == ("300000", "total")
    assert camacari["history"] == "2024-01-10: 150000; 2024-06-10: 300000"
    assert (camacari["location"], camacari["articles"]) == ("Brazil", "2")
    assert camacari["url"] == "https://news.example/3"
    capacities = read(tmp_path / "capacities.csv")
    assert list(capacities[0])[-1] == "location" == COLUMNS["capacities"][-1]


def full_rebuild(out: Path) -> dict[str, bytes]:
    tables = {t: read_table(out / f"{t}.csv", t).to_dict("records")
              for t in ("deals", "capacities", "articles")}
    built = ledger.build(tables["deals"], tables["capacities"], tables["articles"])
    return {t: csv_bytes(frame(t, rows), False) for t, rows in built.items()}


@pytest.mark.parametrize("seed", range(4))
def test_incremental_ledger_equals_a_full_rebuild(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    names = [("Nio", "JAC"), ("JAC", "Nio"), ("Xiaomi", "BAIC"), ("Honda", "Nissan")]
    statuses = list(ledger.STATUS_ORDER)
    live: set[int] = set()
    for _ in range(12):
        n = rng.randrange(8)
        if n in live and rng.random() < 0.3:
            export(tmp_path, [], dropped=[article(n, "01-01").article_id])
            live.discard(n)
        else:
            picks = rng.sample(names, rng.randrange(3))
            deals = tuple(deal(rng.choice(statuses), a, t, rng.choice(
                ["joint_venture", "acquisition"])) for a, t in picks)
            caps = tuple(capacity(rng.choice([50_000, 100_000]),
                                  rng.choice(["", "Szeged plant", "first phase"]),
                                  rng.choice(["", "Hungary"]), year=rng.choice([None, 2025]))
                         for _ in range(rng.randrange(3)))
            site = rng.choice(["A", "B"])
            day = f"0{rng.randrange(1, 4)}-0{rng.randrange(1, 4)}"
            export(tmp_path, [(article(n, day, site), facts(*deals, capacities=caps))])
            live.add(n)
        for table, data in full_rebuild(tmp_path).items():
            assert (tmp_path / f"{table}.csv").read_bytes() == data, table


def test_a_damaged_ledger_is_rebuilt(tmp_path: Path) -> None:
    export(tmp_path, [(article(1, "03-01"), facts(deal("agreed")))])
    (tmp_path / "ledger_deals.csv").write_text("not,a,ledger\n1,2,3\n", encoding="utf-8")
    export(tmp_path, [(article(2, "03-02", "Other"), facts(deal("completed")))])
    [row] = read(tmp_path / "ledger_deals.csv")
    assert row["articles"] == "2" and row["status"] == "completed"

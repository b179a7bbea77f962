"""The ledger: one row per real-world deal and per plant, across every article reporting it.

Pure functions from the fact tables' rows (as the CSVs hold them: strings) to ledger rows;
no I/O. `store.export` calls `update` after merging the fact tables and writes
`ledger_deals.csv` and `ledger_plants.csv` with the same writer as the other tables.

A deal is keyed by (acquirer, target, deal_type) after folding case, punctuation and legal
suffixes; a joint venture's partners in either order are one deal. A plant is keyed by its
company and its place: the facility's name without its kind word ("Shanghai Gigafactory"
-> "shanghai"), else the location named with it; figures with neither are grouped per
company and year. Each key has a stable id (a hash of the key), so that a run can replace
the rows of the keys its articles touch and keep the others: `update` of a previous ledger
equals `build` of the whole tables.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

Row = Mapping[str, str]
Key = tuple[str, str, str]
KeyOf = Callable[[Row], Key]
Make = Callable[[Key, list[Row], Mapping[str, Row]], dict[str, str]]

LEDGER_COLUMNS: dict[str, tuple[str, ...]] = {
    "ledger_deals": ("deal_id", "acquirer", "target", "deal_type", "status",
                     "first_reported", "last_reported", "status_history", "year", "articles",
                     "sources", "article_ids", "signal", "evidence", "url"),
    "ledger_plants": ("plant_id", "company", "plant", "location", "units_per_year", "kind",
                      "history", "years", "first_reported", "last_reported", "articles",
                      "sources", "article_ids", "signal", "evidence", "url"),
}
# Order of a deal's life: on one day, the report furthest along wins (a slower outlet
# repeats the state of the day before; a report does not go back in time).
STATUS_ORDER = ("rumored", "planned", "agreed", "completed", "dissolved")
SEPARATOR = "; "
CORROBORATED, SINGLE_SOURCE = "corroborated", "single_source"
# Words that make a sentence a hedge rather than a report: a single site saying so is weak.
HEDGES = ("reportedly", "people familiar", "sources said", "source said", "according to people",
          "according to sources", "according to a person", "according to reports",
          "is said to", "are said to", "rumor", "rumour", "speculat", "could ", "may ",
          "might ", "considering", "is weighing", "in talks", "exploring", "mulling",
          "unconfirmed", "not yet confirmed", "insider")
HEDGE = re.compile("|".join(re.escape(h) for h in HEDGES), re.I)
LEGAL = re.compile(r"\b(?:inc|ltd|llc|plc|corp|corporation|co|company|limited|ag|se|sa|"
                   r"gmbh|nv|bv)\b\.?", re.I)
# The kind word of a facility's name; what is left is the place that names the plant.
PLANT_WORDS = re.compile(r"\b(?:plant|plants|factory|factories|gigafactory|giga|megafactory|"
                         r"base|facility|works|site|complex|hub|line|park|campus)\b", re.I)
PHASE = re.compile(r"\b(?:phase|stage)\b", re.I)


def norm(name: str) -> str:
    """A name as a key: case, legal suffixes, punctuation and spacing folded."""
    name = LEGAL.sub(" ", name.lstrip("'"))
    return " ".join(re.sub(r"[^\w]+", " ", name.casefold()).split())


def ledger_id(*key: str) -> str:
    """A stable short hash of a ledger key (12 hex digits, like article_id)."""
    return hashlib.sha1("\x1f".join(key).encode("utf-8")).hexdigest()[:12]


def deal_key(row: Row) -> Key:
    acquirer, target = norm(row.get("acquirer", "")), norm(row.get("target", ""))
    deal_type = row.get("deal_type", "")
    if deal_type == "joint_venture" and target < acquirer:
        acquirer, target = target, acquirer  # partners in either order: one venture
    return acquirer, target, deal_type


def place_of(facility: str) -> str:
    """The place that names a plant ("Shanghai Gigafactory" -> "shanghai"); "" for a phase
    ("second phase") or a bare kind word."""
    if PHASE.search(facility):
        return ""
    return norm(PLANT_WORDS.sub(" ", facility))


def plant_key(row: Row) -> Key:
    """(company, place, year): the year only for figures that name no place."""
    place = place_of(row.get("facility", "")) or norm(row.get("location", ""))
    return norm(row.get("company", "")), place, "" if place else row.get("year", "")


def day(row: Row) -> str:
    return (row.get("published") or "")[:10]


def hedged(text: str) -> bool:
    return bool(HEDGE.search(text))


def signal(sites: set[str], evidence: Iterable[str]) -> str:
    """`corroborated` for two or more sites; `single_source` for one site with a hedged
    sentence; else empty."""
    if len(sites) >= 2:
        return CORROBORATED
    return SINGLE_SOURCE if any(hedged(e) for e in evidence) else ""


def site_of(row: Row, articles: Mapping[str, Row]) -> str:
    site = articles.get(row.get("article_id", ""), {}).get("site", "")
    if site:
        return site
    host = re.match(r"[a-z][a-z0-9+.-]*://([^/]+)", row.get("url", ""), re.I)
    return host.group(1).lower() if host else row.get("url", "")


def most_cited(values: Sequence[str]) -> str:
    """The value cited most; a tie goes to the one cited last (values in date order)."""
    counts = Counter(v for v in values if v)
    if not counts:
        return ""
    last = {v: i for i, v in enumerate(values)}
    return max(counts, key=lambda v: (counts[v], last[v]))


def in_order(rows: Iterable[Row]) -> list[Row]:
    """Rows by date (undated first: they never count as the latest), then url."""
    return sorted(rows, key=lambda r: (day(r), r.get("url", ""), r.get("article_id", ""),
                                       tuple(sorted(r.items()))))


def common(rows: list[Row], articles: Mapping[str, Row], latest: Row) -> dict[str, str]:
    """The columns deals and plants share."""
    ids = list(dict.fromkeys(r.get("article_id", "") for r in rows))
    sites = {site_of(r, articles) for r in rows}
    dates = [d for d in map(day, rows) if d]
    return {"first_reported": min(dates, default=""), "last_reported": max(dates, default=""),
            "articles": str(len(ids)), "sources": SEPARATOR.join(sorted(sites)),
            "article_ids": SEPARATOR.join(ids),
            "signal": signal(sites, (r.get("evidence", "") for r in rows)),
            "evidence": latest.get("evidence", ""), "url": latest.get("url", "")}


def status_of(rows: Sequence[Row]) -> Row:
    """The report that states a day's status: the one furthest along in a deal's life."""
    return max(rows, key=lambda r: (STATUS_ORDER.index(r["status"])
                                    if r.get("status") in STATUS_ORDER else -1))


def timeline(rows: list[Row], pick: Callable[[Sequence[Row]], Row], field: str
             ) -> tuple[list[tuple[str, str]], Row]:
    """(date, value) each time `field` changes, one value a day (`pick` chooses among a
    day's reports), and the latest day's report; `rows` in date order."""
    by_day: dict[str, list[Row]] = {}
    for r in rows:
        by_day.setdefault(day(r), []).append(r)
    history: list[tuple[str, str]] = []
    for d, same_day in by_day.items():
        value = pick(same_day).get(field, "")
        if d and (not history or history[-1][1] != value):
            history.append((d, value))
    return history, pick(by_day[max(by_day)])


def deal_row(key: Key, rows: list[Row],
             articles: Mapping[str, Row]) -> dict[str, str]:
    rows = in_order(rows)
    history, latest = timeline(rows, status_of, "status")
    # Display names: the spelling and (for a venture) the order cited most.
    pair = most_cited([f"{r.get('acquirer', '')}\x1f{r.get('target', '')}" for r in rows])
    acquirer, target = pair.split("\x1f")
    return {"deal_id": ledger_id(*key), "acquirer": acquirer, "target": target,
            "deal_type": key[2], "status": latest.get("status", ""),
            "status_history": SEPARATOR.join(f"{d}: {s}" for d, s in history),
            "year": most_cited([r.get("year", "") for r in rows]),
            **common(rows, articles, latest)}


def figure_of(rows: Sequence[Row]) -> Row:
    """A day's figure: a total before an added phase, then the largest."""
    return max(rows, key=lambda r: (r.get("kind") == "total",
                                    int(r["units_per_year"]) if r.get(
                                        "units_per_year", "").isdigit() else -1))


def plant_row(key: Key, rows: list[Row],
              articles: Mapping[str, Row]) -> dict[str, str]:
    rows = in_order(rows)
    history, latest = timeline(rows, figure_of, "units_per_year")
    named = [r.get("facility", "") for r in rows if key[1] and place_of(r.get("facility", ""))]
    years = sorted({r.get("year", "") for r in rows if r.get("year")})
    return {"plant_id": ledger_id(*key), "company": most_cited([r.get("company", "")
                                                                for r in rows]),
            "plant": most_cited(named), "location": most_cited([r.get("location", "")
                                                                for r in rows]),
            "units_per_year": latest.get("units_per_year", ""), "kind": latest.get("kind", ""),
            "history": SEPARATOR.join(f"{d}: {u}" for d, u in history),
            "years": SEPARATOR.join(years), **common(rows, articles, latest)}


def named_plants(rows: Iterable[Row]) -> dict[tuple[str, str], set[str]]:
    """(article_id, company) -> the plants an article names for that company."""
    out: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        place = place_of(r.get("facility", ""))
        if place:
            out.setdefault((r.get("article_id", ""), norm(r.get("company", ""))),
                           set()).add(place)
    return out


def group(rows: Iterable[Row], key_of: KeyOf) -> dict[Key, list[Row]]:
    """Rows by key; a deal needs both parties, a plant its company. A phase or an unnamed
    figure goes with the one plant its own article names for that company ("the Camaçari
    plant ... a second phase will add"): only the article's own rows decide, so that a
    ledger row depends on its articles alone."""
    rows = list(rows)
    plants = named_plants(rows) if key_of is plant_key else {}
    out: dict[Key, list[Row]] = {}
    for r in rows:
        key = key_of(r)
        if key_of is plant_key and not place_of(r.get("facility", "")):
            [*same] = plants.get((r.get("article_id", ""), key[0]), ())
            if len(same) == 1:
                key = (key[0], same[0], "")
        if key[0] and (key[1] or key_of is plant_key):
            out.setdefault(key, []).append(r)
    return out


def sort_ledger(rows: Iterable[Mapping[str, str]], table: str) -> list[dict[str, str]]:
    """Deterministic order: by the names (case folded), then every column."""
    columns = LEDGER_COLUMNS[table]
    names = columns[1:4]
    return sorted((dict(r) for r in rows),
                  key=lambda r: (*(r.get(c, "").casefold() for c in names),
                                 *(r.get(c, "") for c in columns)))


def build(deals: Iterable[Row], capacities: Iterable[Row],
          articles: Iterable[Row]) -> dict[str, list[dict[str, str]]]:
    """Both ledgers from the whole fact tables."""
    by_id = {a.get("article_id", ""): a for a in articles}
    return {
        "ledger_deals": sort_ledger((deal_row(k, v, by_id)
                                     for k, v in group(deals, deal_key).items()),
                                    "ledger_deals"),
        "ledger_plants": sort_ledger((plant_row(k, v, by_id)
                                      for k, v in group(capacities, plant_key).items()),
                                     "ledger_plants"),
    }


def update(previous: Mapping[str, Sequence[Row]], touched: set[str], deals: Iterable[Row],
           capacities: Iterable[Row], articles: Iterable[Row]
           ) -> dict[str, list[dict[str, str]]]:
    """The ledgers after a run that wrote (or removed) the articles `touched`.

    Only the keys those articles had (named in the previous ledger's `article_ids`) or have
    now (their rows in the merged tables) are computed again; every other row of
    `previous` is kept as it is. A key no article reports any more disappears.
    """
    by_id = {a.get("article_id", ""): a for a in articles}
    out: dict[str, list[dict[str, str]]] = {}
    tables: tuple[tuple[str, Iterable[Row], KeyOf, Make], ...] = (
        ("ledger_deals", deals, deal_key, deal_row),
        ("ledger_plants", capacities, plant_key, plant_row))
    for table, rows, key_of, make in tables:
        id_column = LEDGER_COLUMNS[table][0]
        old = previous.get(table, ())
        stale = {r.get(id_column, "") for r in old
                 if touched.intersection(r.get("article_ids", "").split(SEPARATOR))}
        groups = group(rows, key_of)
        ids = {k: ledger_id(*k) for k in groups}
        stale |= {ids[k] for k, v in groups.items()
                  if any(r.get("article_id") in touched for r in v)}
        kept = [r for r in old if r.get(id_column, "") not in stale]
        fresh = [make(k, v, by_id) for k, v in groups.items()
                 if ids[k] in stale]
        out[table] = sort_ledger([*kept, *fresh], table)
    return out

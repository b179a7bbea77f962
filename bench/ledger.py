#!/usr/bin/env python3
"""Score the ledger on the gold article groups (fixtures/ledger/groups.jsonl).

    python bench/ledger.py            the figures
    python bench/ledger.py --errors   also every ledger row that is wrong or missing

The input is the gold per-article facts (not the extractor's), so this measures the ledger
alone: how articles' facts are joined into one row per deal and per plant. Printed:
precision and recall of ledger rows (deals by acquirer, target and type; plants by company
and place), the share of matched rows whose latest status (deals) or latest figure and kind
(plants) is right, and, for each corroboration signal, how many of its rows are right.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scraper.output import ledger  # noqa: E402

GROUPS = ROOT / "fixtures" / "ledger" / "groups.jsonl"


def cell(value: object) -> str:
    return "" if value is None else str(value)


def tables(groups: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """The fact tables' rows (strings, as in the CSVs) of every article of every group."""
    deals, capacities, articles = [], [], []
    for group in groups:
        for a in group["articles"]:
            url = f"https://{a['site']}/{a['id']}"
            base = {"article_id": a["id"], "url": url, "published": a["published"]}
            articles.append({**base, "site": a["site"]})
            deals += [{**base, **{k: cell(v) for k, v in d.items()}} for d in a["deals"]]
            capacities += [{**base, **{k: cell(v) for k, v in c.items()}}
                           for c in a["capacities"]]
    return deals, capacities, articles


def expected(groups: list[dict]) -> tuple[dict, dict]:
    deals, plants = {}, {}
    for group in groups:
        for d in group["expected"]["deals"]:
            deals[ledger.deal_key(d)] = d
        for p in group["expected"]["plants"]:
            plants[ledger.plant_key({k: cell(v) for k, v in p.items()})] = p
    return deals, plants


def prf(found: set, gold: set) -> str:
    tp = len(found & gold)
    p = tp / len(found) if found else 0.0
    r = tp / len(gold) if gold else 0.0
    return f"P {p:.3f}  R {r:.3f}  ({tp} of {len(found)} found, {len(gold)} expected)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--errors", action="store_true", help="print every wrong row")
    args = parser.parse_args()
    groups = [json.loads(line) for line in GROUPS.read_text(encoding="utf-8").splitlines()]
    clean = [{**g, "articles": [a for a in g["articles"] if not a.get("noise")]}
             for g in groups]
    print("The gold per-article facts alone:")
    score(clean, args.errors)
    print("\nWith the wrong facts added (one article each, as an extractor gives them):")
    score(groups, args.errors)
    return 0


def score(groups: list[dict], errors: bool) -> None:
    n_articles = sum(len(g["articles"]) for g in groups)
    built = ledger.build(*tables(groups))
    gold_deals, gold_plants = expected(groups)
    rows = {
        "deals": {ledger.deal_key(r): r for r in built["ledger_deals"]},
        "plants": {ledger.plant_key({"company": r["company"], "facility": r["plant"],
                                     "location": r["location"], "year": r["years"]}): r
                   for r in built["ledger_plants"]},
    }
    gold = {"deals": gold_deals, "plants": gold_plants}

    def right(kind: str, key: tuple, row: dict) -> bool:
        want = gold[kind].get(key)
        if want is None:
            return False
        if kind == "deals":
            return bool(row["status"] == want["status"])
        return bool(row["units_per_year"] == str(want["units_per_year"])
                    and row["kind"] == want["kind"])

    print(f"{len(groups)} groups, {n_articles} articles")
    signals: dict[str, Counter[str]] = {}
    for kind in ("deals", "plants"):
        found, want = set(rows[kind]), set(gold[kind])
        matched = found & want
        latest = sum(right(kind, k, rows[kind][k]) for k in matched)
        counts = sum(rows[kind][k]["articles"] == str(gold[kind][k]["articles"])
                     for k in matched)
        what = "status" if kind == "deals" else "figure and kind"
        print(f"ledger {kind:6}  {prf(found, want)}")
        unflagged = {k for k in found if rows[kind][k]["signal"] != ledger.SINGLE_SOURCE}
        print(f"  without single_source rows: {prf(unflagged, want)}")
        print(f"  latest {what} right: {latest / len(matched) if matched else 0:.3f}"
              f"   article count right: {counts / len(matched) if matched else 0:.3f}")
        for key, row in rows[kind].items():
            ok = right(kind, key, row)
            tally = signals.setdefault(row["signal"] or "(neither)", Counter())
            tally["right" if ok else "wrong"] += 1
            if errors and not ok:
                print(f"    wrong: {key} -> {row.get('status') or row.get('units_per_year')}"
                      f" ({row['articles']} articles, {row['signal'] or 'no signal'})")
        if errors:
            for key in sorted(want - found):
                print(f"    missing: {key}")
    print("rows right (the row is expected and its latest status or figure is right), "
          "by signal:")
    for name in (ledger.CORROBORATED, "(neither)", ledger.SINGLE_SOURCE):
        t = signals.get(name, Counter())
        n = t["right"] + t["wrong"]
        share = f"{t['right'] / n:.3f}" if n else "  -  "
        print(f"  {name:13} {share}  ({t['right']} of {n})")


if __name__ == "__main__":
    sys.exit(main())

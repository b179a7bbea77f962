#!/usr/bin/env python3
"""Score the fact extraction on a gold set of passages.

    python bench/facts.py [--gold fixtures/gold/passages.jsonl] [--model NAME] [--errors]

Prints precision, recall and F1 for companies, deals (acquirer, target, type) and
capacities (company, units_per_year), and, in the same run, the baseline "the trained
model's ORG entities only" for companies (given the benefit of the gazetteer's alias table
to name what it finds). A gold file is JSON lines: {"id", "text", "companies": [...],
"deals": [{acquirer, target, deal_type, status, year}], "capacities": [{company,
units_per_year, kind, year}]}. Pass another --gold (real news this repository does not
hold) to check that the rules are general.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import spacy  # noqa: E402

from extract.nlp.companies import PATTERNS, load_gazetteer  # noqa: E402
from extract.nlp.facts import facts_from_doc  # noqa: E402
from extract.nlp.pipeline import EXCLUDE, load_pipeline, resolve_model  # noqa: E402


class Score:
    def __init__(self) -> None:
        self.tp = self.fp = self.fn = 0

    def add(self, gold: set, pred: set) -> None:
        self.tp += len(gold & pred)
        self.fp += len(pred - gold)
        self.fn += len(gold - pred)

    def line(self, name: str) -> str:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return (f"{name:34s} P={p:.3f} R={r:.3f} F1={f:.3f} "
                f"(tp={self.tp} fp={self.fp} fn={self.fn})")


def gold_sets(item: dict) -> tuple[set, set, set]:
    return (set(item["companies"]),
            {(d["acquirer"], d["target"], d["deal_type"]) for d in item["deals"]},
            {(c["company"], int(c["units_per_year"])) for c in item["capacities"]})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gold", default=str(ROOT / "fixtures" / "gold" / "passages.jsonl"))
    ap.add_argument("--model", default="en_core_web_sm")
    ap.add_argument("--errors", action="store_true", help="print every wrong passage")
    args = ap.parse_args()
    items = [json.loads(line) for line in Path(args.gold).read_text("utf-8").splitlines()
             if line.strip()]
    nlp = load_pipeline(args.model)
    base = spacy.load(resolve_model(args.model), exclude=list(EXCLUDE))
    aliases = {}
    for entry in load_gazetteer(PATTERNS / "companies.jsonl"):
        for alias in [entry["name"], *entry.get("aliases", []), *entry.get("exact", [])]:
            aliases[alias.lower()] = entry["name"]

    ours = {k: Score() for k in ("companies", "deals", "capacities")}
    ours_full = {k: Score() for k in ("deals +status +year", "capacities +kind +year")}
    baseline = Score()
    started = time.perf_counter()
    docs = nlp.pipe([i["text"] for i in items], batch_size=64)
    for item, doc in zip(items, docs, strict=True):
        facts = facts_from_doc(doc)
        gold = gold_sets(item)
        pred = ({c.company for c in facts.companies},
                {(d.acquirer, d.target, d.deal_type) for d in facts.deals},
                {(c.company, c.units_per_year) for c in facts.capacities})
        for score, g, p in zip(ours.values(), gold, pred, strict=True):
            score.add(g, p)
        ours_full["deals +status +year"].add(
            {(d["acquirer"], d["target"], d["deal_type"], d.get("status"), d.get("year"))
             for d in item["deals"]},
            {(d.acquirer, d.target, d.deal_type, d.status, d.year) for d in facts.deals})
        ours_full["capacities +kind +year"].add(
            {(c["company"], int(c["units_per_year"]), c.get("kind"), c.get("year"))
             for c in item["capacities"]},
            {(c.company, c.units_per_year, c.kind, c.year) for c in facts.capacities})
        if args.errors and gold != pred:
            print(f"--- {item['id']}: {item['text']}")
            for name, g, p in zip(ours, gold, pred, strict=True):
                if g != p:
                    print(f"    {name}: missing {sorted(g - p)} extra {sorted(p - g)}")
    seconds = time.perf_counter() - started
    for doc, item in zip(base.pipe([i["text"] for i in items], batch_size=64), items,
                         strict=True):
        orgs = {aliases.get(e.text.lower(), e.text) for e in doc.ents if e.label_ == "ORG"}
        baseline.add(set(item["companies"]), orgs)

    print(f"gold set: {args.gold} ({len(items)} passages, "
          f"{sum(1 for i in items if i.get('trap'))} traps); model {args.model}")
    for name, score in ours.items():
        print(score.line(f"ours: {name}"))
    for name, score in ours_full.items():
        print(score.line(f"ours: {name}"))
    print(baseline.line("baseline (model ORG only): companies"))
    print(f"time: {seconds:.2f}s for {len(items)} passages")
    return 0


if __name__ == "__main__":
    sys.exit(main())

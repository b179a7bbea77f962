#!/usr/bin/env python3
"""Score the fact extraction on the gold sets, beside baselines measured in the same run.

    python bench/facts.py                       every set but the blind test split
    python bench/facts.py --gold FILE [FILE..]  these sets (the blind split real/test5.jsonl
                                                is measured only when a change is finished;
                                                real/test to test4 have been)
    python bench/facts.py --errors              also print every passage that is wrong

For each set: precision, recall and F1 of companies (canonical names), deals (acquirer,
target, type) and capacities (company, units_per_year); the share of found deals whose
status is right and of found capacities whose year is right. Three lines per set:
  model ORG    baseline for companies: the trained model's ORG entities only (named
               through the gazetteer's alias table)
  rules only   our pipeline without its learned layer (when it has one)
  ours         the pipeline as shipped
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import spacy  # noqa: E402
from spacy.language import Language  # noqa: E402

from extract.nlp.companies import PATTERNS, load_gazetteer  # noqa: E402
from extract.nlp.facts import facts_from_doc  # noqa: E402
from extract.nlp.pipeline import EXCLUDE, LEARNED, load_pipeline, resolve_model  # noqa: E402

GOLD = ROOT / "fixtures" / "gold"
DEFAULT_SETS = ("real/train.jsonl", "real/dev.jsonl", "passages.jsonl",
                "regression/holdout.jsonl", "regression/holdout2.jsonl",
                "regression/articles.jsonl", "regression/set4.jsonl",
                "regression/set5.jsonl", "regression/set6.jsonl")
# The test splits, left out of the default run: each is measured once, when a change is
# finished (fixtures/gold/README); test to test4 have been, test5 is the blind one.
BLIND = tuple(GOLD / "real" / f"{name}.jsonl"
              for name in ("test", "test2", "test3", "test4", "test5"))


class Score:
    def __init__(self) -> None:
        self.tp = self.fp = self.fn = 0

    def add(self, gold: set[object], pred: set[object]) -> None:
        self.tp += len(gold & pred)
        self.fp += len(pred - gold)
        self.fn += len(gold - pred)

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    def cell(self) -> str:
        p, r, f = self.prf()
        return f"{p:.3f} {r:.3f} {f:.3f}"


class Share:
    """Of the facts found and right, how many also have this attribute right."""

    def __init__(self) -> None:
        self.right = self.found = 0

    def add(self, gold: dict[tuple[object, ...], set[object]],
            pred: dict[tuple[object, ...], object]) -> None:
        for key, value in pred.items():
            if key in gold:
                self.found += 1
                self.right += value in gold[key]

    def cell(self) -> str:
        return f"{self.right / self.found:.3f}" if self.found else "  -  "


class Result:
    def __init__(self) -> None:
        self.companies, self.deals, self.capacities = Score(), Score(), Score()
        self.status, self.year = Share(), Share()

    def line(self, name: str) -> str:
        return (f"  {name:<11} {self.companies.cell()}  {self.deals.cell()}  "
                f"{self.capacities.cell()}  {self.status.cell():>6} {self.year.cell():>6}")


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def score(nlp: Language, items: list[dict[str, object]],
          errors: bool = False) -> Result:
    out = Result()
    for item, doc in zip(items, nlp.pipe([str(i["text"]) for i in items], batch_size=64),
                         strict=True):
        facts = facts_from_doc(doc)
        gold_deals = {(d["acquirer"], d["target"], d["deal_type"]): d
                      for d in item["deals"]}  # type: ignore[union-attr]
        gold_caps = {(c["company"], int(c["units_per_year"])): c
                     for c in item["capacities"]}  # type: ignore[union-attr]
        found_deals = {(d.acquirer, d.target, d.deal_type): d for d in facts.deals}
        found_caps = {(c.company, c.units_per_year): c for c in facts.capacities}
        out.companies.add(set(item["companies"]), {c.company for c in facts.companies})  # type: ignore[arg-type]
        out.deals.add(set(gold_deals), set(found_deals))
        out.capacities.add(set(gold_caps), set(found_caps))
        out.status.add({k: {d["status"]} for k, d in gold_deals.items()},
                       {k: d.status for k, d in found_deals.items()})
        out.year.add({k: {c.get("year")} for k, c in gold_caps.items()},
                     {k: c.year for k, c in found_caps.items()})
        if errors and (set(gold_deals) != set(found_deals) or set(gold_caps) != set(found_caps)):
            print(f"--- {item['id']}: {item['text']}")
            for name, gold, found in (("deals", gold_deals, found_deals),
                                      ("capacities", gold_caps, found_caps)):
                if set(gold) != set(found):
                    print(f"    {name}: missing {sorted(set(gold) - set(found))} "
                          f"extra {sorted(set(found) - set(gold))}")
    return out


def model_orgs(base: Language, items: list[dict[str, object]],
               aliases: dict[str, str]) -> Result:
    out = Result()
    for doc, item in zip(base.pipe([str(i["text"]) for i in items], batch_size=64), items,
                         strict=True):
        orgs = {aliases.get(e.text.lower(), e.text) for e in doc.ents if e.label_ == "ORG"}
        out.companies.add(set(item["companies"]), orgs)  # type: ignore[arg-type]
    return out


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gold", nargs="+", type=Path,
                    default=[GOLD / name for name in DEFAULT_SETS])
    ap.add_argument("--model", default="en_core_web_sm")
    ap.add_argument("--errors", action="store_true", help="print every wrong passage")
    args = ap.parse_args(list(argv) if argv is not None else None)
    nlp = load_pipeline(args.model)
    base = spacy.load(resolve_model(args.model), exclude=list(EXCLUDE))
    aliases = {}
    for entry in load_gazetteer(PATTERNS / "companies.jsonl"):
        for alias in [entry["name"], *entry.get("aliases", []), *entry.get("exact", [])]:
            aliases[alias.lower()] = entry["name"]
    learned = [name for name in nlp.pipe_names if name in LEARNED]
    print(f"model {args.model}; learned layer: {', '.join(learned) or 'none'}")
    print(f"{'':13} {'companies P R F1':<17}  {'deals P R F1':<17}  {'capacities P R F1':<17}"
          f"  status   year")
    for path in (p.resolve() for p in args.gold):
        if path in {b.resolve() for b in BLIND}:
            print(f"(measuring the blind test split {path.name}: once, for a finished change)")
        items = read(path)
        started = time.perf_counter()
        ours = score(nlp, items, args.errors)
        seconds = time.perf_counter() - started
        traps = sum(1 for i in items if i.get("trap"))
        print(f"{path.relative_to(GOLD) if path.is_relative_to(GOLD) else path} "
              f"({len(items)} passages, {traps} traps, {seconds:.1f}s)")
        print(model_orgs(base, items, aliases).line("model ORG"))
        if learned:
            with nlp.select_pipes(disable=learned):
                print(score(nlp, items).line("rules only"))
        print(ours.line("ours"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

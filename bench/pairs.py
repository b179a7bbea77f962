#!/usr/bin/env python3
"""Score the learned pair classifier for deals beside the rules, and their combinations.

    python bench/pairs.py [DEAL_MODEL_DIR[,DIR...]] [--status STATUS_DIR]
        [--status-pick sum|last] [--sets dev,holdout,...] [--mode COMBINATION]

A model directory holds `model-best` and `pairs.json` (scripts/train_pairs.py writes both);
the defaults are the shipped ones in extract/nlp/models/ (the pipeline's `ev_deal_pairs`).
Several deal models are averaged.
Deals are scored on (acquirer, target, deal_type), counted as bench/facts.py counts them,
for every combination in MODES; each one's thresholds (t_add, t_veto) are chosen on
real/dev, then applied unchanged to the regression sets. Status: the share of found true
deals whose status is right, with the rules' status (the model's for deals the rules did
not find) and with the status model's. Time: the pipeline's, and what the model adds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import spacy  # noqa: E402
import train_pairs as tp  # noqa: E402  (the gold and the rules' deals, as trained on)
from spacy.language import Language  # noqa: E402
from spacy.tokens import Doc  # noqa: E402

from bench import facts  # noqa: E402
from extract.nlp import pairs  # noqa: E402
from extract.nlp.pipeline import load_pipeline  # noqa: E402

GOLD = ROOT / "fixtures" / "gold"
MODELS = ROOT / "extract" / "nlp" / "models"
# set name -> where it is, or was before the regression sets moved
SETS = {"dev": ("real/dev.jsonl",), "passages": ("passages.jsonl",),
        "holdout": ("holdout.jsonl", "regression/holdout.jsonl"),
        "holdout2": ("holdout2.jsonl", "regression/holdout2.jsonl"),
        "articles": ("articles.jsonl", "regression/articles.jsonl"),
        "blind4": ("blind4.jsonl", "regression/set4.jsonl"),
        "blind5": ("blind5.jsonl", "regression/set5.jsonl"),
        "blind6": ("blind6.jsonl", "regression/set6.jsonl")}
GRID = [round(0.05 * i, 2) for i in range(1, 20)]
VETO_GRID = [0.01, 0.02, 0.03, *GRID[:10]]
Deal = tuple[str, str, str]


class Score(facts.Score):
    """Deals counted as bench/facts.py counts them: sets of (acquirer, target, type)."""

    def line(self, name: str) -> str:
        p, r, f = self.prf()
        return f"{name:38s} P={p:.3f} R={r:.3f} F1={f:.3f} (tp={self.tp} fp={self.fp} fn={self.fn})"


def gold_file(name: str) -> Path:
    return next((GOLD / p for p in SETS[name] if (GOLD / p).exists()), GOLD / SETS[name][0])


@dataclass
class Passage:
    gold: dict[Deal, str]  # deal -> gold status
    rules: dict[Deal, str]  # deal -> the rules' status
    probs: dict[Deal, float]  # every ordered pair the model saw, every type
    best: set[Deal]  # the deals the model may add: one direction per pair and type
    status: dict[Deal, str] = field(default_factory=dict)  # the status model's


@dataclass
class Model:
    nlp: Language
    meta: dict[str, Any]
    pick: str = "sum"  # status over a pair's windows: summed, or the last window's

    @classmethod
    def load(cls, path: Path) -> Model:
        return cls(spacy.load(path / "model-best"), json.loads((path / pairs.META).read_text()))

    @property
    def how(self) -> pairs.Marking:
        return pairs.Marking.of(self.meta)

    def cats(self, texts: list[str]) -> list[dict[str, float]]:
        return [d.cats for d in self.nlp.pipe(texts, batch_size=256)]


def first_seen(doc: Doc) -> dict[str, int]:
    order: dict[str, int] = {}
    for m in doc._.ev_companies or []:
        order.setdefault(m.company, m.start)
    return order


def model_probs(doc: Doc, rules: dict[tp.Key, dict[str, str]], model: Model) -> dict[Deal, float]:
    """A deal model's probability for each ordered pair and type: its best window."""
    examples = pairs.examples(doc, model.how)
    raw: dict[Deal, float] = defaultdict(float)
    for ex, cats in zip(examples, model.cats(
            [pairs.deal_text(ex, rules, model.how) for ex in examples]), strict=True):
        for label, p in cats.items():
            raw[(ex.a, ex.b, label)] = max(raw[(ex.a, ex.b, label)], p)
    return raw


def score_doc(doc: Doc, item: tp.Item, deals: list[Model], status: Model | None) -> Passage:
    rules = tp.rule_deals(doc)
    each = [model_probs(doc, rules, m) for m in deals]
    raw: dict[Deal, float] = defaultdict(float)  # averaged over the models that saw a pair
    for key in set().union(*each):
        seen = [r[key] for r in each if key in r]
        raw[key] = sum(seen) / len(seen)
    order = first_seen(doc)
    probs: dict[Deal, float] = {}
    for (a, b, t), p in raw.items():
        probs[(a, b, t)] = max(p, raw[(b, a, t)]) if t in pairs.SYMMETRIC else p
    best = set()
    for (a, b, t), p in probs.items():
        if t in pairs.SYMMETRIC:
            if order.get(a, 0) < order.get(b, 0):
                best.add((a, b, t))
        elif p > probs.get((b, a, t), 0.0) or (p == probs.get((b, a, t)) and a < b):
            best.add((a, b, t))
    passage = Passage(
        gold={(d["acquirer"], d["target"], d["deal_type"]): d["status"] for d in item["deals"]},
        rules={(a, b, t): s for (a, b), types in rules.items() for t, s in types.items()},
        probs=probs, best=best)
    if status is not None:
        # the gold deals too, only to measure the status model on every deal it could see
        wanted = {k for k in best if probs[k] >= 0.05} | set(passage.rules) | set(passage.gold)
        by_pair = defaultdict(list)
        for ex in pairs.examples(doc, status.how):
            by_pair[(ex.a, ex.b)].append(ex)
        keys, texts = [], []
        for a, b, t in sorted(wanted):
            for ex in by_pair.get((a, b), []):
                keys.append((a, b, t))
                texts.append(pairs.status_text(ex, t, rules, status.how))
        summed: dict[Deal, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for key, cats in zip(keys, status.cats(texts), strict=True):
            if status.pick == "last":
                summed[key] = defaultdict(float)
            for s, p in cats.items():
                summed[key][s] += p
        passage.status = {k: max(v, key=v.__getitem__) for k, v in summed.items()}
    return passage


# A combination: the rules' deals, minus those the model vetoes (`+veto`), plus the
# model's deals over t_add: anywhere (`union`), on a pair the rules gave no deal
# (`newpair`), in a passage where the rules found no deal at all (`silent`).
MODES = ("rules", "model", "veto", "union", "union+veto", "newpair", "newpair+veto",
         "silent", "silent+veto")


def combine(p: Passage, mode: str, t_add: float, t_veto: float) -> dict[Deal, str]:
    """The deals a combination keeps, each with the rules' status when they have it."""
    out: dict[Deal, str] = {}
    if mode != "model":
        for k, s in p.rules.items():
            if mode.endswith("veto") and k in p.probs and p.probs[k] < t_veto:
                continue
            out[k] = s
    gate = mode.split("+")[0]
    if gate not in ("model", "union", "newpair", "silent") or (gate == "silent" and p.rules):
        return out
    ruled = {frozenset(k[:2]) for k in p.rules}
    for k in p.best:
        if p.probs[k] >= t_add and k not in out and not (
                gate == "newpair" and frozenset(k[:2]) in ruled):
            out[k] = p.status.get(k, "?")
    return out


def evaluate(passages: list[Passage], mode: str, t_add: float, t_veto: float) -> Score:
    score = Score()
    for p in passages:
        score.add(set(p.gold), set(combine(p, mode, t_add, t_veto)))
    return score


def f1(s: Score) -> float:
    return 2 * s.tp / (2 * s.tp + s.fp + s.fn) if s.tp else 0.0


def choose(passages: list[Passage]) -> dict[str, tuple[float, float]]:
    """(t_add, t_veto) per mode with the best F1 (ties: add less, veto less)."""
    def best(mode: str, adds: list[float], vetoes: list[float]) -> tuple[float, float]:
        return max(((a, v) for a in adds for v in vetoes), key=lambda av: (
            f1(evaluate(passages, mode, *av)), av[0], -av[1]))
    return {mode: best(mode, [1.0] if mode in ("rules", "veto") else GRID,
                       VETO_GRID if mode.endswith("veto") else [0.0]) for mode in MODES}


def status_share(passages: list[Passage], mode: str, t_add: float, t_veto: float
                 ) -> tuple[str, str, str]:
    """Right status among the found (true) deals: rules' (model where the rules have
    none), the model's everywhere (rules' where it saw no pair), and the same two on the
    rules' own true deals."""
    n = rule_right = model_right = 0
    rn = rr = rm = 0
    for p in passages:
        for k, s in combine(p, mode, t_add, t_veto).items():
            if k not in p.gold:
                continue
            n += 1
            rule_right += s == p.gold[k]
            model_right += p.status.get(k, s) == p.gold[k]
            if k in p.rules:
                rn += 1
                rr += p.rules[k] == p.gold[k]
                rm += p.status.get(k, p.rules[k]) == p.gold[k]
    def pc(a: int, b: int) -> str:
        return f"{a / b:.2f} ({a}/{b})" if b else "-"
    return pc(rule_right, n), pc(model_right, n), f"rules {pc(rr, rn)} model {pc(rm, rn)}"


def run_set(nlp: Language, path: Path, deals: list[Model], status: Model | None
            ) -> tuple[list[Passage], float, float]:
    items = tp.read_jsonl(path)
    started = time.perf_counter()
    docs = list(nlp.pipe([i["text"] for i in items], batch_size=64))
    pipe_s = time.perf_counter() - started
    started = time.perf_counter()
    passages = [score_doc(doc, item, deals, status) for doc, item in zip(docs, items, strict=True)]
    model_s = time.perf_counter() - started
    return passages, pipe_s / len(items), model_s / len(items)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default=str(MODELS / "deals_pairs"),
                    help="a deal model's directory, or several joined by commas (averaged)")
    ap.add_argument("--status", type=Path, default=MODELS / "status_pairs",
                    help="the status model's directory ('' for none)")
    ap.add_argument("--status-pick", choices=("sum", "last"), default="sum")
    ap.add_argument("--sets", default="dev,holdout,holdout2,articles,blind4,blind5,blind6")
    ap.add_argument("--most-lost", type=float, default=0.02,
                    help="deals F1 a regression set may lose against the rules (default 0.02)")
    ap.add_argument("--mode", default="silent+veto", choices=MODES,
                    help="the combination whose statuses are scored")
    args = ap.parse_args()
    nlp = load_pipeline("en_core_web_sm", learned=False)  # the rules, and their hints
    deals = [Model.load(Path(m)) for m in args.model.split(",")]
    status = Model.load(args.status) if str(args.status) not in ("", ".") else None
    if status is not None:
        status.pick = args.status_pick
    names = args.sets.split(",")
    if names[0] != "dev":
        names.insert(0, "dev")
    chosen: dict[str, tuple[float, float]] = {}
    kept: dict[str, list[Passage]] = {}
    print(f"deal model(s) {args.model} {[m.meta for m in deals]}; status model {args.status}")
    for name in names:
        passages, pipe_s, model_s = run_set(nlp, gold_file(name), deals, status)
        kept[name] = passages
        if name == "dev":
            chosen = choose(passages)
            reach = sum(len(set(p.gold) & set(p.probs)) for p in passages)
            print(f"thresholds (t_add, t_veto) chosen on dev: {chosen}; gold deals whose pair "
                  f"the model sees: {reach}/{sum(len(p.gold) for p in passages)}")
        print(f"== {name} ({len(passages)} passages; pipeline {1000 * pipe_s:.1f} ms/passage,"
              f" model +{1000 * model_s:.1f} ms/passage)")
        for mode, (t_add, t_veto) in chosen.items():
            label = f"{mode} (t_add={t_add:g}, t_veto={t_veto:g})"
            print("  " + evaluate(passages, mode, t_add, t_veto).line(label))
        if status is not None:
            seen = [(p.status[k], s) for p in passages for k, s in p.gold.items()
                    if k in p.status]
            print(f"  status model on the gold deals it sees: "
                  f"{sum(a == b for a, b in seen) / len(seen):.2f} ({len(seen)} deals; "
                  f"always 'completed': "
                  f"{sum(b == 'completed' for _, b in seen) / len(seen):.2f})")
            for mode in ("rules", args.mode):
                ours, model, on_rules = status_share(passages, mode, *chosen[mode])
                print(f"  status right, {mode}: rules' {ours}  model's {model}  "
                      f"[on the rules' true deals: {on_rules}]")
    constrained(kept, args.most_lost)
    return 0


# Deals F1 of the rules on the regression sets when issue 10 was taken up (commit 93beda5,
# 7 December 2026): no set may end more than `most_lost` under it, nor under the rules of
# the same run, whatever the rules and the model have become since.
ISSUE_BASELINE = {"holdout": 0.928, "holdout2": 0.851, "articles": 0.841, "blind4": 0.887,
                  "blind5": 0.688, "blind6": 0.855}


def constrained(sets: dict[str, list[Passage]], most_lost: float = 0.02) -> None:
    """The combination the pipeline ships: the best deals F1 on dev among the settings that
    keep every regression set within `most_lost` of the rules' F1 (this run's and
    ISSUE_BASELINE's, whichever is higher)."""
    base = {name: f1(evaluate(p, "rules", 1.0, 0.0)) for name, p in sets.items()}
    floor = {n: max(b, ISSUE_BASELINE.get(n, 0.0)) - most_lost for n, b in base.items()}
    rows = []
    for mode in ("silent", "silent+veto", "veto", "newpair+veto", "union+veto"):
        for t_add in (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7):
            for t_veto in (0.0, 0.01, 0.02, 0.03, 0.05) if mode.endswith("veto") else (0.0,):
                score = {n: f1(evaluate(p, mode, t_add, t_veto)) for n, p in sets.items()}
                if all(score[n] >= floor[n] - 1e-9 for n in sets if n != "dev"):
                    rows.append((score["dev"], -t_add, -t_veto, mode, score))
    if not rows:
        print("constrained: no setting keeps every regression set; the rules alone")
        return
    dev, t_add, t_veto, mode, score = max(rows, key=lambda r: r[:3])
    print(f"constrained choice (every regression set within {most_lost} of the rules, now "
          f"and at the issue's start): {mode} t_add={-t_add:g} t_veto={-t_veto:g}: dev F1 "
          f"{base['dev']:.3f} -> {dev:.3f}; " + ", ".join(
              f"{n} {score[n]:.3f} (rules {base[n]:.3f}, start {ISSUE_BASELINE[n]:.3f})"
              for n in sets if n in ISSUE_BASELINE))


if __name__ == "__main__":
    sys.exit(main())

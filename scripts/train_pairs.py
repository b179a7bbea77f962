#!/usr/bin/env python3
"""Train the learned deal layer: a classifier over ordered company pairs in a sentence.

    python scripts/train_pairs.py CONFIG --out extract/nlp/models/NAME
        [--task deals|status] [--context sent|window] [--crop N] [--kinds] [--path]
        [--hint none|rules] [--work DIR] [--data-only] [--exclude PREFIX] [--also JSONL]
        [--section.key VALUE ...]  (any other option goes to spacy train)

Runs our pipeline over the training passages (real/train.jsonl + passages.jsonl). For each
sentence (or window: previous sentence + sentence) naming two or more companies it makes one
example per ordered pair (A, B): the text with A's mentions as ENTA, B's as ENTB and the
other companies' as ENTX, lower-cased; optionally cropped to N tokens around the pair and
prefixed by the companies' gazetteer kinds and the parse path between them.
`deals` labels (textcat_multilabel) are the gold deal types with (acquirer, target) = (A, B);
a joint venture is labelled in both orders (its direction is the order of first mention,
set when decoding). `status` examples (textcat) are the gold-positive pairs, one per deal
and window, prefixed by TYPE_<deal type>. With `--hint rules` the text is prefixed by the
rules' verdict on the pair (RULE_<type>, RULEREV_<type>, RULE_none; RSTAT_<status> for
status). spaCy's own dev set is 1/8 of the training passages, picked by a hash of the
passage id; real/dev is left for choosing how the model and the rules combine. The trained
pipeline goes to OUT/model-best (model-last is removed), with OUT/pairs.json: how its
examples are made, which bench/pairs.py reads to make them the same way.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, astuple
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import spacy  # noqa: E402
from spacy.tokens import Doc, DocBin  # noqa: E402

from extract.nlp.pairs import (  # noqa: E402  (the examples, as the pipeline makes them)
    LABELS,
    META,
    STATUSES,
    SYMMETRIC,
    Key,
    Marking,
    deal_text,
    examples,
    rule_verdicts,
    status_text,
)

GOLD = ROOT / "fixtures" / "gold"
TRAIN_FILES = (GOLD / "real" / "train.jsonl", GOLD / "passages.jsonl")
DEV_SHARE = 8  # one passage in 8 goes to spaCy's dev set
Item = dict[str, Any]  # one gold passage


def read_jsonl(path: Path) -> list[Item]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def rule_deals(doc: Doc) -> dict[Key, dict[str, str]]:
    """The rules' deals: (acquirer, target) -> {deal type: status}."""
    return rule_verdicts(doc._.ev_deals or [])


def gold_labels(item: Item) -> dict[Key, dict[str, str]]:
    """(A, B) -> {deal type: status}, joint ventures in both orders."""
    gold: dict[Key, dict[str, str]] = defaultdict(dict)
    for d in item["deals"]:
        gold[(d["acquirer"], d["target"])].setdefault(d["deal_type"], d["status"])
        if d["deal_type"] in SYMMETRIC:
            gold[(d["target"], d["acquirer"])].setdefault(d["deal_type"], d["status"])
    return gold


def in_dev(item_id: str) -> bool:
    return int(hashlib.md5(item_id.encode()).hexdigest(), 16) % DEV_SHARE == 0


def annotated(items: list[Item]) -> Iterator[tuple[Item, Doc]]:
    from extract.nlp.pipeline import load_pipeline
    nlp = load_pipeline("en_core_web_sm", learned=False)  # the rules' deals are the hint
    yield from zip(items, nlp.pipe([i["text"] for i in items], batch_size=64), strict=True)


def build(items: Iterable[tuple[Item, Doc]], task: str, how: Marking,
          make_doc: Callable[[str], Doc]) -> tuple[DocBin, DocBin, dict[str, int]]:
    bins = {True: DocBin(store_user_data=False), False: DocBin(store_user_data=False)}
    counts: dict[str, int] = defaultdict(int)
    for item, doc in items:
        gold, rules = gold_labels(item), rule_deals(doc)
        dev = in_dev(item["id"])
        for ex in examples(doc, how):
            wanted = gold.get((ex.a, ex.b), {})
            if task == "deals":
                out = make_doc(deal_text(ex, rules, how))
                out.cats = {lab: float(lab in wanted) for lab in LABELS}
                bins[dev].add(out)
                counts["dev" if dev else "train"] += 1
                for lab in wanted:
                    counts[lab] += 1
            else:
                for deal_type, status in wanted.items():
                    out = make_doc(status_text(ex, deal_type, rules, how))
                    out.cats = {s: float(s == status) for s in STATUSES}
                    bins[dev].add(out)
                    counts["dev" if dev else "train"] += 1
                    counts[status] += 1
    return bins[False], bins[True], dict(counts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="the model's directory")
    ap.add_argument("--task", choices=("deals", "status"), default="deals")
    ap.add_argument("--context", choices=("sent", "window"), default="sent")
    ap.add_argument("--hint", choices=("none", "rules"), default="none")
    ap.add_argument("--crop", type=int, default=0, help="tokens kept around the pair")
    ap.add_argument("--kinds", action="store_true", help="prefix the companies' kinds")
    ap.add_argument("--path", action="store_true", help="prefix the parse path between them")
    ap.add_argument("--work", type=Path, default=Path("/tmp/ev_pairs_work"))
    ap.add_argument("--data-only", action="store_true", help="write the DocBins, no training")
    ap.add_argument("--exclude", action="append", default=[], metavar="PREFIX",
                    help="leave out training passages whose id starts with PREFIX "
                         "(repeatable): how the shipped models were built, see "
                         "extract/nlp/training/README.md")
    ap.add_argument("--also", action="append", default=[], type=Path, metavar="JSONL",
                    help="train on these gold sets too (repeatable): the status model "
                         "reads the regression sets the rules were tuned on")
    args, overrides = ap.parse_known_args()  # the rest goes to spacy train

    items = [i for path in (*TRAIN_FILES, *args.also) for i in read_jsonl(path)
             if not i["id"].startswith(tuple(args.exclude))]
    blank = spacy.blank("en")
    how = Marking(args.context, args.crop, args.kinds, args.path, args.hint)
    train, dev, counts = build(annotated(items), args.task, how, blank.make_doc)
    work = args.work / "-".join(map(str, (args.task, *astuple(how))))
    work.mkdir(parents=True, exist_ok=True)
    train.to_disk(work / "train.spacy")
    dev.to_disk(work / "dev.spacy")
    print(f"examples: {counts} -> {work}", flush=True)
    if args.data_only:
        return 0
    cmd = [sys.executable, "-m", "spacy", "train", str(args.config),
           "--paths.train", str(work / "train.spacy"), "--paths.dev", str(work / "dev.spacy"),
           "--output", str(args.out), "--system.seed", "0", *overrides]
    print(" ".join(cmd), flush=True)
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - started
    shutil.rmtree(args.out / "model-last", ignore_errors=True)  # ship the best only
    meta = {"task": args.task, **asdict(how),
            "config": str(args.config), "overrides": overrides, "examples": counts,
            "train_seconds": round(seconds, 1)}
    (args.out / META).write_text(json.dumps(meta, indent=1) + "\n", "utf-8")
    print(f"trained in {seconds:.0f}s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Train the learned deal layer: a classifier over ordered company pairs in a sentence.

    python scripts/train_pairs.py CONFIG --out extract/nlp/models/NAME
        [--task deals|status] [--context sent|window] [--crop N] [--kinds] [--path]
        [--hint none|rules] [--work DIR] [--data-only]
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
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, astuple, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import spacy  # noqa: E402
from spacy.tokens import Doc, DocBin, Span  # noqa: E402

GOLD = ROOT / "fixtures" / "gold"
TRAIN_FILES = (GOLD / "real" / "train.jsonl", GOLD / "passages.jsonl")
LABELS = ("acquisition", "contract_manufacturing", "joint_venture", "license")
STATUSES = ("completed", "agreed", "planned", "rumored", "dissolved")
SYMMETRIC = frozenset({"joint_venture"})
DEV_SHARE = 8  # one passage in 8 goes to spaCy's dev set
META = "pairs.json"
Key = tuple[str, str]
Item = dict[str, Any]  # one gold passage


@dataclass(frozen=True)
class Example:
    a: str
    b: str
    text: str  # the marked window, without any prefix


def read_jsonl(path: Path) -> list[Item]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def mention_tokens(doc: Doc, m: Any) -> tuple[int, int] | None:
    """A mention's token range, whether it holds token or char offsets."""
    start, end = m.start, m.end
    if 0 <= start < end <= len(doc) and doc[start:end].text == m.text:
        return start, end
    span = doc.char_span(start, end, alignment_mode="expand")
    return (span.start, span.end) if span is not None else None


def windows(doc: Doc, context: str) -> list[Span]:
    sents = list(doc.sents)
    if context == "sent":
        return sents
    return [doc[(sents[i - 1] if i else s).start:s.end] for i, s in enumerate(sents)]


@dataclass(frozen=True)
class Marking:
    """How examples are made: the window, a crop around the pair (tokens kept on each side
    of the pair's mentions; 0: none), whether the companies' kinds and the dependency path
    between them are a prefix."""

    context: str = "sent"
    crop: int = 0
    kinds: bool = False
    path: bool = False  # prefix the dependency path between the pair's nearest mentions


def examples(doc: Doc, how: Marking) -> list[Example]:
    """One example per ordered pair of distinct companies named in a window."""
    spans = [(r, m.company) for m in doc._.ev_companies or []
             if (r := mention_tokens(doc, m)) is not None]
    kind = {m.company: getattr(m, "kind", "") or "other" for m in doc._.ev_companies or []}
    out = []
    for win in windows(doc, how.context):
        inside = [(r, c) for r, c in spans if win.start <= r[0] and r[1] <= win.end]
        names = list(dict.fromkeys(c for _, c in inside))
        for a in names:
            for b in names:
                if a != b:
                    text = marked(win, inside, a, b, how.crop)
                    if how.path:
                        text = f"{dep_path(doc, inside, a, b)} {text}"
                    if how.kinds:
                        text = f"AKIND_{kind[a]} BKIND_{kind[b]} {text}"
                    out.append(Example(a, b, text))
    return out


def dep_path(doc: Doc, inside: list[tuple[tuple[int, int], str]], a: str, b: str) -> str:
    """Words for the parse path between the closest mentions of a and b: its full shape,
    the word where the two branches meet, the first dependency on each side."""
    ra, rb = min(((doc[x[0]:x[1]].root, doc[y[0]:y[1]].root)
                  for x, ca in inside if ca == a for y, cb in inside if cb == b),
                 key=lambda p: abs(p[0].i - p[1].i))
    up_a, up_b = [ra, *ra.ancestors], [rb, *rb.ancestors]
    on_b = {t.i: n for n, t in enumerate(up_b)}
    meet = next((n for n, t in enumerate(up_a) if t.i in on_b), None)
    if meet is None:
        return "PATH_none"
    top = up_a[meet]
    deps_a = [t.dep_ for t in up_a[:meet]]
    deps_b = [t.dep_ for t in up_b[:on_b[top.i]]]
    word = ("enta" if top == ra else "entb" if top == rb
            else re.sub(r"\W", "", top.lower_) or "x")
    words = [f"PW_{w}" for t in [*up_a[1:meet], *up_b[1:on_b[top.i]]]
             if (w := re.sub(r"\W", "", t.lower_))]
    shape = "_".join([*deps_a, "UP", word, "DOWN", *reversed(deps_b)])
    return " ".join([f"PATH_{shape}", f"PTOP_{word}", f"PA_{'_'.join(deps_a[:1]) or 'top'}",
                     f"PB_{'_'.join(deps_b[:1]) or 'top'}", *words])


def marked(win: Span, inside: list[tuple[tuple[int, int], str]], a: str, b: str,
           crop: int) -> str:
    """The window's text, lower-cased, with the companies' mentions replaced by marks."""
    starts = {r[0]: (r[1], c) for r, c in inside}
    lo, hi = win.start, win.end
    if crop:
        ends = [r for r, c in inside if c in (a, b)]
        lo = max(lo, min(r[0] for r in ends) - crop)
        hi = min(hi, max(r[1] for r in ends) + crop)
    parts, i = [], lo
    doc = win.doc
    while i < hi:
        if i in starts:
            end, company = starts[i]
            mark = "ENTA" if company == a else "ENTB" if company == b else "ENTX"
            parts.append(mark + doc[end - 1].whitespace_)
            i = end
        else:
            parts.append(doc[i].lower_ + doc[i].whitespace_)
            i += 1
    return "".join(parts).strip()


def rule_deals(doc: Doc) -> dict[Key, dict[str, str]]:
    """The rules' deals: (acquirer, target) -> {deal type: status}."""
    found: dict[Key, dict[str, str]] = defaultdict(dict)
    for d in doc._.ev_deals or []:
        found[(d.acquirer, d.target)].setdefault(d.deal_type, d.status)
    return found


def deal_hint(rules: dict[Key, dict[str, str]], a: str, b: str) -> str:
    words = [f"RULE_{t}" for t in sorted(rules.get((a, b), {}))]
    words += [f"RULEREV_{t}" for t in sorted(rules.get((b, a), {}))]
    return " ".join(words) or "RULE_none"


def deal_text(ex: Example, rules: dict[Key, dict[str, str]], hint: str) -> str:
    return f"{deal_hint(rules, ex.a, ex.b)} {ex.text}" if hint == "rules" else ex.text


def status_text(ex: Example, deal_type: str, rules: dict[Key, dict[str, str]],
                hint: str) -> str:
    prefix = f"TYPE_{deal_type}"
    if hint == "rules":
        prefix += f" RSTAT_{rules.get((ex.a, ex.b), {}).get(deal_type, 'none')}"
    return f"{prefix} {ex.text}"


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
    nlp = load_pipeline("en_core_web_sm")
    yield from zip(items, nlp.pipe([i["text"] for i in items], batch_size=64), strict=True)


def build(items: Iterable[tuple[Item, Doc]], task: str, how: Marking, hint: str,
          make_doc: Callable[[str], Doc]) -> tuple[DocBin, DocBin, dict[str, int]]:
    bins = {True: DocBin(store_user_data=False), False: DocBin(store_user_data=False)}
    counts: dict[str, int] = defaultdict(int)
    for item, doc in items:
        gold, rules = gold_labels(item), rule_deals(doc)
        dev = in_dev(item["id"])
        for ex in examples(doc, how):
            wanted = gold.get((ex.a, ex.b), {})
            if task == "deals":
                out = make_doc(deal_text(ex, rules, hint))
                out.cats = {lab: float(lab in wanted) for lab in LABELS}
                bins[dev].add(out)
                counts["dev" if dev else "train"] += 1
                for lab in wanted:
                    counts[lab] += 1
            else:
                for deal_type, status in wanted.items():
                    out = make_doc(status_text(ex, deal_type, rules, hint))
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
    args, overrides = ap.parse_known_args()  # the rest goes to spacy train

    items = [i for path in TRAIN_FILES for i in read_jsonl(path)]
    blank = spacy.blank("en")
    how = Marking(args.context, args.crop, args.kinds, args.path)
    train, dev, counts = build(annotated(items), args.task, how, args.hint, blank.make_doc)
    work = args.work / "-".join(map(str, (args.task, *astuple(how), args.hint)))
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
    meta = {"task": args.task, **asdict(how), "hint": args.hint,
            "config": str(args.config), "overrides": overrides, "examples": counts,
            "train_seconds": round(seconds, 1)}
    (args.out / META).write_text(json.dumps(meta, indent=1) + "\n", "utf-8")
    print(f"trained in {seconds:.0f}s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

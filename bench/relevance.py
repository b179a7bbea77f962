#!/usr/bin/env python3
"""Score the EV-relevance score on the labelled set, beside two baselines in the same run.

    python bench/relevance.py               the development part (where the weights and
                                            the threshold were chosen)
    python bench/relevance.py --heldout     also the held-out part: measured once, when a
                                            change is finished
    python bench/relevance.py --sweep       precision and recall on the development part
                                            at every threshold from 0.05 to 0.95
    python bench/relevance.py --errors      every development item on the wrong side

The labels are `fixtures/relevance/labels.csv` (see the README beside it): the 181 pages of
../shared/benchmarks/article-extraction/ (never copied here), each cleaned by our cleaner
with the generic profile and extracted, and the real-sourced gold passages of
fixtures/gold/real/ (train -> development part, dev -> held-out part), each extracted as
an article of one paragraph without a headline. Three lines per part, each the precision,
recall and F1 of "relevant":
  a company found   baseline: the tables name at least one company (`Facts.companies`)
  EV words only     baseline: an EV word (extract.nlp.relevance.EV_WORDS) in the headline
                    or the lead
  ours              Facts.relevance >= THRESHOLD (extract.nlp.relevance)
Without the shared pages the benchmark says so and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from extract.clean import clean  # noqa: E402
from extract.errors import CleanError  # noqa: E402
from extract.nlp.facts import facts_from_doc, make_doc  # noqa: E402
from extract.nlp.pipeline import load_pipeline  # noqa: E402
from extract.nlp.relevance import THRESHOLD, Evidence, evidence, points  # noqa: E402
from extract.records import Article, Facts, Page  # noqa: E402
from scraper.sites import GENERIC  # noqa: E402

LABELS = ROOT / "fixtures" / "relevance" / "labels.csv"
GOLD = ROOT / "fixtures" / "gold"
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "article-extraction"
PAGES = "article-extraction"
FETCHED_AT = "2019-11-01T00:00:00+00:00"


@dataclass(frozen=True)
class Item:
    id: str
    source: str
    split: str
    relevant: bool
    reason: str


@dataclass(frozen=True)
class Scored:
    item: Item
    article: Article | None  # None: the cleaner found no article on the page
    facts: Facts
    evidence: Evidence | None


def read_labels(path: Path = LABELS) -> list[Item]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [Item(r["id"], r["source"], r["split"], r["label"] == "relevant", r["reason"])
                for r in csv.DictReader(handle)]


def page_article(data: Path, item: Item, url: str) -> Article | None:
    """A benchmark page as the one-off run reads it: our cleaner, the generic profile."""
    content = gzip.decompress((data / "html" / f"{item.id}.html.gz").read_bytes())
    page = Page(input=item.id, url=url, status=200,
                headers=(("content-type", "text/html; charset=utf-8"),), content=content,
                fetched_at=FETCHED_AT)
    try:
        return clean(page, GENERIC.clean)
    except CleanError:
        return None


def passage_article(item: Item, text: str) -> Article:
    """A gold passage wrapped as an article: one paragraph, no headline."""
    return Article(url=f"https://gold.example/{item.id}", input=item.id, site="gold",
                   title="", author="", published="", source_credit="", paragraphs=(text,),
                   fetched_at=FETCHED_AT)


def articles_of(items: list[Item], data: Path) -> list[Article | None]:
    truth = json.loads((data / "ground-truth.json").read_text("utf-8"))
    passages: dict[str, str] = {}
    for source in {i.source for i in items if i.source != PAGES}:
        for line in (GOLD / source.removeprefix("gold/")).read_text("utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                passages[record["id"]] = record["text"]
    return [page_article(data, i, truth[i.id].get("url", "")) if i.source == PAGES
            else passage_article(i, passages[i.id]) for i in items]


def score_all(items: list[Item], data: Path) -> list[Scored]:
    """Clean (pages) and extract every item, with the pipeline's own Doc making."""
    nlp = load_pipeline("en_core_web_sm")
    articles = articles_of(items, data)
    found = [(i, a) for i, a in zip(items, articles, strict=True) if a is not None]
    docs = nlp.pipe(((make_doc(nlp, a), (i, a)) for i, a in found), as_tuples=True,
                    batch_size=32)
    by_id = {i.id: Scored(i, a, facts_from_doc(doc), evidence(doc)) for doc, (i, a) in docs}
    empty = Facts((), (), (), 0.0)
    return [by_id.get(i.id) or Scored(i, None, empty, None) for i in items]


Rule = Callable[[Scored], bool]


def company_found(s: Scored) -> bool:
    return bool(s.facts.companies)


def ev_words(s: Scored) -> bool:
    return s.evidence is not None and s.evidence.title_terms + s.evidence.lead_terms > 0


def ours(threshold: float) -> Rule:
    return lambda s: (s.facts.relevance or 0.0) >= threshold


def prf(scored: Iterable[Scored], rule: Rule) -> tuple[float, float, float, int, int]:
    tp = fp = fn = 0
    for s in scored:
        said = rule(s)
        tp += said and s.item.relevant
        fp += said and not s.item.relevant
        fn += s.item.relevant and not said
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0), fp, fn


def line(name: str, scored: list[Scored], rule: Rule) -> str:
    p, r, f, fp, fn = prf(scored, rule)
    return f"  {name:<26} {p:6.3f} {r:6.3f} {f:6.3f} {fp:5d} {fn:5d}"


def describe(s: Scored) -> str:
    title = s.article.title if s.article else "(no article)"
    parts = ""
    if s.evidence is not None:
        parts = " ".join(f"{k}={v:.2f}" for k, v in points(s.evidence).items() if v)
    return (f"{s.facts.relevance or 0.0:.2f} {'relevant' if s.item.relevant else 'irrelevant':>10} "
            f"{s.item.source.split('/')[-1]}:{s.item.id[:12]} {title[:60]!r} [{parts}] "
            f"({s.item.reason})")


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help=f"the article-extraction benchmark (default: {DEFAULT_DATA})")
    ap.add_argument("--heldout", action="store_true",
                    help="also measure the held-out part (once, for a finished change)")
    ap.add_argument("--sweep", action="store_true", help="P/R per threshold on dev")
    ap.add_argument("--errors", action="store_true", help="print dev items on the wrong side")
    args = ap.parse_args(list(argv) if argv is not None else None)
    data: Path = args.data.resolve()
    if not (data / "ground-truth.json").is_file() or not (data / "html").is_dir():
        print(f"benchmark data not found at {data}: the labelled pages live beside the "
              "repository in ../shared/benchmarks/article-extraction/ (or pass --data DIR). "
              "Nothing to do.")
        return 0
    parts = ["dev", "heldout"] if args.heldout else ["dev"]
    items = [i for i in read_labels() if i.split in parts]
    started = time.perf_counter()
    scored = score_all(items, data)
    seconds = time.perf_counter() - started
    print(f"relevance at threshold {THRESHOLD} ({len(items)} items, clean + extract "
          f"{seconds:.1f}s); labels {LABELS.relative_to(ROOT)}")
    print(f"  {'':26} {'prec':>6} {'recall':>6} {'F1':>6} {'FP':>5} {'FN':>5}")
    names = {"dev": "development (weights and threshold chosen here)",
             "heldout": "held-out (measured once)"}
    for part in parts:
        here = [s for s in scored if s.item.split == part]
        pages = sum(s.item.source == PAGES for s in here)
        positives = sum(s.item.relevant for s in here)
        print(f"{names[part]}: {len(here)} items ({pages} pages, {len(here) - pages} gold "
              f"passages), {positives} relevant")
        print(line("baseline: a company found", here, company_found))
        print(line("baseline: EV words only", here, ev_words))
        print(line("ours", here, ours(THRESHOLD)))
    dev = [s for s in scored if s.item.split == "dev"]
    if args.sweep:
        print("development part, by threshold:")
        for step in range(1, 20):
            t = step / 20
            print(line(f"ours >= {t:.2f}", dev, ours(t)))
    if args.errors:
        for s in sorted(dev, key=lambda s: s.facts.relevance or 0.0):
            if ours(THRESHOLD)(s) != s.item.relevant:
                print(describe(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())

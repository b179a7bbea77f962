#!/usr/bin/env python3
"""Throughput of clean + extract over the article-extraction benchmark's pages.

    python bench/throughput.py [--data DIR] [--batch-size 32] [--repeat 1]

Prints articles/s and words/s for the full stage (clean + extract) with 1 and 2 processes,
and, in the same run and on the same cleaned texts with the same batch size, the trained
model alone (`nlp.pipe`, without our components) next to the model with our components.
Targets: our components cost at most 30% on top of the model alone; two processes give at
least 1.6x one. The data lives beside the repository (../shared/benchmarks/
article-extraction); without it this script says so and exits 0.
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing as mp
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "article-extraction"

from extract.clean import clean  # noqa: E402
from extract.errors import CleanError  # noqa: E402
from extract.nlp.facts import extract_many  # noqa: E402
from extract.nlp.pipeline import EXCLUDE, load_pipeline, resolve_model  # noqa: E402
from extract.records import Page  # noqa: E402
from scraper.core.records import now_utc  # noqa: E402

_worker_nlp = None
TASK_PAGES = 6


def pages(data: Path) -> list[Page]:
    out = []
    for path in sorted((data / "html").glob("*.html.gz")):
        content = gzip.decompress(path.read_bytes())
        out.append(Page(input=str(path), url=f"https://bench.example/{path.name[:16]}/",
                               status=200, headers=(("content-type",
                                                     "text/html; charset=utf-8"),),
                               content=content, fetched_at=now_utc()))
    return out


def cleaned(batch: list[Page]) -> list:
    """The articles of the pages that have one."""
    articles = []
    for page in batch:
        try:
            articles.append(clean(page))
        except CleanError:
            continue
    return articles


def full_stage(nlp, batch: list[Page], batch_size: int) -> tuple[int, int]:
    """Clean and extract a batch of pages; return (articles, words)."""
    articles = cleaned(batch)
    words = sum(a.word_count for a in articles)
    for _ in extract_many(nlp, articles, batch_size):
        pass
    return len(articles), words


def init_worker(model: str) -> None:
    global _worker_nlp
    _worker_nlp = load_pipeline(model)


def work(args: tuple[list[Page], int]) -> tuple[int, int]:
    batch, batch_size = args
    return full_stage(_worker_nlp, batch, batch_size)


def timed(label: str, seconds: float, articles: int, words: int) -> str:
    return (f"{label:42s} {articles / seconds:7.1f} articles/s {words / seconds:9.0f} words/s "
            f"({seconds:.2f}s for {articles} articles)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", default="en_core_web_sm")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    if not (args.data / "ground-truth.json").exists():
        print(f"benchmark data not found at {args.data} (it lives beside the repository in "
              f"../shared/benchmarks/article-extraction); nothing to measure")
        return 0
    data = pages(args.data)
    nlp = load_pipeline(args.model)

    # The model alone vs the model with our components, on the same cleaned texts.
    articles = cleaned(data)
    texts = [a.text for a in articles]
    words = sum(a.word_count for a in articles)
    base = __import__("spacy").load(resolve_model(args.model), exclude=list(EXCLUDE))
    for _ in base.pipe(texts[:8]):  # warm up both
        pass
    for _ in nlp.pipe(texts[:8]):
        pass
    t = time.perf_counter()
    for _ in base.pipe(texts, batch_size=args.batch_size):
        pass
    model_alone = time.perf_counter() - t
    t = time.perf_counter()
    for _ in extract_many(nlp, articles, args.batch_size):
        pass
    ours = time.perf_counter() - t

    t = time.perf_counter()
    one = full_stage(nlp, data, args.batch_size)
    one_s = time.perf_counter() - t

    # Small tasks, handed out as workers free up, so that neither waits for the other at
    # the end (page lengths vary a hundredfold).
    tasks = [(data[i:i + TASK_PAGES], args.batch_size) for i in range(0, len(data), TASK_PAGES)]
    with mp.get_context("spawn").Pool(2, initializer=init_worker,
                                      initargs=(args.model,)) as pool:
        pool.map(work, [(data[:8], args.batch_size)] * 4, chunksize=1)  # load and warm up
        t = time.perf_counter()
        results = list(pool.imap_unordered(work, tasks, chunksize=1))
        two_s = time.perf_counter() - t
    two = (sum(r[0] for r in results), sum(r[1] for r in results))

    print(f"pages: {len(data)} from {args.data}; model {args.model}; "
          f"batch size {args.batch_size}; pipeline {nlp.pipe_names}")
    print(timed("baseline: trained model alone (nlp.pipe)", model_alone, len(texts), words))
    print(timed("ours: model + EV components", ours, len(texts), words))
    print(f"our components cost {100 * (ours / model_alone - 1):+.1f}% on top of the model "
          f"(target: at most +30%)")
    print(timed("full stage (clean + extract), 1 process", one_s, *one))
    print(timed("full stage (clean + extract), 2 processes", two_s, *two))
    print(f"2 processes vs 1: {one_s / two_s:.2f}x (target: at least 1.6x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

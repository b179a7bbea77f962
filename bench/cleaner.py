#!/usr/bin/env python3
"""Score our cleaner against trafilatura alone on the article-body extraction benchmark.

    python bench/cleaner.py [--data DIR] [--out DIR] [--limit N]

The data (181 real pages, ground truth and the scorer, `score.py`) lives beside the
repository in ../shared/benchmarks/article-extraction/, never inside it; --data points
elsewhere. In one run, page by page, it runs

- ours: `extract.clean.clean` on a `Page` built from the page's bytes, with the
  generic site profile (a page where it raises CleanError is an empty prediction);
- the baseline, trafilatura alone: `trafilatura.extract(html, include_comments=False,
  favor_precision=True)`, its best setting on this benchmark;

writes both prediction files to bench/out/, scores both with the shared score.py and
prints F1, precision, recall and the median milliseconds per page side by side. Timings
are wall-clock on a shared machine: compare the two columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from extract.clean import clean  # noqa: E402
from extract.errors import CleanError  # noqa: E402
from extract.records import Page  # noqa: E402
from scraper.sites import GENERIC  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "article-extraction"
BASELINE = "trafilatura 2.3.1 (include_comments=False, favor_precision=True)"


def load_scorer(data: Path) -> ModuleType:
    """The benchmark's own score.py, imported from the data folder (not copied here)."""
    spec = importlib.util.spec_from_file_location("article_extraction_score",
                                                  data / "score.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {data / 'score.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ours(page_id: str, url: str, content: bytes) -> str:
    """Our cleaner's article text for one page ("" when it finds no story)."""
    page = Page(input=page_id, url=url, status=200,
                       headers=(("content-type", "text/html; charset=utf-8"),),
                       content=content, fetched_at="2019-11-01T00:00:00+00:00")
    try:
        return clean(page, GENERIC.clean).text
    except CleanError:
        return ""


def baseline(html: str) -> str:
    """trafilatura alone, at its best setting on this benchmark."""
    return trafilatura.extract(html, include_comments=False, favor_precision=True) or ""


def timed(fn: Callable[[], str]) -> tuple[str, float]:
    start = time.perf_counter()
    text = fn()
    return text, (time.perf_counter() - start) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help=f"benchmark folder (default: {DEFAULT_DATA})")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out",
                    help="where the prediction files go (default: bench/out/)")
    ap.add_argument("--limit", type=int, default=0,
                    help="only the first N pages, for a quick look (scores are then partial)")
    args = ap.parse_args()

    data: Path = args.data.resolve()
    if not (data / "ground-truth.json").is_file() or not (data / "html").is_dir():
        print(f"benchmark data not found at {data}: it lives beside the repository in "
              "../shared/benchmarks/article-extraction/ (or pass --data DIR). Nothing to do.")
        return 0
    scorer = load_scorer(data)
    truth = json.loads((data / "ground-truth.json").read_text("utf-8"))
    ids = sorted(truth)[: args.limit or None]
    truth = {k: truth[k] for k in ids}

    predictions: dict[str, dict[str, dict[str, str]]] = {"ours": {}, "trafilatura": {}}
    millis: dict[str, list[float]] = {"ours": [], "trafilatura": []}
    for page_id in ids:
        content = gzip.decompress((data / "html" / f"{page_id}.html.gz").read_bytes())
        html = content.decode("utf-8")  # the README: UTF-8 whatever the page declares
        url = truth[page_id].get("url", "")
        # Interleaved page by page so that both see the same load on a shared machine.
        for name, run in (("ours", partial(ours, page_id, url, content)),
                          ("trafilatura", partial(baseline, html))):
            text, ms = timed(run)
            predictions[name][page_id] = {"articleBody": text}
            millis[name].append(ms)

    args.out.mkdir(parents=True, exist_ok=True)
    scores = {}
    for name, pred in predictions.items():
        (args.out / f"{name}.json").write_text(json.dumps(pred, ensure_ascii=False, indent=0),
                                               encoding="utf-8")
        scores[name] = scorer.evaluate(truth, pred, n_bootstrap=200)

    print(f"article-extraction benchmark: {len(ids)} pages from {data}")
    print(f"baseline: {BASELINE}")
    print(f"{'extractor':24s} {'F1':>6s} {'prec':>6s} {'recall':>6s} {'ms/page':>8s} {'empty':>5s}")
    for name, label in (("ours", "ours (extract.clean)"),
                        ("trafilatura", "trafilatura (baseline)")):
        s = scores[name]
        print(f"{label:24s} {s['f1']:6.3f} {s['precision']:6.3f} {s['recall']:6.3f} "
              f"{statistics.median(millis[name]):8.1f} {s['empty']:5d}")
    ratio = statistics.median(millis["ours"]) / statistics.median(millis["trafilatura"])
    print(f"time ratio ours/baseline (median ms/page): {ratio:.2f}x; "
          f"predictions in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A run's cost against the size of the store it adds to.

    python bench/store.py [--sizes 1000,10000,100000,1000000] [--data DIR] [--workers 2]

For each size, an output folder is pre-filled with that many synthetic articles (texts of
about 4 KB, dated 2009 to mid-2019, with companies, deals and capacities at the rates of
real crawls, the ledger built from them) and exported once, as the folder of a cron job
that has run for a while. Most of the pages added are newer (2019-11, or undated), so each
run changes every export, as a cron run that brings news does. Then one one-off run adds
the 181 pages of the article-extraction benchmark (`python -m scraper -i LIST --out DIR`,
a fresh process, wall clock, model loading included). Printed for each size: wall time,
the peak RSS of the largest process (the run or one of its workers), the bytes of the
files the run wrote in the folder (exports rewritten, text files) and how much the store
grew.

Baseline: the run into 1,000 articles, measured in the same invocation. Targets: the run
into 1,000,000 takes at most 1.3x its time; the peak RSS stays under 800 MB at every size.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from extract.records import article_id  # noqa: E402
from scraper.output import ledger  # noqa: E402
from scraper.output.store import (  # noqa: E402
    LEDGER_SOURCES,
    STORE_NAME,
    STORED,
    Store,
    recency,
)

DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "article-extraction"
# Rates of a real crawl's tables (a CnEVPost crawl: companies per article, and the share of
# articles with a deal or a capacity figure).
COMPANIES_PER_ARTICLE = 3
DEAL_SHARE, CAPACITY_SHARE = 0.15, 0.10
# Dated before most of the benchmark's pages (2019-11, and undated ones, which count by
# their fetch time): the run's articles are the newest, so every export changes, as in a
# cron run that brings news.
START = datetime(2009, 1, 1, tzinfo=UTC)
SPAN_DAYS = (datetime(2019, 7, 1, tzinfo=UTC) - START).days
BATCH = 20_000
WORDS = ("the plant will build electric cars for the domestic market and for export while "
         "the company expands its battery production with new partners in the region and "
         "the group said deliveries rose in the quarter as prices fell across the industry"
         ).split()
RUN_AND_MEASURE = """\
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, the largest process
print(done.returncode, peak)
sys.stderr.write(done.stderr[-3000:])
"""


def company_names() -> list[str]:
    path = ROOT / "extract" / "nlp" / "patterns" / "companies.jsonl"
    return [json.loads(line)["name"] for line in path.read_text().splitlines() if line.strip()]


def synthetic(n: int, rng: random.Random, names: list[str], text_pool: list[str]
              ) -> tuple[dict[str, str], list[dict[str, str]], list[dict[str, str]],
                         list[dict[str, str]]]:
    """Article number n: its row and its companies, deals and capacities."""
    when = START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))
    published = when.replace(microsecond=0).isoformat()
    url = f"https://synthetic.example/{when:%Y/%m/%d}/article-{n}"
    aid = article_id(url)
    text = text_pool[n % len(text_pool)]
    article = {"article_id": aid, "url": url, "input": url, "site": "Synthetic",
               "title": f"Synthetic article {n}", "author": "", "published": published,
               "source_credit": "", "word_count": str(len(text.split())),
               "fetched_at": published, "text": text, "relevance": "0.80"}
    # Companies cited often and rarely, as in the news (a few carmakers in most stories).
    picked = list(dict.fromkeys(names[min(int(rng.paretovariate(1.2)) - 1, len(names) - 1)]
                                for _ in range(COMPANIES_PER_ARTICLE)))
    companies = [{"article_id": aid, "url": url, "company": c, "mentions": "2",
                  "surface_forms": c} for c in picked]
    deals, capacities = [], []
    if rng.random() < DEAL_SHARE and len(picked) >= 2:
        deals.append({"article_id": aid, "url": url, "published": published,
                      "acquirer": picked[0], "target": picked[1],
                      "deal_type": rng.choice(("joint_venture", "acquisition", "license",
                                               "contract_manufacturing")),
                      "status": rng.choice(("agreed", "completed", "planned")),
                      "year": str(when.year),
                      "evidence": f"{picked[0]} and {picked[1]} signed a deal in {when.year}.",
                      "method": "rule"})
    if rng.random() < CAPACITY_SHARE:
        units = rng.choice((50_000, 100_000, 150_000, 200_000, 300_000))
        city = rng.choice(("Hefei", "Shanghai", "Berlin", "Austin", "Chennai", "Rayong"))
        capacities.append({"article_id": aid, "url": url, "published": published,
                           "company": picked[0], "facility": f"{city} plant",
                           "units_per_year": str(units), "kind": "total",
                           "year": str(when.year),
                           "evidence": f"The {city} plant of {picked[0]} can build {units}.",
                           "location": city})
    return article, companies, deals, capacities


def prefill(folder: Path, size: int, seed: int = 0) -> None:
    """A folder holding `size` synthetic articles in its store, exported once."""
    rng = random.Random(seed)
    names = company_names()
    text_pool = [" ".join(rng.choice(WORDS) for _ in range(650)) + "." for _ in range(64)]
    groups: dict[str, dict[tuple[str, ...], list[dict[str, str]]]] = {
        "deals": {}, "capacities": {}}
    sources: dict[str, dict[str, str]] = {}
    with Store(folder) as store:
        db = store.db
        for start in range(0, size, BATCH):
            rows: dict[str, list[dict[str, str]]] = {t: [] for t in STORED if t != "failures"}
            for n in range(start, min(size, start + BATCH)):
                article, companies, deals, capacities = synthetic(n, rng, names, text_pool)
                rows["articles"].append(article)
                rows["companies"] += companies
                rows["deals"] += deals
                rows["capacities"] += capacities
                lkeys = []
                for fact, key_of, fact_rows in (("deals", ledger.deal_key, deals),
                                                ("capacities", ledger.plant_key, capacities)):
                    for key, grouped in ledger.group(fact_rows, key_of).items():
                        groups[fact].setdefault(key, []).extend(grouped)
                        lkeys.append((fact, article["article_id"], ledger.ledger_id(*key),
                                      json.dumps(key)))
                if lkeys:
                    sources[article["article_id"]] = {k: article[k] for k in (
                        "article_id", "url", "site", "published")}
                    db.executemany("INSERT INTO lkeys VALUES (?, ?, ?, ?)", lkeys)
            with db:
                db.execute("BEGIN")
                db.executemany(
                    f"INSERT INTO articles VALUES ({', '.join('?' * 14)})",
                    [(*(a[c] for c in STORED["articles"]), recency(a), 1)
                     for a in rows["articles"]])
                for table in ("companies", "deals", "capacities"):
                    columns = STORED[table]
                    db.executemany(
                        f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
                        [tuple(r[c] for c in columns) for r in rows[table]])
        with db:
            db.execute("BEGIN")
            for table, fact, _, make in LEDGER_SOURCES:
                db.executemany(f"INSERT INTO {table} VALUES (?, ?)", [
                    (ledger.ledger_id(*key), json.dumps(make(key, rows_, sources)))
                    for key, rows_ in groups[fact].items()])
        store.set_meta("gen", "1")
        store.publish(excel=False)


def pages(data: Path, folder: Path) -> Path:
    """The benchmark's pages as files, and a list of them."""
    folder.mkdir()
    paths = []
    for source in sorted((data / "html").glob("*.html.gz")):
        path = folder / source.name.removesuffix(".gz")
        path.write_bytes(gzip.decompress(source.read_bytes()))
        paths.append(path)
    listing = folder / "inputs.txt"
    listing.write_text("\n".join(map(str, paths)) + "\n", encoding="utf-8")
    return listing


def files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def measure(folder: Path, listing: Path, workers: int) -> tuple[float, int, int, int]:
    """One run adding the pages: (seconds, peak RSS in MB, bytes of files it wrote
    outside the store, growth of the store in bytes)."""
    before = files(folder)
    command = [sys.executable, "-m", "scraper", "-i", str(listing), "--out", str(folder),
               "-q", "--workers", str(workers)]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN_AND_MEASURE, *command], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    code, peak = done.stdout.split()
    if code not in ("0", "1"):
        sys.exit(f"the run failed (exit {code}):\n{done.stderr}")
    after = files(folder)
    store = [name for name in after if name.startswith(STORE_NAME)]
    written = sum(size for name, (size, mtime) in after.items()
                  if name not in store and before.get(name, (0, 0))[1] != mtime)
    grown = (sum(after[n][0] for n in store)
             - sum(before[n][0] for n in before if n.startswith(STORE_NAME)))
    return seconds, int(peak) // 1024, written, grown


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tmp", type=Path, default=None, help="where the folders go")
    args = ap.parse_args()
    if not (args.data / "html").is_dir():
        print(f"benchmark data not found at {args.data} (it lives beside the repository in "
              f"../shared/benchmarks/article-extraction); nothing to measure")
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    with tempfile.TemporaryDirectory(prefix="store-bench-", dir=args.tmp) as tmp:
        listing = pages(args.data, Path(tmp) / "pages")
        for size in sizes:
            folder = Path(tmp) / f"out-{size}"
            started = time.perf_counter()
            prefill(folder, size)
            filled = time.perf_counter() - started
            db_mb = sum(p.stat().st_size for p in folder.glob(f"{STORE_NAME}*")) / 1e6
            results[size] = measure(folder, listing, args.workers)
            seconds, peak, written, grown = results[size]
            print(f"store of {size:>9,} articles ({db_mb:,.0f} MB, filled in {filled:.0f}s): "
                  f"run adding 181 pages {seconds:5.1f}s, peak RSS {peak:,} MB, "
                  f"{written / 1e6:,.1f} MB of exports written, store +{grown / 1e6:,.1f} MB",
                  flush=True)
    base = results[sizes[0]][0]
    print(f"baseline: the run into {sizes[0]:,} articles, {base:.1f}s ({args.workers} workers)")
    for size in sizes[1:]:
        print(f"into {size:>9,}: {results[size][0] / base:.2f}x the baseline's time "
              f"(target for 1,000,000: at most 1.3x)")
    peak = max(r[1] for r in results.values())
    print(f"largest peak RSS: {peak:,} MB (target: under 800 MB at every size)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

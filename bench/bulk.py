#!/usr/bin/env python3
"""The bulk mode over generated WARC files, with 1 and 2 Dask workers, beside the one-off
command on the same pages.

    python bench/bulk.py [--data DIR] [--pages 5000] [--files 8] [--chunk-size 4]
                         [--repeat 2]

The WARC files hold the 181 pages of ../shared/benchmarks/article-extraction (under their
own URLs) and, to make up `--pages` HTML responses in all, filler: the pages of that set
that `fixtures/relevance/labels.csv` labels not about the EV industry, again and again
under new URLs (real markup and real sizes, as a news archive's other pages have). The
responses are shuffled (a fixed seed) into `--files` gzipped WARC files, one gzip member
a record and no request records, as in CC-NEWS.

Printed, each measured in this run:
  one-off              `python -m scraper` on the 181 pages saved as files (--delay 0), as
                       a user runs it: wall time, model load included
  bulk, 181 pages      the bulk mode on a WARC of the same 181 pages (on each cluster
                       before the big run, which also warms its workers alike)
  bulk, N pages        all the files, with 1 and then 2 workers: records/s, the share of
                       records the relevance check dropped before the cleaner, and the
                       speed-up of 2 workers over 1 (target: at least 1.7x on 2 cores);
                       beside each, the CPU time the tasks got as a share of wall time x
                       workers (well under 100%: other processes took the cores)
The bulk runs go to two LocalClusters started beforehand (their start and the model's load
on each worker are printed apart, not counted in records/s: a cluster is started once for
years of files); the time counted runs from planning to the merged tables. The runs on the
two clusters alternate, `--repeat` times each, and the best time of each counts (other
processes on the machine only ever slow a run down). Every run must write byte-identical
tables. Without the shared pages the benchmark
says so and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "article-extraction"
LABELS = ROOT / "fixtures" / "relevance" / "labels.csv"
SEED = 20261207
TARGET = 1.7

from scraper.app.bulk import BulkOptions, BulkSummary, PipelinePlugin, run_bulk  # noqa: E402
from scraper.core.settings import Settings  # noqa: E402
from tests.warcs import Response, write_warc  # noqa: E402

TABLES = ("articles", "companies", "deals", "capacities", "failures")


def benchmark_pages(data: Path) -> list[tuple[str, str, bytes]]:
    """(id, original URL, HTML bytes) of each page of the benchmark."""
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    out = []
    for path in sorted((data / "html").glob("*.html.gz")):
        page_id = path.name.split(".")[0]
        out.append((page_id, truth[page_id]["url"], gzip.decompress(path.read_bytes())))
    return out


def irrelevant_ids() -> set[str]:
    with LABELS.open(encoding="utf-8", newline="") as handle:
        return {row["id"] for row in csv.DictReader(handle)
                if row["source"] == "article-extraction" and row["label"] == "irrelevant"}


def responses(pages: list[tuple[str, str, bytes]], total: int) -> list[Response]:
    """The benchmark's pages under their URLs, then filler up to `total`, shuffled."""
    out = [Response(url, body) for _, url, body in pages]
    filler = [(page_id, body) for page_id, _, body in pages if page_id in irrelevant_ids()]
    for n in range(max(0, total - len(out))):
        page_id, body = filler[n % len(filler)]
        out.append(Response(f"https://filler.example/{n}/{page_id[:16]}/", body))
    random.Random(SEED).shuffle(out)
    return out


def write_one(args: tuple[Path, list[Response]]) -> int:
    path, batch = args
    write_warc(path, batch, requests=False)
    return path.stat().st_size


def write_files(folder: Path, items: list[Response], files: int) -> list[Path]:
    """`items` spread over `files` WARC files, written two at a time."""
    paths = [folder / f"CC-NEWS-BENCH-{n:05d}.warc.gz" for n in range(files)]
    batches = [(path, items[n::files]) for n, path in enumerate(paths)]
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(write_one, batches))
    return paths


def oneoff(folder: Path, pages: list[tuple[str, str, bytes]], out: Path) -> float:
    """The one-off command on the pages saved as files: its wall time."""
    files = []
    for page_id, _, body in pages:
        files.append(folder / f"{page_id}.html")
        files[-1].write_bytes(body)
    listing = folder / "inputs.txt"
    listing.write_text("\n".join(map(str, files)) + "\n", encoding="utf-8")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "scraper", "--input-file", str(listing), "--out",
                    str(out), "--delay", "0", "-q"], cwd=ROOT, check=False,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def bulk(paths: list[Path], out: Path, address: str, chunk_mb: float) -> BulkSummary:
    settings = Settings(out_dir=out, quiet=True)
    return run_bulk(settings, BulkOptions(tuple(map(str, paths)), scheduler=address,
                                          chunk_mb=chunk_mb))


class Cluster:
    """A LocalCluster of `workers` one-thread processes with the model loaded on each."""

    def __init__(self, workers: int, model: str) -> None:
        from distributed import Client, LocalCluster

        started = time.perf_counter()
        self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                    dashboard_address=":0")
        self.client = Client(self.cluster)
        self.client.register_plugin(PipelinePlugin(model))
        self.seconds = time.perf_counter() - started
        self.address: str = self.cluster.scheduler_address

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.cluster.close()


def tables(out: Path) -> dict[str, bytes]:
    return {t: (out / f"{t}.csv").read_bytes() for t in TABLES[:-1]
            if (out / f"{t}.csv").exists()}


def agreed(oneoff_out: Path, bulk_out: Path) -> str:
    """Whether the one-off run and the bulk run found the same facts in the articles both
    wrote (the bulk writes only those its relevance check kept)."""
    def rows(out: Path, table: str) -> dict[str, list[dict[str, str]]]:
        with (out / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
            found: dict[str, list[dict[str, str]]] = {}
            for row in csv.DictReader(handle):
                found.setdefault(row["article_id"], []).append(row)
            return found

    both = set(rows(oneoff_out, "articles")) & set(rows(bulk_out, "articles"))
    same = all({k: v for k, v in rows(oneoff_out, t).items() if k in both}
               == {k: v for k, v in rows(bulk_out, t).items() if k in both}
               for t in ("companies", "deals", "capacities"))
    return (f"{len(both)} articles both the one-off and the bulk run wrote: "
            f"{'identical' if same else 'DIFFERENT'}")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}"


def line(label: str, s: BulkSummary, seconds: float) -> str:
    c = s.counts
    busy = s.task_cpu / (seconds * s.workers)
    return (f"{label:30s} {c.records:6,d} records {seconds:7.1f}s {c.records / seconds:7.1f} "
            f"records/s  dropped {c.dropped / max(c.pages, 1):6.1%}  {c.articles:4d} "
            f"extracted  {s.written:3d} written  {len(s.failures)} failed  tasks' CPU "
            f"{s.task_cpu:.0f}s = {busy:.0%} of {s.workers} worker{'s' * (s.workers > 1)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", default="en_core_web_sm")
    ap.add_argument("--pages", type=int, default=5000, help="HTML responses in all")
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--chunk-size", type=float, default=4.0, help="MB per task")
    ap.add_argument("--repeat", type=int, default=2,
                    help="runs of each cluster, alternated; the best time counts")
    args = ap.parse_args()
    if not (args.data / "ground-truth.json").exists():
        print(f"benchmark data not found at {args.data} (it lives beside the repository in "
              f"../shared/benchmarks/article-extraction); nothing to measure")
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    try:
        pages = benchmark_pages(args.data)
        started = time.perf_counter()
        items = responses(pages, args.pages)
        paths = write_files(work, items, args.files)
        raw = sum(len(r.body) for r in items)
        size = sum(p.stat().st_size for p in paths)
        print(f"{len(items):,} HTML responses ({len(pages)} benchmark pages, "
              f"{len(items) - len(pages):,} filler) in {len(paths)} WARC files: "
              f"{raw / 1e6:,.0f} MB of HTML, {size / 1e6:,.0f} MB gzipped "
              f"(written in {time.perf_counter() - started:.0f}s); tasks of "
              f"{args.chunk_size:g} MB; {os.cpu_count()} cores; model {args.model}")
        (work / "same").mkdir()
        same = write_files(work / "same", responses(pages, 0), 1)

        print(f"[{load()}] one-off command on the {len(pages)} pages ...", flush=True)
        oneoff_s = oneoff(work, pages, work / "out-oneoff")
        print(f"{'one-off command, ' + str(len(pages)) + ' pages':30s} {len(pages):6,d} pages   "
              f"{oneoff_s:7.1f}s {len(pages) / oneoff_s:7.1f} pages/s   (model load "
              "included; every page cleaned and extracted)")

        best: dict[int, tuple[BulkSummary, float]] = {}
        outs: list[Path] = []
        print(f"[{load()}] starting LocalClusters of 1 and 2 workers ...", flush=True)
        with Cluster(1, args.model) as c1, Cluster(2, args.model) as c2:
            clusters = {1: c1, 2: c2}
            for workers, cluster in clusters.items():
                print(f"{'':30s} cluster of {workers} up with the model loaded in "
                      f"{cluster.seconds:.1f}s (not counted below)")
            for workers, cluster in clusters.items():
                # The same pages on each cluster alike first: it also warms the workers.
                t = time.perf_counter()
                s = bulk(same, work / f"out-same-{workers}", cluster.address, args.chunk_size)
                print(line(f"bulk, the same {len(pages)} pages, {workers}w", s,
                           time.perf_counter() - t), flush=True)
            for run in range(1, args.repeat + 1):
                for workers, cluster in clusters.items():  # alternated: the same conditions
                    outs.append(work / f"out-{workers}-{run}")
                    print(f"[{load()}] bulk, {workers} worker(s), run {run} ...", flush=True)
                    t = time.perf_counter()
                    s = bulk(paths, outs[-1], cluster.address, args.chunk_size)
                    seconds = time.perf_counter() - t
                    print(line(f"bulk, {len(items):,} pages, {workers}w, run {run}", s,
                               seconds), flush=True)
                    if workers not in best or seconds < best[workers][1]:
                        best[workers] = (s, seconds)
        print(f"{'':30s} facts of the {agreed(work / 'out-oneoff', work / 'out-same-1')}")
        results = best
        for workers, (s, seconds) in best.items():
            print(line(f"best of {args.repeat}, {workers} worker{'s' * (workers > 1)}", s,
                       seconds))
        speedup = results[1][1] / results[2][1]
        identical = all(tables(out) == tables(outs[0]) for out in outs)
        verdict = "holds" if speedup >= TARGET else "MISSED"
        print(f"2 workers vs 1: {speedup:.2f}x (target: at least {TARGET}x: {verdict}); "
              f"tables of every run byte-identical: {'yes' if identical else 'NO'}")
        one = results[1][0]
        print(f"relevance check: {one.counts.dropped:,} of {one.counts.pages:,} HTML pages "
              f"dropped ({one.dropped_share:.1%}) before the cleaner; "
              f"{one.counts.articles:,} cleaned and extracted, {one.written} articles "
              f"written ({one.duplicates:,} duplicate captures of one canonical URL)")
        return 0 if identical else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

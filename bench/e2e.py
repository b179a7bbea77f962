#!/usr/bin/env python3
"""End to end: the one-off command on local pages, beside a plain script, in the same run.

    python bench/e2e.py [--data DIR] [--pages 1000] [--model en_core_web_sm]

The pages are the article-extraction benchmark's 181, copied until there are `--pages`
of them, each copy with its own canonical URL (the page's canonical link and og:url are
replaced), so that no copy is deduplicated. Timed, each as a fresh process, wall clock:

- `python -m scraper -i LIST --workers 1` and `--workers 2`: fetch (local files), clean,
  extract, export per chunk, report;
- the plain script: trafilatura.extract on each page, `nlp.pipe(texts, n_process=2)` with
  the trained model alone, and one pandas CSV of the entities.

Targets: the one-off command with 2 workers at least 0.9x the plain script; 2 workers at
least 1.7x one. The data lives beside the repository (../shared/benchmarks/
article-extraction); without it this script says so and exits 0.
"""

from __future__ import annotations

import argparse
import gzip
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "article-extraction"
CANONICAL = re.compile(rb"<link[^>]*\brel=[\"']?canonical[^>]*>|<meta[^>]*\bog:url\b[^>]*>",
                       re.IGNORECASE)
HEAD = re.compile(rb"<head[^>]*>", re.IGNORECASE)

PLAIN = """\
import sys, spacy, trafilatura, pandas as pd
from extract.nlp.pipeline import resolve_model
paths = open(sys.argv[1], encoding="utf-8").read().split()
texts, urls = [], []
for path in paths:
    text = trafilatura.extract(open(path, "rb").read())
    if text:
        texts.append(text)
        urls.append(path)
nlp = spacy.load(resolve_model(sys.argv[3]))
rows = []
for url, doc in zip(urls, nlp.pipe(texts, n_process=2, batch_size=32)):
    rows.extend({"url": url, "entity": e.text, "label": e.label_} for e in doc.ents)
pd.DataFrame(rows).to_csv(sys.argv[2], index=False)
print(len(texts))
"""


def copies(data: Path, folder: Path, count: int) -> list[Path]:
    """`count` pages from the benchmark's, each with a canonical URL of its own."""
    sources = [gzip.decompress(p.read_bytes())
               for p in sorted((data / "html").glob("*.html.gz"))]
    out = []
    for i in range(count):
        html = CANONICAL.sub(b"", sources[i % len(sources)])
        link = f'<link rel="canonical" href="https://bench.example/copy/{i}/">'.encode()
        match = HEAD.search(html)
        at = match.end() if match else 0
        path = folder / f"page-{i:05d}.html"
        path.write_bytes(html[:at] + link + html[at:])
        out.append(path)
    return out


def timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(command[:4])} ...: exit {done.returncode}\n{done.stderr[-2000:]}")
    return seconds, done.stdout + done.stderr


def articles_in(out: Path) -> int:
    with (out / "articles.csv").open(encoding="utf-8", newline="") as handle:
        import csv

        return sum(1 for _ in csv.DictReader(handle))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--model", default="en_core_web_sm")
    args = ap.parse_args()
    if not (args.data / "html").is_dir():
        print(f"benchmark data not found at {args.data} (it lives beside the repository in "
              f"../shared/benchmarks/article-extraction); nothing to measure")
        return 0
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="e2e-") as tmp:
        folder = Path(tmp)
        (folder / "pages").mkdir()
        paths = copies(args.data, folder / "pages", args.pages)
        listing = folder / "inputs.txt"
        listing.write_text("\n".join(map(str, paths)) + "\n", encoding="utf-8")

        plain_s, said = timed([python, "-c", PLAIN, str(listing), str(folder / "plain.csv"),
                               args.model])
        plain_n = int(said.strip().splitlines()[-1])
        runs = {}
        for workers in (1, 2):
            out = folder / f"out-{workers}"
            seconds, _ = timed([python, "-m", "scraper", "-i", str(listing), "--out", str(out),
                                "-q", "--model", args.model, "--workers", str(workers)])
            runs[workers] = (seconds, articles_in(out))

    print(f"pages: {args.pages} (copies of {args.data}/html with distinct canonical URLs); "
          f"model {args.model}; wall clock of fresh processes, model loading included")
    print(f"plain script (trafilatura + nlp.pipe n_process=2 + one CSV): {plain_n} articles "
          f"in {plain_s:.1f}s = {plain_n / plain_s:.1f} articles/s")
    for workers, (seconds, n) in runs.items():
        print(f"python -m scraper --workers {workers}: {n} articles in {seconds:.1f}s = "
              f"{n / seconds:.1f} articles/s")
    rate = {w: n / s for w, (s, n) in runs.items()}
    print(f"--workers 2 vs plain script: {rate[2] / (plain_n / plain_s):.2f}x "
          f"(target: at least 0.9x)")
    print(f"--workers 2 vs --workers 1: {rate[2] / rate[1]:.2f}x (target: at least 1.7x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The slow and hostile fault cases, run as a user runs the tool (subprocesses), each with
its expected outcome; the last line is `N passed, M failed`.

    .venv/bin/python bench/faults.py [--kills 10] [--only NAME]

Cases:
  kill-N        a crawl of 48 articles on a local site, killed with SIGKILL at a random
                moment, then run again plainly: the tables equal an uninterrupted crawl's
                (fetched_at and at aside). Repeated --kills times, with a fixed seed.
  capped        a crawl with --max-articles 20, then one without: equal to a clean crawl.
  hostile-*     a one-off run of a hostile page beside a good one: the hostile page is
                refused (too_complex) or finished within 10 s and 500 MB, and the good one
                is written. Pages: 100,000 <p>x</p>; 1,000,000 <p>x</p> (8 MB); a run of
                16,000 emoji with no spaces (at most 3x a plain page of the same size).
  drip-oneoff   a server sending one byte every 0.2 s: a one-off run ends within the
  drip-crawl    request deadline (deadline = 2 s here), and so does a crawl.
The baseline each case is held against is named in its line (a clean crawl, the plain
page, the deadline).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.crawlsite import Site, serve_site, story  # noqa: E402
from tests.server import serve  # noqa: E402
from tests.test_crawl_resume import comparable, stored  # noqa: E402

LATENCY = 0.05  # per answer of the local site, so that a crawl lasts long enough to cut
CONFIG = "crawl_delay = 0.0\nbackoff = 0.05\nmax_backoff = 0.2\nretries = 2\nbatch_size = 3\n"
SEED = ROOT / "fixtures" / "pages" / "syndication" / "xiaomi-borgward-seed-shape.html"


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def scraper(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scraper", *args], cwd=ROOT, env=env(),
                          capture_output=True, text=True, timeout=timeout)


def measured(*args: str, timeout: float = 300) -> tuple[int, str, float, float]:
    """Run the scraper; its exit code, stderr, wall seconds and peak memory (MB), the
    latter from the kernel's accounting of that one child (wait4)."""
    with tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "scraper", *args], cwd=ROOT,
                                env=env(), stdout=subprocess.DEVNULL, stderr=err)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
            time.sleep(0.05)
        seconds = time.monotonic() - started
        err.seek(0)
        return os.waitstatus_to_exitcode(status), err.read(), seconds, usage.ru_maxrss / 1024


def rows(out: Path) -> int:
    """Articles written so far (a cell may hold line breaks: counted as CSV records)."""
    return len(comparable(out)["articles"])


class Bench:
    def __init__(self, work: Path) -> None:
        self.work, self.passed, self.failed = work, 0, 0
        self.config = work / "bench.toml"
        self.config.write_text(CONFIG, encoding="utf-8")
        self.crawl_seconds = 0.0

    def case(self, name: str, check: Callable[[], str]) -> None:
        """Run one case: `check` returns its detail line, or raises AssertionError."""
        started = time.monotonic()
        try:
            detail = check()
            self.passed += 1
            verdict = "ok  "
        except AssertionError as exc:
            detail = str(exc)
            self.failed += 1
            verdict = "FAIL"
        print(f"{verdict} {name:<16} {time.monotonic() - started:6.1f}s  {detail}",
              flush=True)

    def clean_crawl(self, site: Site) -> dict[str, list[dict[str, str]]]:
        """The baseline: an uninterrupted crawl (its duration sets when kills fall)."""
        out = self.work / "clean"
        if not (out / "articles.csv").exists():
            site.latency = LATENCY
            started = time.monotonic()
            done = scraper("crawl", "cnevpost", "--base-url", site.base + "/", "--config",
                           str(self.config), "--out", str(out), "--quiet")
            self.crawl_seconds = time.monotonic() - started
            site.latency = 0.0
            assert done.returncode == 0, done.stderr
            print(f"baseline: an uninterrupted crawl of the 48-article site, "
                  f"{self.crawl_seconds:.1f}s, {rows(out)} articles", flush=True)
        return comparable(out)

    def killed(self, site: Site, n: int, rng: random.Random) -> str:
        baseline = self.clean_crawl(site)
        out = self.work / f"killed-{n}"
        args = ["crawl", "cnevpost", "--base-url", site.base + "/", "--config",
                str(self.config), "--out", str(out), "--quiet"]
        site.latency = LATENCY
        proc = subprocess.Popen([sys.executable, "-m", "scraper", *args], cwd=ROOT,
                                env=env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # Any moment of the run: start-up, discovery, fetching, writing a chunk.
        wait = rng.uniform(0.3, 0.95 * self.crawl_seconds)
        time.sleep(wait)
        written = stored(out)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        site.latency = 0.0
        again = scraper(*args)
        assert again.returncode == 0, again.stderr[-500:]
        got = comparable(out)
        assert got == baseline, (f"killed at {wait:.1f}s ({written} articles written): "
                                 f"{len(got['articles'])} articles after the rerun, "
                                 f"{len(baseline['articles'])} in a clean crawl")
        return (f"killed at {wait:.1f}s with {written} articles written; after a rerun "
                f"{len(got['articles'])} articles = the clean crawl's")

    def capped(self, site: Site) -> str:
        baseline = self.clean_crawl(site)
        out = self.work / "capped"
        base = ["crawl", "cnevpost", "--base-url", site.base + "/", "--config",
                str(self.config), "--out", str(out), "--quiet"]
        first = scraper(*base, "--max-articles", "20")
        assert first.returncode == 0 and rows(out) == 20, first.stderr
        again = scraper(*base)
        assert again.returncode == 0, again.stderr
        got = comparable(out)
        assert got == baseline, (f"{len(got['articles'])} articles after the rerun, "
                                 f"{len(baseline['articles'])} in a clean crawl")
        return f"20, then {len(got['articles'])} articles = the clean crawl's"

    def hostile(self, name: str, page: bytes, plain: tuple[float, float],
                times_plain: float | None) -> str:
        """`plain`: the seconds and peak MB of the same run with a plain page instead."""
        folder = self.work / name
        folder.mkdir()
        (folder / "hostile.html").write_bytes(page)
        _, stderr, seconds, peak = measured(str(folder / "hostile.html"), str(SEED), "--out",
                                            str(folder / "out"), timeout=120)
        assert "Traceback" not in stderr, stderr[-500:]
        tables = comparable(folder / "out")
        assert any(a["input"] == str(SEED) for a in tables["articles"]), \
            "the good page was not written"
        outcome = tables["failures"][0]["error"] if tables["failures"] else "finished"
        extra_s, extra_mb = seconds - plain[0], peak - plain[1]
        detail = (f"{outcome}, good page written; {seconds:.1f}s and {peak:.0f} MB peak, "
                  f"{extra_s:+.1f}s and {extra_mb:+.0f} MB over the plain page's run")
        assert extra_s < 10 and extra_mb < 500, detail + " (budget: 10 s, 500 MB)"
        if times_plain is not None:
            assert seconds <= times_plain * plain[0], detail + f" (over {times_plain}x)"
        return detail

    def drip(self, crawl: bool) -> str:
        deadline = self.work / "deadline.toml"
        deadline.write_text("deadline = 2\nread_timeout = 5\nretries = 0\ncrawl_delay = 0\n",
                            encoding="utf-8")
        with serve(ROOT / "fixtures") as served:
            target = f"{served.base}/drip/200"
            out = self.work / ("drip-crawl" if crawl else "drip-oneoff")
            started = time.monotonic()
            args = (["crawl", target] if crawl else [target])
            done = scraper(*args, "--config", str(deadline), "--out", str(out), timeout=120)
            seconds = time.monotonic() - started
        assert "Traceback" not in done.stderr, done.stderr[-500:]
        assert seconds < 2 * 2 + 8, f"{seconds:.1f}s against a 2 s deadline"
        return f"ended in {seconds:.1f}s (deadline 2 s per request; 200 bytes would take 40 s)"


def paragraphs(n: int) -> bytes:
    return b"<html><body><article>" + b"<p>x</p>" * n + b"</article></body></html>"


def article(filler: str) -> bytes:
    text = ("Nio said its Hefei plant will have an annual capacity of 300,000 vehicles. "
            * 40)
    return (f"<html><head><title>A test</title></head><body><article><p>{text}</p>"
            f"<p>{filler}</p><p>{text}</p></article></body></html>").encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--only", help="run only the cases whose name starts with this")
    args = parser.parse_args()
    rng = random.Random(20261207)
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))

        def wanted(name: str) -> bool:
            return not args.only or name.startswith(args.only)

        with serve_site(site=Site(stories=[story(i) for i in range(48)])) as site:
            for n in range(args.kills):
                if wanted(f"kill-{n}"):
                    bench.case(f"kill-{n}", lambda n=n: bench.killed(site, n, rng))
            if wanted("capped"):
                bench.case("capped", lambda: bench.capped(site))
        plain = (0.0, 0.0)
        if wanted("hostile"):
            # The baseline: the same run with a plain page of the emoji page's size.
            (Path(tmp) / "plain.html").write_bytes(article("plain words " * 5000))
            _, _, seconds, peak = measured(str(Path(tmp) / "plain.html"), str(SEED),
                                           "--out", str(Path(tmp) / "plain"))
            plain = (seconds, peak)
            print(f"baseline: plain page beside the good one, {seconds:.1f}s, "
                  f"{peak:.0f} MB peak", flush=True)
        for name, page, times in (
                ("hostile-100k-p", paragraphs(100_000), None),
                ("hostile-1m-p", paragraphs(1_000_000), None),
                ("hostile-emoji", article("\U0001F697" * 16_000), 3.0)):
            if wanted(name):
                bench.case(name, lambda page=page, times=times, name=name:
                           bench.hostile(name, page, plain, times))
        if wanted("drip"):
            bench.case("drip-oneoff", lambda: bench.drip(False))
            bench.case("drip-crawl", lambda: bench.drip(True))
        print(f"{bench.passed} passed, {bench.failed} failed")
        return 0 if not bench.failed else 1


if __name__ == "__main__":
    sys.exit(main())

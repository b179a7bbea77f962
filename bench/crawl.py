"""Fetch-side benchmark: our fetcher (every run's, stock httpx) vs plain httpx loops.

A server process answers on 10 loopback hosts (127.0.0.1 .. 127.0.0.10, one port), every
request after 50 ms, with a ~40 KB page, and records what it sees per host: the most
requests in flight at once and the shortest gap between two arrivals. Each client runs in
its own process, so CPU time and peak memory are its own. Runs, in this order:

  sequential  a plain httpx.Client loop over the 1,000 URLs (the baseline)
  async       for reference: httpx.AsyncClient, one coroutine per host, nothing else
  ours        scraper.fetch.fetcher.Fetcher, one connection per host, no delay
              (pages/s for information: politeness, not zero-delay speed, is the target)
  ours+0.2s   the same with a 0.2 s per-host delay (floor: 100 pages/host * 0.2 s = 20 s)
  ours+1s     a 1 s delay over a third of the pages (floor: 33 pages/host * 1 s)
  memory      ours over 10,000 URLs (server latency 0) for peak memory

`--rerun [N]` measures the revisit policy instead: a crawl of a local site with N articles
(default 5,000) in its sitemaps (tests/crawlsite.py, dated back from now, 6 hours apart),
then a rerun with nothing new, one as if a day had passed, and one with `--revisit all`
(every article asked again, as every run did before the policy). Target: the rerun sends
at most 5% of the requests `--revisit all` sends.

Politeness targets, checked at the server and printed as holds/misses: at most one request
in flight per host, no gap between two arrivals on a host below the delay, and the run
within 3% of its floor.

Usage: .venv/bin/python bench/crawl.py [--pages 1000] [--skip-sequential] [--rerun [N]]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOSTS = [f"127.0.0.{i}" for i in range(1, 11)]
PAGE = (b"<!doctype html><html><head><title>bench</title></head><body><article>"
        + b"<p>Nio delivered cars and XPeng built a plant with 100,000 units a year.</p>\n"
        * 540 + b"</article></body></html>")  # about 40 KB


# --------------------------------------------------------------------------- server
@dataclass
class HostStats:
    arrivals: list[float] = field(default_factory=list)
    inflight: int = 0
    max_inflight: int = 0


class BenchServer:
    """Shared state of the bench server: latency and what each host saw."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.stats: dict[str, HostStats] = {}

    def summary(self) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {}
        for host, st in self.stats.items():
            gaps = [b - a for a, b in zip(st.arrivals, st.arrivals[1:], strict=False)]
            out[host] = {"requests": len(st.arrivals), "max_inflight": st.max_inflight,
                         "min_gap": min(gaps) if gaps else 0.0}
        return out


def response(body: bytes, ctype: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype + b"\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


PAGE_RESPONSE = response(PAGE, b"text/html")
ROBOTS_RESPONSE = response(b"User-agent: *\nAllow: /\n", b"text/plain")


class Connection(asyncio.Protocol):
    """One keep-alive connection. A bare Protocol, stamping arrivals in data_received:
    the earliest moment the server can see a request, so gaps are measured, not the
    server's own scheduling."""

    def __init__(self, server: BenchServer) -> None:
        self.server, self.buffer = server, b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.host = transport.get_extra_info("sockname")[0]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buffer += data
        loop = asyncio.get_running_loop()
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            if path.startswith("/__"):
                self.control(path)
                continue
            st = self.server.stats.setdefault(self.host, HostStats())
            st.arrivals.append(now)
            st.inflight += 1
            st.max_inflight = max(st.max_inflight, st.inflight)
            answer = ROBOTS_RESPONSE if path == "/robots.txt" else PAGE_RESPONSE
            if self.server.latency:
                loop.call_later(self.server.latency, self.answer, st, answer)
            else:
                self.answer(st, answer)

    def answer(self, st: HostStats, data: bytes) -> None:
        st.inflight -= 1
        if not self.transport.is_closing():
            self.transport.write(data)

    def control(self, path: str) -> None:
        if path.startswith("/__reset"):
            self.server.stats.clear()
            self.server.latency = float(path.partition("latency=")[2] or self.server.latency)
        self.transport.write(response(json.dumps(self.server.summary()).encode(),
                                      b"application/json"))


async def serve(port: int, latency: float) -> None:
    # The server stands in for other machines: it should not queue for a CPU behind the
    # client (or the neighbours' jobs) and stamp arrivals late. Raise its priority when
    # allowed; otherwise the figures are just noisier.
    try:
        os.nice(-10)
    except OSError:
        pass
    server = BenchServer(latency)
    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(lambda: Connection(server), host, port, backlog=256)
               for host in HOSTS]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


# --------------------------------------------------------------------------- clients
def urls(port: int, pages: int) -> list[str]:
    # Interleaved across hosts, as a crawl of 10 sites would hand them over.
    return [f"http://{HOSTS[i % len(HOSTS)]}:{port}/p/{i}" for i in range(pages)]


def sequential(port: int, pages: int) -> int:
    import httpx

    done = 0
    with httpx.Client() as client:
        for url in urls(port, pages):
            done += len(client.get(url).content) > 0
    return done


def naive_async(port: int, pages: int) -> int:
    """The reference: one httpx.AsyncClient, one coroutine per host, no politeness code."""
    import httpx

    by_host: dict[str, list[str]] = {}
    for url in urls(port, pages):
        by_host.setdefault(url.split("/")[2], []).append(url)
    done = 0

    async def main() -> None:
        async with httpx.AsyncClient() as client:
            async def host(todo: list[str]) -> None:
                nonlocal done
                for url in todo:
                    response = await client.get(url)
                    done += len(response.content) > 0

            await asyncio.gather(*(host(todo) for todo in by_host.values()))

    asyncio.run(main())
    return done


def ours(port: int, pages: int, delay: float) -> int:
    from scraper.core.settings import Settings
    from scraper.fetch.fetcher import Fetcher

    settings = Settings(crawl_delay=delay, host_concurrency=1, concurrency=16, retries=1)
    done = 0

    async def main() -> None:
        async with Fetcher(settings) as fetcher:
            async def fetch(url: str) -> None:
                nonlocal done
                page = await fetcher.get(url)
                done += len(page.content) > 0

            await fetcher.map(urls(port, pages), lambda u: u, fetch)

    asyncio.run(main())
    return done


def client(kind: str, port: int, pages: int, delay: float) -> None:
    # Imports are start-up cost, not per-page cost: load them before the clocks start.
    import httpx  # noqa: F401

    import scraper.fetch.fetcher  # noqa: F401

    cpu, wall = time.process_time(), time.perf_counter()
    if kind == "sequential":
        done = sequential(port, pages)
    elif kind == "async":
        done = naive_async(port, pages)
    else:
        done = ours(port, pages, delay)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"pages": done, "wall": wall, "cpu": cpu, "rss_mb": rss}))


# --------------------------------------------------------------------------- revisits
def rerun(articles: int) -> None:
    """The revisit policy's figures: requests of a first crawl, a rerun with nothing new,
    a rerun a day later, and a rerun asking everything (the behaviour before the policy)."""
    import sqlite3
    import tempfile
    from contextlib import closing
    from datetime import datetime, timedelta

    sys.path.insert(0, str(ROOT))
    from scraper.app.cli import main as cli_main
    from tests.crawlsite import recent_site, serve_site

    with tempfile.TemporaryDirectory() as tmp, \
            serve_site(site=recent_site(articles)) as site:
        out, config = Path(tmp) / "out", Path(tmp) / "fast.toml"
        config.write_text("crawl_delay = 0.0\n")

        def crawl(*extra: str) -> tuple[int, float]:
            before, started = len(site.requests()), time.perf_counter()
            code = cli_main(["crawl", "cnevpost", "--base-url", site.base + "/",
                             "--out", str(out), "--config", str(config), *extra])
            assert code == 0, code
            return len(site.requests()) - before, time.perf_counter() - started

        first, seconds = crawl()
        print(f"first run: {first} requests, {seconds:.0f} s", flush=True)
        again, _ = crawl()
        with closing(sqlite3.connect(out / "state.sqlite")) as db, db:
            rows = db.execute("SELECT key, fetched FROM urls WHERE fetched IS NOT NULL "
                              "AND kind = 'article'").fetchall()
            db.executemany("UPDATE urls SET fetched = ? WHERE key = ?", [
                ((datetime.fromisoformat(f) - timedelta(days=1)).isoformat(), k)
                for k, f in rows])
        day, _ = crawl()
        everything, _ = crawl("--revisit", "all")
        share = again / everything
        print(f"rerun with nothing new: {again} requests (was {everything}), "
              f"{share:.1%} (target <= 5%: {'holds' if share <= 0.05 else 'MISSES'}); "
              f"at the default 1 s delay {again:.0f} s instead of {everything / 60:.0f} min")
        print(f"rerun a day later: {day} requests (the first week's articles, daily)")


# --------------------------------------------------------------------------- driver
def control(port: int, what: str) -> dict:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}/__{what}", timeout=10).json()


def measure(port: int, kind: str, pages: int, delay: float = 0.0,
            latency: float = 0.05) -> dict:
    control(port, f"reset?latency={latency}")
    out = subprocess.run([sys.executable, __file__, "--client", kind, "--port", str(port),
                          "--pages", str(pages), "--delay", str(delay)],
                         capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    seen = control(port, "stats")
    result["max_inflight"] = max(h["max_inflight"] for h in seen.values())
    result["min_gap"] = min(h["min_gap"] for h in seen.values())
    return result


def line(name: str, r: dict) -> str:
    return (f"{name:<22} {r['pages'] / r['wall']:7.1f} pages/s  {r['wall']:6.2f} s  "
            f"CPU {r['cpu'] * 1000 / r['pages']:5.2f} s/1000 pages  "
            f"peak {r['rss_mb']:5.1f} MB  server: max in flight/host {r['max_inflight']}, "
            f"min gap/host {r['min_gap'] * 1000:6.1f} ms")


def polite_line(delay: float, pages: int, r: dict) -> str:
    """A delayed run's line with its verdict on the three politeness targets."""
    floor = (pages / len(HOSTS)) * delay
    over = r["wall"] / floor * 100 - 100
    holds = r["max_inflight"] <= 1 and r["min_gap"] >= delay and over <= 3.0
    return (line(f"ours, {delay:g} s delay", r)
            + f"  ({over:+.1f}% vs the {floor:.0f} s floor; target <=1 in flight, "
              f"gap >= {delay:g} s, within 3%: {'holds' if holds else 'MISSES'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument("--only-polite", action="store_true",
                        help="only the runs with a delay (the politeness targets)")
    parser.add_argument("--client", choices=("sequential", "async", "ours"))
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--rerun", type=int, nargs="?", const=5000, metavar="N",
                        help="measure the revisit policy on a site of N articles instead")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.port, 0.05))
        return
    if args.client:
        client(args.client, args.port, args.pages, args.delay)
        return
    if args.rerun:
        rerun(args.rerun)
        return

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        n = args.pages
        print(f"{n} pages of {len(PAGE) // 1000} KB on {len(HOSTS)} hosts, 50 ms latency; "
              f"ceiling {len(HOSTS) / 0.05:.0f} pages/s")
        if not (args.skip_sequential or args.only_polite):
            print(line("sequential httpx", measure(port, "sequential", n)), flush=True)
        if not args.only_polite:
            print(line("httpx async, 1/host", measure(port, "async", n)), flush=True)
            print(line("ours, 1/host, no delay", measure(port, "ours", n)), flush=True)
        # Whole pages per host, so that the floor is exact: (pages per host) * delay.
        for delay, pages in ((0.2, n), (1.0, n // 3 // len(HOSTS) * len(HOSTS))):
            delayed = measure(port, "ours", pages, delay=delay)
            print(polite_line(delay, pages, delayed), flush=True)
        if not args.only_polite:
            big = measure(port, "ours", 10 * n, latency=0.0)
            print(line(f"ours, {10 * n} URLs, 0 ms", big), flush=True)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()

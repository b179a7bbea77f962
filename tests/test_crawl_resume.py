"""The crawl as cron runs it, in subprocesses: killed with SIGKILL part-way and run again,
and refused while another crawl holds the lock."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.crawlsite import Site
from tests.test_crawl import EXIT_LOCKED, EXIT_OK, FAST, main

TABLES = ("articles", "companies", "deals", "capacities", "failures")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "fast.toml"
    path.write_text(FAST.replace("batch_size = 8", "batch_size = 3"))
    return path


def spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "scraper", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def data_rows(path: Path) -> int:
    return max(0, len(path.read_text(encoding="utf-8").splitlines()) - 1) \
        if path.exists() else 0


def stored(out: Path) -> int:
    """Articles in the store of `out` (the CSVs are exported at the end of a run)."""
    import sqlite3

    try:
        db = sqlite3.connect(f"file:{out / 'state.sqlite'}?mode=ro", uri=True, timeout=1)
        try:
            return int(db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def comparable(out: Path) -> dict[str, list[dict[str, str]]]:
    """The tables, without the columns that say when a page was fetched."""
    tables = {}
    for name in TABLES:
        path = out / f"{name}.csv"
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        tables[name] = [{k: v for k, v in row.items() if k not in ("fetched_at", "at")}
                        for row in csv.DictReader(io.StringIO(text))]
    return tables


def test_killed_run_then_rerun_equals_a_clean_run(site: Site, tmp_path: Path,
                                                  config: Path) -> None:
    site.latency = 0.03  # slow enough to be caught part-way
    args = ["crawl", "cnevpost", "--base-url", site.base + "/", "--config", str(config)]
    killed = tmp_path / "killed"
    proc = spawn(*args, "--out", str(killed))
    try:
        deadline = time.monotonic() + 120
        while stored(killed) < 4 and proc.poll() is None:
            assert time.monotonic() < deadline, "the crawl wrote nothing"
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    partial = stored(killed)
    assert 4 <= partial < 23, "the crawl was not caught part-way"
    assert data_rows(killed / "articles.csv") == 0  # the tables come at the end of a run

    site.latency = 0.0
    assert main([*args[1:], "--out", str(killed)]) == EXIT_OK
    clean = tmp_path / "clean"
    assert main([*args[1:], "--out", str(clean)]) == EXIT_OK
    assert comparable(killed) == comparable(clean)
    assert len(comparable(clean)["articles"]) == 23


def test_overlapping_runs_are_refused_and_a_dead_owner_is_taken_over(
        site: Site, tmp_path: Path, config: Path) -> None:
    out = tmp_path / "out"
    lock = out / "state.sqlite.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
         "from scraper.fetch.lock import CrawlLock\n"
         f"with CrawlLock(Path({str(lock)!r})):\n    print('held', flush=True)\n"
         "    time.sleep(60)\n"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        second = run_cli("crawl", "cnevpost", "--base-url", site.base + "/", "--out", str(out),
                         "--config", str(config))
        assert second.code == EXIT_LOCKED
        assert f"another crawl is running (pid {holder.pid}" in second.stderr
        assert time.monotonic() - started < 30
        assert not site.requests(), "the refused run talked to the site"
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # dies holding the lock: a stale lock file
        holder.communicate()
    assert lock.read_text().strip() == str(holder.pid)
    assert main(["cnevpost", "--base-url", site.base + "/", "--out", str(out),
                 "--config", str(config), "--quiet"]) == EXIT_OK


def test_progress_bar_on_a_terminal_and_silence_when_quiet(site: Site, tmp_path: Path,
                                                           config: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    args = ["crawl", "cnevpost", "--base-url", site.base + "/", "--config", str(config)]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen([sys.executable, "-m", "scraper", *args, "--out",
                           str(tmp_path / "tty")], cwd=ROOT, env=env, stdin=slave,
                          stdout=slave, stderr=slave) as proc:
        os.close(slave)
        seen = b""
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the other end is closed: the crawl has exited
                break
            if not data:
                break
            seen += data
        assert proc.wait(60) == EXIT_OK
    os.close(master)
    text = seen.decode("utf-8", "replace")
    assert "page/s" in text and "/24" in text  # tqdm's bar
    assert "crawl: 24 discovered" in text

    quiet = run_cli(*args, "--out", str(tmp_path / "quiet"), "--quiet")
    assert quiet.code == EXIT_OK and quiet.stderr == "" and quiet.stdout == ""


def test_a_capped_crawl_is_caught_up_by_the_next(tmp_path: Path, config: Path) -> None:
    """--max-articles caps one run, never what later runs fetch: the URLs it left are
    state, drained first by the next run, which then ends with a clean crawl's tables."""
    from tests.crawlsite import Site, serve_site, story

    with serve_site(site=Site(stories=[story(i) for i in range(48)])) as site:
        args = ["cnevpost", "--base-url", site.base + "/", "--config", str(config)]
        capped = tmp_path / "capped"
        assert main([*args, "--out", str(capped), "--max-articles", "20"]) == EXIT_OK
        assert len(comparable(capped)["articles"]) == 20
        assert main([*args, "--out", str(capped)]) == EXIT_OK
        clean = tmp_path / "clean"
        assert main([*args, "--out", str(clean)]) == EXIT_OK
    assert len(comparable(clean)["articles"]) == 47  # 48, less the one robots.txt forbids
    assert comparable(capped) == comparable(clean)

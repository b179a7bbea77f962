"""--workers N: the same tables whatever N is, bad values refused before any work, and a
worker that crashes or dies costs only its own page (scraper/app/pool.py)."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import scraper.app.run as run_module
from extract.errors import CleanError, ExtractError, ItemError, TooComplex
from scraper.app.cli import main
from scraper.app.pool import ChunkPool, InProcess
from scraper.app.run import Run, Task, process_tasks
from scraper.core.errors import InputError
from scraper.core.settings import Settings
from scraper.fetch.state import State
from scraper.output.store import Store
from tests.conftest import FIXTURES, run_cli
from tests.crawlsite import Site

PAGES = sorted((FIXTURES / "pages").glob("*/*.html"))
TABLES = ("articles", "companies", "deals", "capacities", "failures")
# When the run happened, not what it found: blanked before the tables are compared.
CLOCK_COLUMNS = {"fetched_at", "at"}
KILL = b"KILL-THE-WORKER"
BREAK = b"BREAK-THE-CLEANER"


def tables(out: Path) -> dict[str, bytes]:
    """Each table's bytes, with the clock columns blanked (the rest byte for byte)."""
    found = {}
    for name in TABLES:
        path = out / f"{name}.csv"
        if not path.exists():
            found[name] = b""
            continue
        text = path.read_text(encoding="utf-8")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        clock = [i for i, column in enumerate(rows[0]) if column in CLOCK_COLUMNS]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for row in rows:
            writer.writerow(["" if i in clock and row is not rows[0] else cell
                             for i, cell in enumerate(row)])
        found[name] = buffer.getvalue().encode()
    return found


def write_config(tmp_path: Path, batch_size: int) -> Path:
    path = tmp_path / "fast.toml"
    path.write_text(f"crawl_delay = 0.0\nbackoff = 0.05\nmax_backoff = 0.2\n"
                    f"batch_size = {batch_size}\n")
    return path


def test_oneoff_tables_are_the_same_with_one_and_two_workers(tmp_path: Path) -> None:
    """Chunks of 4 (so chunks overlap, and each is cut in pieces), a missing file and a
    page that is no article among them: every table byte for byte."""
    config = write_config(tmp_path, batch_size=4)
    not_html = tmp_path / "empty.html"
    not_html.write_text("<html><body></body></html>", encoding="utf-8")
    inputs = [*map(str, PAGES), str(tmp_path / "missing.html"), str(not_html)]
    for n in ("1", "2"):
        code = main([*inputs, "--out", str(tmp_path / n), "--config", str(config), "-q",
                     "--workers", n])
        assert code == 1  # the missing file and the empty page
    one, two = tables(tmp_path / "1"), tables(tmp_path / "2")
    # failures.csv is a log in the order things went wrong: a fetch failure is written with
    # whichever chunk is flushed next, so its place among the rows follows the timing.
    # Its rows, and every other table byte for byte, are the same.
    assert sorted(one.pop("failures").splitlines()) == sorted(two.pop("failures")
                                                              .splitlines())
    assert one == two
    assert one["articles"].count(b"\n") > len(PAGES) // 2  # the pages were read
    failures = (tmp_path / "1" / "failures.csv").read_text(encoding="utf-8")
    assert failures.count("\n") == 3  # the header and the two failures


def test_crawl_tables_are_the_same_with_one_and_two_workers(site: Site, tmp_path: Path
                                                            ) -> None:
    config = write_config(tmp_path, batch_size=3)
    for n in ("1", "2"):
        code = main(["crawl", "cnevpost", "--base-url", site.base + "/", "--out",
                     str(tmp_path / n), "--config", str(config), "-q", "--workers", n])
        assert code in (0, 1)
    one, two = tables(tmp_path / "1"), tables(tmp_path / "2")
    # failures.csv is a log in the order things went wrong: a fetch failure is written with
    # whichever chunk is flushed next, so its place among the rows follows the timing.
    # Its rows, and every other table byte for byte, are the same.
    assert sorted(one.pop("failures").splitlines()) == sorted(two.pop("failures")
                                                              .splitlines())
    assert one == two
    assert one["articles"].count(b"\n") > 3


@pytest.mark.parametrize("value", ["0", "-3", "two", "1000"])
def test_a_bad_workers_value_exits_2_before_any_work(tmp_path: Path, value: str) -> None:
    out = tmp_path / "out"
    for command in ([str(PAGES[0])], ["crawl", "cnevpost"]):
        result = run_cli(*command, "--out", str(out), "--workers", value)
        assert result.code == 2, result.stderr
        assert "workers" in result.stderr and "Traceback" not in result.stderr
    result = run_cli(str(PAGES[0]), "--out", str(out),
                     env={**os.environ, "SCRAPER_WORKERS": value})
    assert result.code == 2, result.stderr
    assert not out.exists()  # nothing was written


def test_the_default_is_the_number_of_cores() -> None:
    assert Settings().workers == (os.cpu_count() or 1)


@pytest.mark.parametrize("error", [
    ItemError("x"), CleanError("no text"), TooComplex("big", code="too_complex"),
    ExtractError("spaCy failed"), run_module.unexpected(RecursionError("deep"), "clean"),
    InputError("gone", code="worker_died"),
])
def test_item_errors_cross_processes_whole(error: ItemError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert (type(back), back.message, back.stage, back.code) == (
        type(error), error.message, error.stage, error.code)


def hostile(nlp, tasks: list[Task], settings: Settings):  # noqa: ANN001, ANN201
    """The work of a worker that dies on one page (as a segfault in a C library would) and
    whose cleaner raises on another; every other page is processed as usual."""
    if any(KILL in task.page.content for task in tasks):
        os._exit(11)
    real_clean = run_module.clean

    def flaky(page, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if BREAK in page.content:
            raise RecursionError("maximum recursion depth exceeded")
        return real_clean(page, *args, **kwargs)

    run_module.clean = flaky  # in this worker process only
    try:
        return process_tasks(nlp, tasks, settings)
    finally:
        run_module.clean = real_clean


def test_a_dying_worker_costs_only_its_page(tmp_path: Path) -> None:
    pages = PAGES[:9]
    killer, breaker = tmp_path / "killer.html", tmp_path / "breaker.html"
    killer.write_bytes(pages[0].read_bytes().replace(b"<body", b"<body data-x='"
                                                      + KILL + b"'", 1))
    breaker.write_bytes(pages[1].read_bytes() + b"<!-- " + BREAK + b" -->")
    inputs = [*map(str, pages[2:5]), str(killer), *map(str, pages[5:7]), str(breaker),
              *map(str, pages[7:])]
    settings = Settings(out_dir=tmp_path / "out", crawl_delay=0, workers=2, batch_size=4)
    with State(Path(":memory:"), tables=settings.out_dir) as state, \
            Store(settings.out_dir) as store:
        summary = asyncio.run(Run(settings, state, [].append, store=store, inputs=inputs,
                                  work=hostile).run())
        store.publish(excel=None)
    failed = {f.input: (f.stage, f.error) for f in summary.failures}
    assert failed == {str(killer): ("extract", "worker_died"),
                      str(breaker): ("clean", "unexpected")}
    assert sorted(a.input for a, _ in summary.results) == sorted(map(str, pages[2:]))
    articles = (settings.out_dir / "articles.csv").read_text(encoding="utf-8")
    assert all(str(p) in articles for p in pages[2:])
    failures = (settings.out_dir / "failures.csv").read_text(encoding="utf-8")
    assert "worker_died" in failures and "RecursionError" in failures


def test_a_one_off_run_of_one_page_starts_no_pool(tmp_path: Path) -> None:
    """Starting the processes costs more than reading a page or two: those stay here."""
    settings = Settings(out_dir=tmp_path / "out", workers=2)
    with State(Path(":memory:"), tables=settings.out_dir) as state, \
            ThreadPoolExecutor(1) as thread:
        few = Run(settings, state, [].append, inputs=["a.html", "b.html", "c.html"])
        many = Run(settings, state, [].append, inputs=[f"{n}.html" for n in range(4)])
        assert isinstance(few.stages(thread), InProcess)
        pool = many.stages(thread)
        assert isinstance(pool, ChunkPool)
        pool.close()

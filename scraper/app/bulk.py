"""The bulk mode: WARC archives (years of CC-NEWS) through clean + extract on Dask.

    python -m scraper bulk WARC ... [--scheduler ADDRESS] [--workers N] [--chunk-size MB]

Plan -> tasks -> stage -> land:

- **plan**: each WARC file (a local path, a file:// URL, or an http(s) URL that a worker
  downloads) becomes byte ranges of about `--chunk-size` MB (`scraper.fetch.warc`): one
  Dask task each, with no pass over the file first.
- **tasks** (`process_chunk`, on the workers): read the range's records, keep the HTML
  responses, drop the pages that are not about the EV industry at a glance
  (`scraper.fetch.prefilter`: headline and lead, before trafilatura and spaCy), then clean
  and extract the rest exactly as a run does (`run.clean_all`, `extract_all`). Each worker
  process loads the spaCy pipeline once, when it starts (`PipelinePlugin`). A task returns
  its articles and facts as one Parquet partition, with its counts and failures.
- **stage**: the partitions are written to a folder beside the tables as tasks finish, so
  the driver holds none of them in memory.
- **land** (`land`): one capture per canonical URL is chosen (the latest), a newer version
  already in the store is kept, and the rest goes into the store as every run's chunks do
  (`scraper.output.store.Store.put`): rows replaced per article_id, one transaction per
  batch; the tables are exported once at the end. The same WARC twice gives the same
  tables; a crawl after a backfill replaces rows, never duplicates them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from importlib.util import find_spec
from pathlib import Path

from dask.base import compute
from dask.delayed import delayed
from distributed import Client, LocalCluster, Worker, WorkerPlugin, as_completed, get_worker
from spacy.language import Language

from extract.errors import ItemError
from extract.nlp.facts import extract_all
from extract.nlp.pipeline import load_pipeline
from extract.records import Article, Facts, article_id
from scraper.app.run import (
    Job,
    RunSummary,
    clean_all,
    failure_of,
    finish,
    open_store,
    refuse_bad_model,
)
from scraper.core.errors import InputError, OutputError, UsageError
from scraper.core.records import Failure, now_utc
from scraper.core.settings import Settings
from scraper.fetch.discover import Candidate
from scraper.fetch.prefilter import glance
from scraper.fetch.urls import redact, redact_text, url_key
from scraper.fetch.warc import Chunk, Damaged, Item, Record, chunks_of, file_size, local_copy
from scraper.fetch.warc import read_chunk as read_records
from scraper.output.parts import keys, read_part, to_parquet
from scraper.output.store import Store
from scraper.sites import profile_for

log = logging.getLogger(__name__)
Progress = Callable[[int | None], object]
SYNCHRONOUS = "synchronous"
DEFAULT_CHUNK_MB = 64.0
# Articles merged into the tables at a time (each merge rewrites the tables).
MERGE_BATCH = 5_000


@dataclass(frozen=True)
class BulkOptions:
    """What the bulk command was asked to do, besides the settings."""

    sources: tuple[str, ...]
    scheduler: str | None = None  # None: a LocalCluster; an address; or "synchronous"
    workers: int | None = None  # the LocalCluster's size; None: the `workers` setting
    chunk_mb: float = DEFAULT_CHUNK_MB  # 0: one task per WARC file
    dashboard: str | None = ":8787"  # the LocalCluster's dashboard, when bokeh is there

    def check(self) -> BulkOptions:
        if not self.sources:
            raise UsageError("give at least one WARC file")
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers {self.workers}: give 1 or more")
        if self.workers is not None and self.scheduler:
            raise UsageError("--workers sizes the LocalCluster; a --scheduler's cluster "
                             "has its own workers")
        if not self.chunk_mb >= 0:
            raise UsageError(f"--chunk-size {self.chunk_mb:g}: give 0 (one task per file) "
                             "or a number of megabytes")
        return self


@dataclass(frozen=True)
class Counts:
    """What the tasks saw, added up over tasks."""

    records: int = 0  # every record that started in a task's range
    pages: int = 0  # HTML responses of status 200
    dropped: int = 0  # of those, not about the EV industry at a glance (the prefilter)
    articles: int = 0  # cleaned and extracted
    irrelevant: int = 0  # of those, below --min-relevance: not written

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name)
                        for f in fields(Counts)))


@dataclass(frozen=True)
class ChunkResult:
    """What one task returns: its counts, its failures and its results (Parquet)."""

    chunk: Chunk
    counts: Counts
    failures: tuple[Failure, ...]
    parquet: bytes
    seconds: float  # wall time of the task
    cpu: float = 0.0  # CPU time of its process meanwhile (threads_per_worker=1: the task's)


@dataclass
class BulkSummary:
    """What one bulk run did; the summary line reads it."""

    files: int = 0
    tasks: int = 0
    workers: int = 0
    counts: Counts = Counts()
    written: int = 0  # articles merged into the tables
    duplicates: int = 0  # captures of an article already taken in this run
    older: int = 0  # captures older than the version the tables hold
    companies: int = 0
    deals: int = 0
    capacities: int = 0
    seconds: float = 0.0
    task_seconds: float = 0.0  # the tasks' wall time, added up
    task_cpu: float = 0.0  # their CPU time: beside seconds * workers, how busy workers were
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def dropped_share(self) -> float:
        return self.counts.dropped / self.counts.pages if self.counts.pages else 0.0

    def line(self) -> str:
        c = self.counts
        rate = c.records / self.seconds if self.seconds else 0.0
        return (f"bulk: {c.records:,} records in {plural(self.files, 'WARC file')} "
                f"({plural(self.tasks, 'task')} on {plural(self.workers, 'worker')}), "
                f"{c.pages:,} HTML pages, {c.dropped:,} dropped "
                f"by the relevance check ({self.dropped_share:.1%}), {self.written:,} "
                f"articles ({self.duplicates} duplicates, {self.older} older than the "
                f"tables'), {self.companies} companies, {self.deals} deals, "
                f"{self.capacities} capacities, {len(self.failures)} failed"
                f"{f', {c.irrelevant} irrelevant' if c.irrelevant else ''}, "
                f"{self.seconds:.1f}s, {rate:,.0f} records/s")


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


class PipelinePlugin(WorkerPlugin):
    """Loads the spaCy pipeline once in each worker process, as the worker joins, in a
    thread so that the worker keeps answering the scheduler meanwhile. `load_pipeline`
    keeps it for the process; the tasks take it from there."""

    name = "evnews-pipeline"

    def __init__(self, model: str) -> None:
        self.model = model

    async def setup(self, worker: Worker) -> None:
        await asyncio.get_running_loop().run_in_executor(None, load_pipeline, self.model)


def scratch() -> str | None:
    """Where a task downloads a WARC URL: the worker's own folder, else the temp folder."""
    try:
        return str(get_worker().local_directory)
    except ValueError:
        return None


class Task:
    """One task's work: records in, pages kept by the prefilter cleaned and extracted
    `batch_size` at a time, results and failures gathered."""

    def __init__(self, chunk: Chunk, settings: Settings, nlp: Language) -> None:
        self.chunk, self.settings, self.nlp = chunk, settings, nlp
        self.counts = Counts()
        self.failures: list[Failure] = []
        self.results: list[tuple[Article, Facts]] = []
        self.waiting: list[Job] = []

    def take(self, item: Item) -> None:
        self.counts += Counts(records=1)
        if isinstance(item, Damaged):
            where = f"{self.chunk.source}#{item.offset}"
            self.fail(where, item.url or self.chunk.source, "fetch", item.code, item.message)
        elif isinstance(item, Record):
            self.counts += Counts(pages=1)
            if not glance(item.page).keep:
                self.counts += Counts(dropped=1)
                return
            url = item.page.url
            candidate = Candidate(key=url_key(url) if url else item.page.input, url=url,
                                  profile=profile_for(url), published=None, dated="",
                                  input=item.page.input)
            self.waiting.append(Job(candidate, item.page))
            if len(self.waiting) >= self.settings.batch_size:
                self.flush()

    def fail(self, target: str, url: str, stage: str, code: str, message: str) -> None:
        self.failures.append(Failure(input=redact(target), url=redact(url), stage=stage,
                                     error=code, message=redact_text(message), at=now_utc()))

    def flush(self) -> None:
        """Clean and extract the pages waiting, as a run's chunk is."""
        jobs, self.waiting = self.waiting, []
        articles: list[Article] = []
        for job, result in zip(jobs, clean_all(jobs, self.settings), strict=True):
            if isinstance(result, ItemError):
                self.failures.append(failure_of(result, job.candidate.input, job.page.url))
            else:
                articles.append(result)
        results, failed = extract_all(self.nlp, articles, self.settings.batch_size,
                                      self.settings.max_text_chars)
        self.failures += [failure_of(e, a.input, a.url) for a, e in failed]
        floor = self.settings.min_relevance
        kept = [(a, f) for a, f in results if (f.relevance or 0.0) >= floor]
        self.counts += Counts(articles=len(results), irrelevant=len(results) - len(kept))
        self.results += kept


def process_chunk(chunk: Chunk, settings: Settings) -> ChunkResult:
    """The task: one byte range of one WARC file, read, filtered, cleaned and extracted.
    A file that cannot be had (missing, a failed download) is the task's one failure."""
    started, cpu = time.monotonic(), time.process_time()
    task = Task(chunk, settings, load_pipeline(settings.model))
    try:
        with local_copy(chunk.source, settings, scratch()) as path:
            for item in read_records(path, chunk, settings.max_bytes):
                task.take(item)
    except InputError as exc:
        task.fail(chunk.name, chunk.source, exc.stage, exc.code, exc.message)
    except OSError as exc:
        task.fail(chunk.name, chunk.source, "fetch", "os_error",
                  f"cannot read {chunk.source}: {exc.strerror or exc}")
    task.flush()
    return ChunkResult(chunk, task.counts, tuple(task.failures), to_parquet(task.results),
                       time.monotonic() - started, time.process_time() - cpu)


def lost(chunk: Chunk, exc: BaseException) -> ChunkResult:
    """A task that raised or whose worker died: one failure row for its range."""
    message = f"the task for {chunk.name} failed: {type(exc).__name__}: {str(exc)[:300]}"
    failure = Failure(input=redact(chunk.name), url=redact(chunk.source), stage="bulk",
                      error="unexpected", message=redact_text(" ".join(message.split())),
                      at=now_utc())
    return ChunkResult(chunk, Counts(), (failure,), b"", 0.0)


Runner = Callable[[Sequence[Chunk]], Iterator[ChunkResult]]


@contextmanager
def engine(options: BulkOptions, settings: Settings) -> Iterator[tuple[Runner, int]]:
    """A runner of tasks and its number of workers: a LocalCluster of one-thread worker
    processes, a running cluster's scheduler, or (`synchronous`) this process alone."""
    if options.scheduler == SYNCHRONOUS:
        yield (lambda chunks: synchronous(chunks, settings)), 1
        return
    cluster: LocalCluster | None = None
    try:
        if options.scheduler:
            client = Client(options.scheduler)  # type: ignore[no-untyped-call]
        else:
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=options.workers or settings.workers, threads_per_worker=1,
                processes=True,
                # Without bokeh there is no dashboard, but the scheduler's HTTP server
                # still wants a port: any free one, so that a busy 8787 warns no one.
                dashboard_address=(options.dashboard if options.dashboard and find_spec("bokeh")
                                   else ":0"))
            client = Client(cluster)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {options.scheduler}: "
                         f"{exc}") from None
    try:
        if client.dashboard_link and (options.scheduler or find_spec("bokeh")):
            log.info("Dask dashboard: %s", client.dashboard_link)
        try:
            client.register_plugin(PipelinePlugin(settings.model))
        except Exception as exc:  # noqa: BLE001  (whatever a worker raised while loading)
            raise UsageError(f"the Dask workers cannot load the spaCy model "
                             f"{settings.model!r}: {exc}") from None
        workers = len(client.scheduler_info(n_workers=-1)["workers"])
        log.debug("Dask: %d workers, model %s loaded on each", workers, settings.model)
        yield (lambda chunks: on_cluster(client, chunks, settings)), workers
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()


def synchronous(chunks: Sequence[Chunk], settings: Settings) -> Iterator[ChunkResult]:
    """Every task in this process, one after the other, on Dask's synchronous scheduler
    (for debugging and tests)."""
    for chunk in chunks:
        try:
            task = delayed(process_chunk)(chunk, settings)
            (result,) = compute(task, scheduler="synchronous")  # type: ignore[no-untyped-call]
        except Exception as exc:  # noqa: BLE001  (a task's failure is recorded, as on a cluster)
            result = lost(chunk, exc)
        yield result


def on_cluster(client: Client, chunks: Sequence[Chunk],
               settings: Settings) -> Iterator[ChunkResult]:
    """Every task on the cluster, results as they finish."""
    futures = {client.submit(process_chunk, chunk, settings, pure=False,
                             key=f"evnews-bulk-{number}-{os.urandom(4).hex()}"): chunk
               for number, chunk in enumerate(chunks)}
    for future in as_completed(futures):  # type: ignore[no-untyped-call]
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001  (a task's failure is recorded, the run goes on)
            result = lost(futures[future], exc)
        future.release()
        yield result


def fetched(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Landed:
    """What the merge wrote."""

    written: list[tuple[Article, Facts]]  # texts left out: report.html needs only which
    duplicates: int
    older: int
    companies: int
    deals: int
    capacities: int
    known: frozenset[str] = frozenset()  # articles the store held before


def land(store: Store, parts: Sequence[Path], failures: Sequence[Failure]) -> Landed:
    """Merge staged partitions and failures into the tables: the one step that writes.

    One capture per canonical URL (article_id) is taken, the latest by fetched_at (then
    by input), whatever the split into tasks and the order they finished in; a capture
    older than the version the tables hold is left out (a crawl fetched it later). The rest
    goes through `export`, the merge every run uses, `MERGE_BATCH` articles at a time.
    """
    best: dict[str, tuple[tuple[str, str], int, int]] = {}
    captures = 0
    for number, part in enumerate(parts):
        for row, key in enumerate(keys(part)):
            captures += 1
            aid, rank = article_id(key["url"]), (key["fetched_at"], key["input"])
            if aid not in best or rank > best[aid][0]:
                best[aid] = (rank, number, row)
    store.pick(best)
    held = {r["article_id"]: r["fetched_at"]
            for r in store.select("articles", ("article_id", "fetched_at"))}
    known = frozenset(held)
    older = set()
    for aid, ((when, _), _, _) in best.items():
        theirs, ours = fetched(held.get(aid, "")), fetched(when)
        if theirs is not None and ours is not None and theirs > ours:
            older.add(aid)
    rows: dict[int, set[int]] = {}
    for aid, (_, number, row) in best.items():
        if aid not in older:
            rows.setdefault(number, set()).add(row)
    written: list[tuple[Article, Facts]] = []
    totals = [0, 0, 0]
    batch: list[tuple[Article, Facts]] = []

    def merge(last: bool) -> None:
        try:
            store.put(batch, failures if last else ())
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"cannot write the store in {store.out_dir}: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
        for article, facts in batch:
            written.append((replace(article, paragraphs=()), Facts((), (), ())))
            totals[0] += len(facts.companies)
            totals[1] += len(facts.deals)
            totals[2] += len(facts.capacities)
        batch.clear()

    for number, part in enumerate(parts):
        for pair in read_part(part, rows.get(number, set())):
            batch.append(pair)
            if len(batch) >= MERGE_BATCH:
                merge(last=False)
    if batch or failures:
        merge(last=True)
    return Landed(written, captures - len(best), len(older), totals[0], totals[1], totals[2],
                  known)


def run_bulk(settings: Settings, options: BulkOptions,
             progress: Progress | None = None) -> BulkSummary:
    """One bulk run: plan, run the tasks, stage their partitions, land them, then the
    end-of-run hook every run shares (formats, report.html)."""
    options.check()
    refuse_bad_model(settings)
    started = time.monotonic()
    out_dir = settings.out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write the tables in {out_dir}: "
                          f"{exc.strerror or exc}") from None
    store = open_store(settings, None)
    chunk_bytes = int(options.chunk_mb * 1_000_000)
    chunks = [c for source in options.sources
              for c in chunks_of(source, file_size(source), chunk_bytes)]
    summary = BulkSummary(files=len(options.sources), tasks=len(chunks))
    staging = Path(tempfile.mkdtemp(prefix=".bulk-", dir=out_dir))
    try:
        parts: list[Path] = []
        with engine(options, settings) as (run, workers):
            summary.workers = workers
            log.debug("bulk: %d WARC files in %d tasks on %d workers", summary.files,
                      len(chunks), workers)
            if progress:
                progress(len(chunks))
            for result in run(chunks):
                if result.parquet:
                    parts.append(staging / f"part-{len(parts):06d}.parquet")
                    parts[-1].write_bytes(result.parquet)
                summary.counts += result.counts
                summary.task_seconds += result.seconds
                summary.task_cpu += result.cpu
                summary.failures += result.failures
                say(result)
                if progress:
                    progress(-1)
        landed = land(store, parts, summary.failures)
    except BaseException:
        store.close()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if progress:
            progress(None)
    summary.written, summary.duplicates, summary.older = (len(landed.written),
                                                          landed.duplicates, landed.older)
    summary.companies, summary.deals, summary.capacities = (landed.companies, landed.deals,
                                                            landed.capacities)
    summary.seconds = time.monotonic() - started
    with store:
        finish(settings, RunSummary(fetched=summary.counts.pages, known=landed.known,
                                    seconds=summary.seconds, results=landed.written,
                                    failures=summary.failures,
                                    irrelevant=summary.counts.irrelevant), store)
    return summary


def say(result: ChunkResult) -> None:
    """A task's line, and one error line per failure in it."""
    for failure in result.failures:
        log.error("%s: %s", failure.input, failure.message)
    c = result.counts
    log.info("%s: %d records, %d HTML pages, %d dropped by the relevance check, %d "
             "articles, %d failed (%.1fs)", result.chunk.name, c.records, c.pages, c.dropped,
             c.articles, len(result.failures), result.seconds)

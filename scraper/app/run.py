"""The run loop every command shares: plan -> fetch (async) -> clean + extract (in worker
processes, or a worker thread with --workers 1) -> export (chunk by chunk, in input order)
-> mark done in the state -> publish and report.

A one-off run (`python -m scraper URL ...`) is this loop over the given inputs with
discovery off and a state kept in memory, so it always fetches afresh; the scheduled crawl
plans by discovering candidates first and keeps its state in SQLite. Both fetch through
the same `Fetcher` (robots.txt, per-host delay, retries, caps, error translation).

Fetching runs in the asyncio loop; the CPU-bound stages run in `settings.workers` processes
(`scraper.app.pool`), so the loop keeps the hosts busy while spaCy works, and a chunk is
cleaned and extracted while the one before it is merged into the tables. A chunk's URLs
are marked done in the state only after its rows are in the tables: a run killed at any
point refetches what it had not written, and the next run ends with the same tables as an
uninterrupted one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from spacy.language import Language

from extract.clean import clean
from extract.errors import ItemError, PageError, PipelineError
from extract.nlp.facts import extract_all
from extract.nlp.pipeline import check_model
from extract.records import Article, CleanOptions, Facts, Page
from scraper.app.pool import ChunkPool, InProcess, Work
from scraper.core.errors import (
    InputError,
    OutputError,
    Recorded,
    RobotsDisallowed,
    RunError,
    UsageError,
)
from scraper.core.logs import prefixed, teller
from scraper.core.records import Failure, now_utc
from scraper.core.settings import Settings
from scraper.fetch.discover import Candidate, Discoverer, Discovery
from scraper.fetch.fetcher import Fetcher
from scraper.fetch.local import check_html, is_url
from scraper.fetch.state import Revisit, State, content_hash, header_map
from scraper.fetch.urls import redact, redact_text, url_key
from scraper.output.formats import publish
from scraper.output.report import RunCounts, write_report
from scraper.output.store import Store
from scraper.sites import GENERIC, SiteProfile, profile_for

Report = Callable[[str], None]
Progress = Callable[[int], object]
# The run's lines (failures, one per article, repairs) and, at debug level, its steps.
log = logging.getLogger(__name__)
# A chunk is written when it is full or when its first page has waited this long.
FLUSH_SECONDS = 5.0


@dataclass
class RunSummary:
    """What one run did; the summary line and the end-of-run hook read it."""

    started: str = field(default_factory=now_utc)
    discovered: int = 0
    old: int = 0
    fetched: int = 0
    not_modified: int = 0
    skipped: int = 0  # already given up (404, PDF) in an earlier run
    disallowed: int = 0  # robots.txt said no
    capped: int = 0  # left for a later run by --max-articles
    resumed: int = 0  # left by an earlier run (capped, killed, failed) and taken up now
    revisited: int = 0  # extracted before, asked again: due by age, or a newer lastmod
    left_alone: int = 0  # extracted before, not due: not asked (the revisit policy)
    irrelevant: int = 0  # below --min-relevance: counted, not written
    known: frozenset[str] | None = None  # article_ids in the tables before (report.html)
    seconds: float = 0.0
    results: list[tuple[Article, Facts]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def totals(self) -> tuple[int, int, int, int]:
        return (len(self.results),
                sum(len(f.companies) for _, f in self.results),
                sum(len(f.deals) for _, f in self.results),
                sum(len(f.capacities) for _, f in self.results))

    @property
    def new_facts(self) -> int:
        return sum(len(f.companies) + len(f.deals) + len(f.capacities)
                   for _, f in self.results)

    def crawl_line(self) -> str:
        return (f"crawl: {self.discovered} discovered ({self.old} too old), "
                f"{self.fetched} fetched, {self.not_modified} not modified, "
                f"{len(self.failures)} failed, {self.new_facts} new facts"
                f"{self.irrelevant_part}, {self.revisited} revisited, "
                f"{self.left_alone} left alone, {self.disallowed} disallowed by robots.txt, "
                f"{self.resumed} resumed from earlier runs, "
                f"{self.capped} left for later by --max-articles, {self.seconds:.1f}s")

    def oneoff_line(self) -> str:
        articles, companies, deals, capacities = self.totals()
        robots = f", {self.disallowed} disallowed by robots.txt" if self.disallowed else ""
        return (f"done: {articles} articles, {companies} companies, {deals} deals, "
                f"{capacities} capacities, {len(self.failures)} failed"
                f"{self.irrelevant_part}{robots}, {self.seconds:.1f}s")

    @property
    def irrelevant_part(self) -> str:
        """The summary lines' ", N irrelevant" when --min-relevance skipped any."""
        return f", {self.irrelevant} irrelevant" if self.irrelevant else ""


@dataclass(frozen=True)
class Job:
    """A fetched article page waiting for the CPU-bound stages."""

    candidate: Candidate
    page: Page


@dataclass(frozen=True)
class Task:
    """What the cleaner and the extractor need of a job, picklable for a worker process:
    the page with the URLs the tables show, and its site's clean options (None: those of
    the site its canonical URL belongs to; a profile itself is known by identity)."""

    page: Page
    options: CleanOptions | None


@dataclass(frozen=True)
class Outcome:
    """A task's result: its article (or why it has none) and the article's facts (or why
    extraction failed on it; None when there is no article)."""

    article: Article | ItemError
    facts: Facts | ItemError | None = None


Stages = InProcess[Task, Outcome] | ChunkPool[Task, Outcome]
# A one-off run of fewer inputs than two a worker runs in its own process whatever
# --workers says: starting the pool (each process loading the model) costs more than
# reading one or two pages, the usual `python -m scraper URL`.
PER_WORKER = 2


@dataclass(frozen=True)
class Pending:
    """A failed URL, written to failures.csv with the next chunk, then to the state."""

    failure: Failure
    candidate: Candidate
    status: int | None
    final: bool


def failure_of(exc: ItemError, target: str, url: str) -> Failure:
    """The failures.csv row of one input (no password of a URL is written)."""
    return Failure(input=redact(target), url=redact(url), stage=exc.stage, error=exc.code,
                   message=redact_text(exc.message), at=now_utc())


def unexpected(exc: Exception, stage: str) -> InputError:
    """Any other exception met while handling one input (a library's bug or a case it does
    not translate) is that input's failure, not the end of the run."""
    error = InputError(f"unexpected {type(exc).__name__}: {str(exc)[:300]}",
                       code="unexpected")
    error.stage = stage
    return error


def revisit_policy(settings: Settings) -> Revisit:
    """The settings' revisit policy: by age, or every article every run (`revisit = all`)."""
    return Revisit(settings.revisit_daily_days, settings.revisit_weekly_days,
                   everything=settings.revisit == "all")


def candidates_of(inputs: Sequence[str]) -> list[Candidate]:
    """The one-off run's plan: the inputs as given, each with its site's profile."""
    out: list[Candidate] = []
    for target in inputs:
        profile = profile_for(target) if is_url(target) else GENERIC
        key = url_key(target) if is_url(target) else f"file:{target}"
        out.append(Candidate(key=key, url=target, profile=profile, published=None, dated="",
                             input=target))
    return out


class Run:
    """One run over a plan. `await Run(...).run()` returns its summary.

    `profiles` are discovered first (the crawl); `inputs` are fetched as given (one-off).
    The run's lines go to `report` when the caller gives one, else to the log.
    """

    def __init__(self, settings: Settings, state: State, report: Report | None,
                 notice: Report | None = None, store: Store | None = None, *,
                 profiles: Sequence[SiteProfile] = (), inputs: Sequence[str] = (),
                 since: datetime | None = None, max_articles: int | None = None,
                 progress: Progress | None = None,
                 work: Work[Task, Outcome] | None = None) -> None:
        self.settings, self.state, self.report = settings, state, report
        self.work = work or process_tasks  # a test gives a hostile one
        self.notice = notice  # repairs of damaged tables, said as warnings
        # Where each chunk's rows go; the caller exports the tables from it at the end.
        self.store = store or Store(settings.out_dir, notice, settings.window)
        self.profiles, self.inputs = profiles, inputs
        self.since, self.max_articles, self.progress = since, max_articles, progress
        self.summary = RunSummary()
        self.pending: list[Pending] = []
        self.discovery_failures: list[Failure] = []
        self.extracted: set[str] = set()  # canonical URLs written this run

    async def run(self) -> RunSummary:
        started = time.monotonic()
        self.summary.known = frozenset()
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1, thread_name_prefix="extract") as pool:
            stages = self.stages(pool)
            # The model loads (in the thread, or in each worker process) while discovery
            # talks to the sites.
            nlp = asyncio.ensure_future(stages.ready())
            log.debug("loading the spaCy pipeline %s in %d process(es)", self.settings.model,
                      self.settings.workers)
            try:
                async with Fetcher(self.settings, self.state) as fetcher:
                    plan = await self.discover(fetcher) + candidates_of(self.inputs)
                    log.debug("plan: %d URLs to fetch", len(plan))
                    if self.progress:
                        self.progress(len(plan))
                    try:
                        await nlp
                    except PipelineError as exc:
                        raise UsageError(str(exc)) from None
                    queue: asyncio.Queue[Job | None] = asyncio.Queue(
                        maxsize=2 * self.settings.batch_size)
                    try:
                        async with asyncio.TaskGroup() as group:
                            consumer = group.create_task(self.consume(queue, pool, stages))
                            await fetcher.map(plan, lambda c: c.url,
                                              lambda c: self.fetch_one(fetcher, queue, c))
                            await queue.put(None)
                            await consumer
                    except* RunError as group:
                        raise group.exceptions[0] from None  # one line, not a group
            finally:
                await asyncio.gather(nlp, return_exceptions=True)
                await loop.run_in_executor(None, stages.close)
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def stages(self, thread: ThreadPoolExecutor) -> Stages:
        """Where pages are cleaned and extracted: the run's thread (--workers 1) or a pool
        of processes. The pool is made before the fetcher starts its threads, and its
        processes come from a fork server, never forked from this threaded process."""
        small = not self.profiles and len(self.inputs) < PER_WORKER * self.settings.workers
        if self.settings.workers == 1 or small:
            return InProcess(self.settings.model, thread, self.work, self.settings)
        return ChunkPool(self.settings.model, self.settings.workers, self.work,
                         self.settings, dead_outcome)

    async def discover(self, fetcher: Fetcher) -> list[Candidate]:
        """Every profile's candidates, filtered by --since and ordered newest first."""
        if not self.profiles:
            return []
        found = Discovery()
        await asyncio.gather(*(
            Discoverer(p, fetcher, self.state, found, self.since, self.settings.max_pages,
                       self.report or teller(log)).run() for p in self.profiles))
        # Discovery failures are in the state already; they only need their rows.
        self.summary.failures.extend(found.failures)
        self.discovery_failures = found.failures
        candidates = list(found.candidates.values())
        self.summary.discovered = len(candidates)
        fresh = [c for c in candidates if not c.older_than(self.since)]
        self.summary.old = len(candidates) - len(fresh)
        fresh.sort(key=lambda c: (c.published.timestamp() if c.published else 0, c.key),
                   reverse=True)
        # Failed for good in an earlier run (404, PDF, robots.txt): not asked again, and
        # not counted against --max-articles.
        gone = {c.key for c in fresh if (k := self.state.get(c.key)) and k.state == "gone"}
        self.summary.skipped += len(gone)
        fresh = [c for c in fresh if c.key not in gone]
        # The frontier is state: every candidate is remembered before any is fetched, so
        # what this run leaves (a cap, a kill) is drained by the next one, first.
        self.state.seen_many([(c.key, c.url, "article",
                               c.published.isoformat() if c.published else "",
                               c.modified.isoformat() if c.modified else "")
                              for c in fresh])
        # An article extracted before is asked again only when the revisit policy says so.
        policy, now = revisit_policy(self.settings), datetime.now(UTC)
        due = [c for c in fresh if policy.due(self.state.history(c.key), now)]
        self.summary.left_alone = len(fresh) - len(due)
        fresh = due
        resumed = self.unfinished(found)
        self.summary.resumed = len(resumed)
        plan = resumed + fresh
        if self.max_articles is not None:
            self.summary.capped = max(0, len(plan) - self.max_articles)
            plan = plan[:self.max_articles]
        return plan

    def unfinished(self, found: Discovery) -> list[Candidate]:
        """Articles earlier runs discovered and did not extract (cut by --max-articles, or
        by a kill, or failed in a way worth another try) that this run's discovery did not
        find again: newest first, for the sites this run crawls."""
        out = []
        for key, url, published in self.state.unfinished():
            profile = next((p for p in self.profiles if p.owns(url)), None)
            if key in found.candidates or profile is None:
                continue
            when = datetime.fromisoformat(published) if published else None
            candidate = Candidate(key, url, profile, when, "state" if when else "")
            if not candidate.older_than(self.since):
                out.append(candidate)
        return out

    async def fetch_one(self, fetcher: Fetcher, queue: asyncio.Queue[Job | None],
                        candidate: Candidate) -> None:
        """Fetch one article (conditionally when it was extracted before)."""
        known = self.state.get(candidate.key)
        if known is not None and known.state == "gone" and not candidate.input:
            self.summary.skipped += 1
            return self.tick()
        if known is not None and known.state == "done" and self.state.rebuilt(candidate.key):
            # Its rows are in the tables (the state was rebuilt from them): not fetched
            # again just because the state was lost.
            self.summary.not_modified += 1
            return self.tick()
        headers = known.conditional_headers() if known and known.state == "done" else None
        if headers is not None:
            self.summary.revisited += 1
        # A discovered URL is followed only inside its site's domains; a given one anywhere.
        allowed = None if candidate.input else candidate.profile.owns
        try:
            page = await fetcher.get(candidate.url, headers, allowed=allowed)
            if page.status != 304:
                check_html(page.content, page.header("content-type") or "", page.url)
        except InputError as exc:
            self.fail(candidate, exc)
            return self.tick()
        except Exception as exc:  # noqa: BLE001  (the per-input guard: recorded, run goes on)
            self.fail(candidate, unexpected(exc, "fetch"))
            return self.tick()
        self.tick()
        unchanged = page.status == 304 or (
            known is not None and known.state == "done"
            and known.content_hash == content_hash(page.content))
        if unchanged:
            self.summary.not_modified += 1
            if page.status == 304:
                self.state.not_modified(candidate.key)
            else:  # the server ignored our validators; keep its new ones
                self.state.answered(candidate.key, candidate.url, "article", page.status,
                                    header_map(page), page.content)
            return None
        self.summary.fetched += 1
        await queue.put(Job(candidate, page))
        return None

    def tick(self) -> None:
        if self.progress:
            self.progress(-1)

    def tell(self, level: int, text: str) -> None:
        """One line of the run: to the caller's `report` (prefixed as on stderr) when it
        gave one, else to the log."""
        if self.report is None:
            log.log(level, "%s", text)
        else:
            self.report(prefixed(level, text))

    def fail(self, candidate: Candidate, exc: InputError) -> None:
        if isinstance(exc, RobotsDisallowed):
            # Obeyed, not failed: counted, and remembered so later runs do not ask again.
            self.summary.disallowed += 1
            self.state.failed(candidate.key, candidate.url, "article", None, exc.code, True)
            log.debug("%s: disallowed by robots.txt, not fetched", redact(candidate.url))
            return
        target = candidate.input or candidate.url
        self.tell(logging.ERROR, f"{redact(target)}: {exc.message}")
        failure = failure_of(exc, target, target)
        self.summary.failures.append(failure)
        self.pending.append(Pending(failure, candidate, getattr(exc, "status", None),
                                    exc.final))

    async def consume(self, queue: asyncio.Queue[Job | None], pool: ThreadPoolExecutor,
                      stages: Stages) -> None:
        """Collect fetched pages into chunks and write each chunk through the tables: when
        it is full, when its first page has waited FLUSH_SECONDS, and at the end. A chunk
        goes to the workers as soon as it is closed, while the one before is written."""
        loop = asyncio.get_running_loop()
        chunk: list[Job] = []
        deadline = 0.0
        working: asyncio.Future[list[Outcome]] | None = None  # the chunk being extracted
        writing: asyncio.Future[None] | None = None  # the chunk before, being written
        try:
            while True:
                timeout = max(0.0, deadline - loop.time()) if chunk else None
                try:
                    job, timed_out = await asyncio.wait_for(queue.get(), timeout), False
                except TimeoutError:
                    job, timed_out = None, True
                if job is not None:
                    if not chunk:
                        deadline = loop.time() + FLUSH_SECONDS
                    chunk.append(job)
                finished = job is None and not timed_out
                if finished or timed_out or len(chunk) >= self.settings.batch_size:
                    working = stages.start([task_of(job) for job in chunk])
                    if writing is not None:
                        await writing  # the tables take the chunks in input order
                    writing = asyncio.ensure_future(self.flush(chunk, working, pool))
                    chunk = []
                if finished:
                    assert writing is not None
                    await writing
                    return
        finally:
            for future in (working, writing):
                if future is not None and not future.done():
                    future.cancel()

    async def flush(self, chunk: list[Job], working: asyncio.Future[list[Outcome]],
                    pool: ThreadPoolExecutor) -> None:
        """Write one chunk once it is cleaned and extracted, then mark its URLs in the
        state."""
        loop = asyncio.get_running_loop()
        pending, self.pending = self.pending, []
        failures = [*self.discovery_failures, *(p.failure for p in pending)]
        self.discovery_failures = []
        started = time.monotonic()
        outcomes = await working
        cleaning = time.monotonic() - started
        keep: list[tuple[Article, Facts | ItemError]] = []
        done: list[tuple[Job, str]] = []  # (job, canonical URL of its rows, if any)
        for job, outcome in zip(chunk, outcomes, strict=True):
            result = outcome.article
            if isinstance(result, Recorded):
                target = job.candidate.input or job.candidate.url
                self.tell(logging.ERROR, f"{redact(target)}: {result.message}")
                failures.append(failure_of(result, target, job.page.url))
                self.summary.failures.append(failures[-1])
                done.append((job, ""))
            elif self.is_duplicate(job, result):
                done.append((job, result.url))
            elif self.too_old(result):
                self.summary.old += 1
                done.append((job, ""))
            else:
                assert outcome.facts is not None, "an article has its facts or its error"
                keep.append((result, outcome.facts))
                done.append((job, result.url))
        results, failed, irrelevant, known = await loop.run_in_executor(
            pool, export_chunk, self.store, keep, failures, self.settings)
        self.summary.irrelevant += len(irrelevant)
        self.summary.known = (self.summary.known or frozenset()) | known
        for article, facts in irrelevant:
            self.tell(logging.INFO, f"{article.title or article.url}: irrelevant (relevance "
                      f"{facts.relevance or 0:.2f} < {self.settings.min_relevance:g}), "
                      "not written")
        log.debug("chunk of %d pages: cleaned and extracted %.2fs later, %d articles "
                  "written in %.2fs", len(chunk), cleaning, len(keep),
                  time.monotonic() - started - cleaning)
        for fail in failed:
            self.tell(logging.ERROR, f"{fail.input}: {fail.message}")
        self.summary.failures.extend(failed)
        # The rows are written: only now may the state call these URLs done.
        self.state.done_many([(job.candidate.key, job.candidate.url, job.page.status,
                               header_map(job.page), job.page.content, canonical)
                              for job, canonical in done])
        for p in pending:
            self.state.failed(p.candidate.key, p.candidate.url, "article", p.status,
                              p.failure.error, p.final)
        self.summary.results.extend(results)
        for article, facts in results:
            self.tell(logging.INFO, f"{article.title or article.url}: {len(facts.companies)} "
                      f"companies, {len(facts.deals)} deals, {len(facts.capacities)} capacities")

    def too_old(self, article: Article) -> bool:
        """Published before --since by the page's own date (discovery had none)."""
        if self.since is None or not article.published:
            return False
        return datetime.fromisoformat(article.published) < self.since

    def is_duplicate(self, job: Job, article: Article) -> bool:
        """The same story under another URL, written already (dedup by canonical URL)."""
        if article.url in self.extracted or self.state.canonical_done(article.url,
                                                                      job.candidate.key):
            return True
        self.extracted.add(article.url)
        return False


def task_of(job: Job) -> Task:
    """The job as its worker needs it; from here on the URLs are what the tables show:
    without user names or passwords."""
    page = Page(input=redact(job.candidate.input or job.candidate.url),
                url=redact(job.page.url), status=job.page.status,
                headers=job.page.headers, content=job.page.content,
                fetched_at=job.page.fetched_at, redirects=job.page.redirects)
    profile = job.candidate.profile
    return Task(page, None if profile is GENERIC else profile.clean)


def clean_task(task: Task, settings: Settings) -> Article | ItemError:
    """Clean one page with its site's options, or for a page without a profile (a local
    file, an unknown site) those of the site its canonical URL belongs to; the budget for
    hostile pages is the settings'."""
    def budget(options: CleanOptions) -> CleanOptions:
        return dataclasses.replace(options, max_elements=settings.max_elements,
                                   max_paragraph_texts=settings.max_paragraph_texts)

    try:
        if task.options is None:
            return clean(task.page, resolve=lambda url: budget(profile_for(url).clean))
        return clean(task.page, budget(task.options))
    except PageError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001  (the per-input guard: recorded, run goes on)
        return unexpected(exc, "clean")


def clean_all(chunk: list[Job], settings: Settings) -> list[Article | ItemError]:
    """Clean each page of a chunk (`clean_task`)."""
    return [clean_task(task_of(job), settings) for job in chunk]


def process_tasks(nlp: Language, tasks: list[Task], settings: Settings) -> list[Outcome]:
    """Clean and extract a chunk's tasks, in this process (a worker, or the run's thread):
    one outcome per task, in order. An article extraction fails on (or refuses as
    too_complex) has that error for its facts, the others their facts."""
    cleaned = [clean_task(task, settings) for task in tasks]
    articles = [a for a in cleaned if isinstance(a, Article)]
    results, failed = extract_all(nlp, articles, settings.batch_size,
                                  settings.max_text_chars)
    facts: dict[int, Facts | ItemError] = {id(a): f for a, f in results}
    facts.update((id(a), e) for a, e in failed)
    return [Outcome(c, facts[id(c)] if isinstance(c, Article) else None) for c in cleaned]


def dead_outcome(task: Task, exc: Exception) -> Outcome:
    """The outcome of a page a worker process died on twice (`ChunkPool`), or whose piece
    of work raised outside the per-page guards."""
    if not isinstance(exc, BrokenProcessPool):
        return Outcome(unexpected(exc, "extract"))
    error = InputError("the worker process cleaning and extracting this page died (a crash "
                       "in a library, or out of memory); not retried", code="worker_died")
    error.stage = "extract"
    return Outcome(error)


def export_chunk(store: Store, kept: list[tuple[Article, Facts | ItemError]],
                 failures: list[Failure], settings: Settings
                 ) -> tuple[list[tuple[Article, Facts]], list[Failure],
                            list[tuple[Article, Facts]], frozenset[str]]:
    """Put one chunk's extracted articles into the store (one transaction); returns its
    results, the articles extraction failed on (stored with the chunk's other failures),
    those below --min-relevance (not stored; rows an earlier run stored for them go) and
    which of the results the store held before."""
    results = [(a, f) for a, f in kept if isinstance(f, Facts)]
    extra = [failure_of(f, a.input, a.url) for a, f in kept if not isinstance(f, Facts)]
    floor = settings.min_relevance
    skipped = [(a, f) for a, f in results if (f.relevance or 0.0) < floor]
    results = [(a, f) for a, f in results if (f.relevance or 0.0) >= floor]
    known: frozenset[str] = frozenset()
    if results or failures or extra or skipped:
        try:
            known = store.known(a.article_id for a, _ in results)
            store.put(results, failures + extra, [a.article_id for a, _ in skipped])
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"cannot write the store in {settings.out_dir}: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
    return results, extra, skipped, known


def execute(settings: Settings, report: Report | None, state_path: Path | None, *,
            profiles: Sequence[SiteProfile] = (), inputs: Sequence[str] = (),
            since: datetime | None = None, max_articles: int | None = None,
            progress: Callable[[int | None], object] | None = None) -> RunSummary:
    """Run one plan with its state (a file for the crawl; None: in memory, for a one-off
    run, which always fetches afresh), then the end-of-run hook every run shares.

    The run's lines ("error: ...", one per article, "warning: ..." for a repaired table)
    go to `report` when given (a caller collecting them), else to the `logging` loggers of
    the modules that say them (the command line shows those on stderr)."""
    refuse_bad_model(settings)

    notice = None if report is None else warnings_to(report)  # None: `say` logs repairs

    with open_store(settings, notice) as store:
        path = state_path if state_path is not None else Path(":memory:")
        with State(path, tables=settings.out_dir, notice=notice) as state:
            if store.rebuilt and path == store.path:
                state.rebuild(settings.out_dir / "articles.csv")
            run = Run(settings, state, report, notice, store, profiles=profiles,
                      inputs=inputs, since=since, max_articles=max_articles,
                      progress=progress)
            try:
                summary = asyncio.run(run.run())
            finally:
                if progress:
                    progress(None)
        finish(settings, summary, store)
    return summary


def open_store(settings: Settings, notice: Report | None) -> Store:
    """The output folder's store, with what a person did to its CSVs taken in."""
    try:
        store = Store(settings.out_dir, notice, settings.window)
        store.sync()
    except (OSError, sqlite3.Error) as exc:
        raise OutputError(f"cannot write the tables in {settings.out_dir}: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None
    return store


def warnings_to(report: Report) -> Report:
    """A notice that says each repair of a damaged table to `report` as a warning."""
    return lambda line: report(prefixed(logging.WARNING, line))


def refuse_bad_model(settings: Settings) -> None:
    """A model that is neither an installed package nor a path is bad usage, found before
    any work (loading it takes seconds and happens while the first pages are fetched)."""
    try:
        check_model(settings.model)
    except PipelineError as exc:
        raise UsageError(str(exc)) from None


def finish(settings: Settings, summary: RunSummary, store: Store) -> None:
    """What follows every run once its rows are in the store: the CSVs are exported
    (--excel settles their byte-order mark), the asked format is rendered from them,
    report.html shows the run, and the run goes into the store's history."""
    try:
        store.publish(settings.excel)
        publish(settings.out_dir, settings.format, settings.excel)
        counts = RunCounts(**{f.name: getattr(summary, f.name)
                              for f in dataclasses.fields(RunCounts)})
        write_report(settings.out_dir, summary.results, summary.failures, summary.seconds,
                     counts=counts, stored=store.count("articles"))
        store.record_run(summary.started, now_utc(), {
            **{f.name: getattr(summary, f.name) for f in dataclasses.fields(RunCounts)
               if isinstance(getattr(summary, f.name), int)},
            "written": len(summary.results), "failed": len(summary.failures)})
    except (OSError, sqlite3.Error) as exc:
        raise OutputError(f"cannot write the output files in {settings.out_dir}: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None

"""The scheduled crawl's pipeline: discover -> plan -> fetch (async) -> clean + extract +
export (in a worker thread, chunk by chunk) -> mark done in the state.

Fetching runs in the asyncio loop; the CPU-bound stages run in one worker thread, so the
loop keeps the hosts busy while spaCy works. A chunk's URLs are marked done in the state
only after its rows are in the tables: a run killed at any point refetches what it had
not written, and the next run ends with the same tables as an uninterrupted one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from spacy.language import Language

from extract.clean import clean
from extract.export import Failure, export
from extract.facts import extract_all
from extract.nlp import load_pipeline
from extract.records import Article, Facts
from scraper.afetch import Fetcher, OffsiteRedirect
from scraper.discover import Candidate, Discoverer, Discovery
from scraper.errors import FetchError, HTTPStatusError, NotHTMLError, ScraperError, TooLargeError
from scraper.fetch import check_html, now_utc
from scraper.politeness import RobotsDisallowed
from scraper.records import FetchedPage
from scraper.settings import Settings
from scraper.sites import SiteProfile
from scraper.state import State, content_hash, header_map

Report = Callable[[str], None]
# A chunk is written when it is full or when its first page has waited this long.
FLUSH_SECONDS = 5.0


@dataclass
class CrawlSummary:
    """What one crawl did; the one-line summary and the end-of-run hook read it."""

    discovered: int = 0
    old: int = 0
    fetched: int = 0
    not_modified: int = 0
    skipped: int = 0  # robots.txt, already given up (404, PDF) in an earlier run
    seconds: float = 0.0
    results: list[tuple[Article, Facts]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def new_facts(self) -> int:
        return sum(len(f.companies) + len(f.deals) + len(f.capacities)
                   for _, f in self.results)

    def line(self) -> str:
        return (f"crawl: {self.discovered} discovered ({self.old} too old), "
                f"{self.fetched} fetched, {self.not_modified} not modified, "
                f"{len(self.failures)} failed, {self.new_facts} new facts, "
                f"{self.seconds:.1f}s")


@dataclass(frozen=True)
class Job:
    """A fetched article page waiting for the CPU-bound stages."""

    candidate: Candidate
    page: FetchedPage


@dataclass(frozen=True)
class Pending:
    """A failed URL, written to failures.csv with the next chunk, then to the state."""

    failure: Failure
    candidate: Candidate
    status: int | None
    final: bool


def is_final(exc: FetchError) -> bool:
    """Answers that will not change by asking again: 4xx (not 408/429), a PDF, too big,
    an off-site redirect. They are recorded once and not asked again."""
    if isinstance(exc, HTTPStatusError):
        return 400 <= exc.status < 500 and exc.status not in (408, 429)
    return exc.code in ("bad_url", "bad_encoding") or isinstance(
        exc, NotHTMLError | TooLargeError | RobotsDisallowed | OffsiteRedirect)


class Crawl:
    """One crawl over some profiles. `await Crawl(...).run()` returns its summary."""

    def __init__(self, profiles: Sequence[SiteProfile], settings: Settings, state: State,
                 since: datetime | None, max_articles: int | None, report: Report,
                 progress: Callable[[int], object] | None = None) -> None:
        self.profiles, self.settings, self.state = profiles, settings, state
        self.since, self.max_articles, self.report = since, max_articles, report
        self.progress = progress
        self.summary = CrawlSummary()
        self.pending: list[Pending] = []
        self.discovery_failures: list[Failure] = []
        self.extracted: set[str] = set()  # canonical URLs written this run

    async def run(self) -> CrawlSummary:
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1, thread_name_prefix="extract") as pool:
            # The model loads in the worker while discovery talks to the sites.
            nlp = loop.run_in_executor(pool, load_pipeline, self.settings.model)
            try:
                async with Fetcher(self.settings, self.state) as fetcher:
                    plan = await self.discover(fetcher)
                    if self.progress:
                        self.progress(len(plan))
                    model = await nlp  # a model that cannot load is a usage error
                    queue: asyncio.Queue[Job | None] = asyncio.Queue(
                        maxsize=2 * self.settings.batch_size)
                    async with asyncio.TaskGroup() as group:
                        consumer = group.create_task(self.consume(queue, pool, model))
                        await fetcher.map(plan, lambda c: c.url,
                                          lambda c: self.fetch_one(fetcher, queue, c))
                        await queue.put(None)
                        await consumer
            finally:
                await asyncio.gather(nlp, return_exceptions=True)
        self.summary.seconds = time.monotonic() - started
        return self.summary

    async def discover(self, fetcher: Fetcher) -> list[Candidate]:
        """Every profile's candidates, filtered by --since and ordered newest first."""
        found = Discovery()
        await asyncio.gather(*(
            Discoverer(p, fetcher, self.state, found, self.since, self.settings.max_pages,
                       self.report).run() for p in self.profiles))
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
        if self.max_articles is not None:
            fresh = fresh[:self.max_articles]
        self.state.seen_many([(c.key, c.url, "article",
                               c.published.isoformat() if c.published else "")
                              for c in fresh])
        return fresh

    async def fetch_one(self, fetcher: Fetcher, queue: asyncio.Queue[Job | None],
                        candidate: Candidate) -> None:
        """Fetch one article (conditionally when it was extracted before)."""
        known = self.state.get(candidate.key)
        if known is not None and known.state == "gone":
            self.summary.skipped += 1
            return self.tick()
        headers = known.conditional_headers() if known and known.state == "done" else None
        try:
            page = await fetcher.get(candidate.url, headers, allowed=candidate.profile.owns)
            if page.status != 304:
                check_html(page.content, page.header("content-type") or "", page.url)
        except FetchError as exc:
            self.fail(candidate, exc)
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

    def fail(self, candidate: Candidate, exc: FetchError) -> None:
        if isinstance(exc, RobotsDisallowed):
            # Obeyed, not failed: remembered so that later runs do not ask again.
            self.summary.skipped += 1
            self.state.failed(candidate.key, candidate.url, "article", None, exc.code, True)
            return
        self.report(f"error: {candidate.url}: {exc.message}")
        failure = Failure(input=candidate.url, url=candidate.url, stage=exc.stage,
                          error=exc.code, message=exc.message, at=now_utc())
        self.summary.failures.append(failure)
        self.pending.append(Pending(failure, candidate, getattr(exc, "status", None),
                                    is_final(exc)))

    async def consume(self, queue: asyncio.Queue[Job | None], pool: ThreadPoolExecutor,
                      nlp: Language) -> None:
        """Collect fetched pages into chunks and write each chunk through the tables: when
        it is full, when its first page has waited FLUSH_SECONDS, and at the end."""
        loop = asyncio.get_running_loop()
        chunk: list[Job] = []
        deadline = 0.0
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
                await self.flush(chunk, pool, nlp)
                chunk = []
            if finished:
                return

    async def flush(self, chunk: list[Job], pool: ThreadPoolExecutor, nlp: Language) -> None:
        """Clean, extract and export one chunk, then mark its URLs in the state."""
        loop = asyncio.get_running_loop()
        pending, self.pending = self.pending, []
        failures = [*self.discovery_failures, *(p.failure for p in pending)]
        self.discovery_failures = []
        cleaned = await loop.run_in_executor(pool, clean_all, chunk)
        keep: list[Article] = []
        done: list[tuple[Job, str]] = []  # (job, canonical URL of its rows, if any)
        for job, result in zip(chunk, cleaned, strict=True):
            if isinstance(result, ScraperError):
                self.report(f"error: {job.candidate.url}: {result.message}")
                failures.append(Failure(input=job.candidate.url, url=job.page.url,
                                        stage=result.stage, error=result.code,
                                        message=result.message, at=now_utc()))
                self.summary.failures.append(failures[-1])
                done.append((job, ""))
            elif self.is_duplicate(job, result):
                done.append((job, result.url))
            elif self.too_old(result):
                self.summary.old += 1
                done.append((job, ""))
            else:
                keep.append(result)
                done.append((job, result.url))
        results, failed = await loop.run_in_executor(
            pool, extract_and_export, nlp, keep, failures, self.settings)
        for fail in failed:
            self.report(f"error: {fail.input}: {fail.message}")
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
            self.report(f"{article.title or article.url}: {len(facts.companies)} companies, "
                        f"{len(facts.deals)} deals, {len(facts.capacities)} capacities")

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


def clean_all(chunk: list[Job]) -> list[Article | ScraperError]:
    """Clean each page with its profile's options; a page without a story is an error."""
    out: list[Article | ScraperError] = []
    for job in chunk:
        page = FetchedPage(input=job.candidate.url, url=job.page.url, status=job.page.status,
                           headers=job.page.headers, content=job.page.content,
                           fetched_at=job.page.fetched_at, redirects=job.page.redirects)
        try:
            out.append(clean(page, job.candidate.profile.clean))
        except ScraperError as exc:
            out.append(exc)
    return out


def extract_and_export(nlp: Language, articles: list[Article], failures: list[Failure],
                       settings: Settings) -> tuple[list[tuple[Article, Facts]], list[Failure]]:
    """Extract and merge one chunk; returns its results and the articles extraction failed
    on (written to failures.csv with the chunk's other failures)."""
    results, failed = extract_all(nlp, articles, settings.batch_size)
    extra = [Failure(input=a.input, url=a.url, stage=e.stage, error=e.code,
                     message=e.message, at=now_utc()) for a, e in failed]
    if results or failures or extra:
        export(settings.out_dir, results, failures + extra, excel=settings.excel)
    return results, extra

"""The one-off run: inputs -> fetch -> clean -> extract -> export.

The CLI and cron call the same `run()`. Inputs are taken in chunks: each chunk is fetched
and cleaned, extracted in one batch through the model, and merged into the tables before
the next chunk starts, so a run stopped part-way keeps every row it wrote. A failure of one
input is a `Failure` row and a line on stderr, never the end of the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from extract.clean import CleanOptions, clean
from extract.export import Failure, export, publish
from extract.facts import extract_all
from extract.nlp import load_pipeline
from extract.records import Article, Facts
from extract.report import write_report
from scraper.errors import ExportError, ScraperError
from scraper.fetch import fetch, make_client, now_utc
from scraper.settings import Settings
from scraper.sites import profile_for

Report = Callable[[str], None]


@dataclass
class RunSummary:
    results: list[tuple[Article, Facts]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def totals(self) -> tuple[int, int, int, int]:
        return (len(self.results),
                sum(len(f.companies) for _, f in self.results),
                sum(len(f.deals) for _, f in self.results),
                sum(len(f.capacities) for _, f in self.results))


def failure(target: str, url: str, exc: ScraperError) -> Failure:
    return Failure(input=target, url=url, stage=exc.stage, error=exc.code,
                   message=exc.message, at=now_utc())


def chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def run(inputs: Sequence[str], settings: Settings, report: Report | None = None) -> RunSummary:
    """Fetch, clean, extract and export every input; return what happened."""
    report = report or (lambda line: None)
    summary = RunSummary()
    started = time.monotonic()
    nlp = load_pipeline(settings.model)
    with make_client(settings) as client:
        for chunk in chunks(list(inputs), settings.batch_size):
            articles, failures = [], []
            for target in chunk:
                url = target
                try:
                    page = fetch(target, settings, client)
                    url = page.url
                    articles.append(clean(page, resolve=clean_options))
                except ScraperError as exc:
                    failures.append(failure(target, url, exc))
                    report(f"error: {target}: {exc.message}")
            results, failed = extract_all(nlp, articles, settings.batch_size)
            for article, exc in failed:
                failures.append(failure(article.input, article.url, exc))
                report(f"error: {article.input}: {exc.message}")
            try:
                export(settings.out_dir, results, failures, excel=settings.excel)
            except OSError as exc:
                raise ExportError(f"cannot write the tables in {settings.out_dir}: "
                                  f"{exc.strerror or exc}") from None
            for article, facts in results:
                report(f"{article.title or article.url}: {len(facts.companies)} companies, "
                       f"{len(facts.deals)} deals, {len(facts.capacities)} capacities")
            summary.results.extend(results)
            summary.failures.extend(failures)
    summary.seconds = time.monotonic() - started
    finish(settings, summary)
    return summary


def clean_options(url: str) -> CleanOptions:
    """The cleaning rules of the site that owns `url` (the generic ones for any other)."""
    return profile_for(url).clean


def finish(settings: Settings, summary: RunSummary) -> None:
    """What follows every run, one-off or crawl, once its tables are written.

    The CSVs are the store of record: the byte-order mark is settled (--excel), the asked
    format is rendered from them, and report.html shows the run.
    """
    publish(settings.out_dir, settings.format, settings.excel)
    write_report(settings.out_dir, summary.results, summary.failures, summary.seconds)

"""The Python API: what the command line does, as functions that return records.

    import scraper

    result = scraper.extract_url("https://cnevpost.com/2023/08/09/some-article/")
    result = scraper.extract_html(html, url="https://cnevpost.com/2023/08/09/some-article/")
    summary = scraper.crawl(["cnevpost"], out_dir="output", since="2026-11-01")
    tables = scraper.load_tables("output")

The same stages as `python -m scraper` (fetch, clean, extract, merge) with the same
settings: keyword arguments take the place of flags, with the same precedence (defaults <
scraper.toml < `SCRAPER_<NAME>` < arguments). The spaCy pipeline is loaded once per process
and model. Nothing is printed: the lines a run would print on stderr are log records of
the loggers "scraper" and "extract" (silent unless the program configures logging, as
`logging.basicConfig(level=logging.INFO)` does). Errors are raised: an
`extract.errors.ItemError` when the one page asked for failed (`.stage`, `.code`,
`.message`, as in failures.csv), a `scraper.core.errors.RunError` when nothing can be done
(a bad setting or model, an unwritable folder, another crawl holding the lock).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from spacy.language import Language

from extract.errors import PipelineError
from extract.nlp.facts import extract_all
from extract.nlp.pipeline import load_pipeline
from extract.records import Article, Capacity, CompanyMention, Deal, Facts, Page
from scraper.app.cli import parse_since, profiles_for
from scraper.app.run import Job, RunSummary, candidates_of, clean_all, execute, refuse_bad_model
from scraper.core.errors import UsageError
from scraper.core.records import now_utc
from scraper.core.settings import Settings, load_settings
from scraper.fetch.fetcher import fetch_page
from scraper.fetch.local import check_html
from scraper.fetch.lock import CrawlLock
from scraper.output.tables import COLUMNS, NUMERIC, locked, read_table

__all__ = ["Extraction", "RunSummary", "Tables", "crawl", "extract_html", "extract_url",
           "load_tables"]

log = logging.getLogger(__name__)
# A library says nothing unless its caller configures logging (else Python's last-resort
# handler would print the run's warnings and errors on stderr).
for _name in ("scraper", "extract"):
    logging.getLogger(_name).addHandler(logging.NullHandler())

SETTING_NAMES = frozenset(f.name for f in fields(Settings))
# The tables' typed columns (`load_tables`): these counts are whole numbers, any other of
# the store's number columns is a fraction; every other column is text.
INTEGER_COLUMNS = ("word_count", "mentions", "units_per_year", "year")
TIME_COLUMNS = ("published", "fetched_at", "at")


@dataclass(frozen=True)
class Extraction:
    """One article and the facts read from it: the rows it would add to the tables."""

    article: Article
    facts: Facts

    @property
    def companies(self) -> tuple[CompanyMention, ...]:
        return self.facts.companies

    @property
    def deals(self) -> tuple[Deal, ...]:
        return self.facts.deals

    @property
    def capacities(self) -> tuple[Capacity, ...]:
        return self.facts.capacities


@dataclass(frozen=True, eq=False)
class Tables:
    """The tables of an output folder as pandas DataFrames, columns in the CSV's order."""

    articles: pd.DataFrame
    companies: pd.DataFrame
    deals: pd.DataFrame
    capacities: pd.DataFrame
    failures: pd.DataFrame


def settings_of(caller: str, config: str | Path | None, options: dict[str, Any]) -> Settings:
    """The settings for one call: `options` are Settings names (None: not given), above
    the config file and the environment, as flags are."""
    unknown = sorted(set(options) - SETTING_NAMES)
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
    return load_settings(options, config_path=config)


def pipeline(settings: Settings) -> Language:
    """The settings' spaCy pipeline, loaded on first use and kept (`load_pipeline` caches
    it per model name)."""
    refuse_bad_model(settings)
    try:
        return load_pipeline(settings.model)
    except PipelineError as exc:
        raise UsageError(str(exc)) from None


def extract_page(page: Page, target: str, settings: Settings) -> Extraction:
    """Clean and extract one page as a run does (the site's profile, the budgets)."""
    candidate = candidates_of([target])[0]
    cleaned = clean_all([Job(candidate, page)], settings)[0]
    if not isinstance(cleaned, Article):
        raise cleaned
    results, failed = extract_all(pipeline(settings), [cleaned], settings.batch_size,
                                  settings.max_text_chars)
    if failed:
        raise failed[0][1]
    return Extraction(*results[0])


def extract_html(html: str | bytes, url: str = "", *, model: str | None = None,
                 config: str | Path | None = None, **settings: Any) -> Extraction:
    """The article in `html` and its facts; nothing is fetched or written.

    `url` is where the page came from: it is the article's URL unless the page names a
    canonical one, and it chooses the site's cleaning rules. Text is taken as UTF-8;
    bytes are decoded as a fetched page is (meta charset, else a guess). `settings` are
    further setting names (`max_text_chars`, ...). Raises `ItemError` (code `no_article`,
    `not_html`, `too_complex`, ...) when the page holds no article to read.
    """
    options = settings_of("extract_html", config, {"model": model, **settings})
    # Text is ours to encode; bytes are decoded as a fetched page is.
    ctype = "text/html; charset=utf-8" if isinstance(html, str) else ""
    content = html.encode("utf-8") if isinstance(html, str) else html
    headers = (("content-type", ctype),) if ctype else ()
    check_html(content, ctype, url or "the HTML given")
    page = Page(input=url, url=url, status=200, headers=headers, content=content,
                fetched_at=now_utc())
    return extract_page(page, url, options)


def extract_url(url: str, *, model: str | None = None, config: str | Path | None = None,
                **settings: Any) -> Extraction:
    """Fetch one article (an http(s) URL, a local path or a file:// URL) and read it.

    Fetched as a run fetches: robots.txt obeyed, retries, timeouts and the body cap of the
    settings (`deadline=`, `max_bytes=`, `contact_url=`, ...). Nothing is written. Raises
    `ItemError` for a page that cannot be fetched or holds no article (code `http_404`,
    `connect`, `not_html`, `no_article`, ...), as failures.csv would record it.
    """
    options = settings_of("extract_url", config, {"model": model, **settings})
    refuse_bad_model(options)  # before any request
    page = fetch_page(url, options)
    return extract_page(page, url, options)


def crawl(targets: Sequence[str] = (), *, out_dir: str | Path | None = None,
          since: str | date | None = None, max_articles: int | None = None,
          max_pages: int | None = None, delay: float | None = None,
          concurrency: int | None = None, format: str | None = None,
          excel: bool | None = None, model: str | None = None,
          state_file: str | Path | None = None, base_url: str | None = None,
          config: str | Path | None = None, **settings: Any) -> RunSummary:
    """`python -m scraper crawl TARGETS` as a function: discover, fetch what is new or
    changed, extract, merge into the tables of `out_dir`; returns the run's summary.

    `targets` are registered site names or URLs (a homepage, a listing, a feed, a
    sitemap); none crawls every registered site. The keywords are the command's options
    (`delay` is `--delay`, `since` a date, a datetime or "2026-11-01"); `settings` are
    further setting names (`retries=`, `contact_url=`, ...). The crawl holds the state
    file's lock: a second crawl of the same state raises `LockedError`. The failed URLs
    are in `summary.failures` (and failures.csv); an exception means the run stopped.
    """
    options = settings_of("crawl", config, {
        "out_dir": out_dir, "model": model, "format": format, "excel": excel,
        "crawl_delay": delay, "concurrency": concurrency, "max_pages": max_pages,
        "state_file": state_file, **settings})
    when = since_of(since)
    if max_articles is not None and max_articles < 1:
        raise UsageError(f"max_articles {max_articles}: give a number of 1 or more")
    if isinstance(targets, str):  # one target, not its characters
        targets = [targets]
    profiles = profiles_for(list(targets), base_url)
    refuse_bad_model(options)
    state = options.state_path
    with CrawlLock(state.with_name(state.name + ".lock")):
        summary = execute(options, None, state, profiles=profiles, since=when,
                          max_articles=max_articles)
    log.info("%s -> %s/", summary.crawl_line(), options.out_dir)
    return summary


def since_of(since: str | date | None) -> datetime | None:
    """`since` as an aware UTC datetime: a date is its midnight UTC, a naive datetime is
    taken as UTC, a string is read as `--since` reads it."""
    if since is None or isinstance(since, str):
        return parse_since(since)
    if isinstance(since, datetime):
        return since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
    return datetime(since.year, since.month, since.day, tzinfo=UTC)


def load_tables(out_dir: str | Path = "output") -> Tables:
    """The tables of an output folder as DataFrames with their types: `word_count`,
    `mentions`, `units_per_year` and `year` as nullable integers (Int64, <NA> when
    empty), `published`, `fetched_at` and `at` as UTC datetimes (NaT when empty), every
    other column as text ("" when empty, as in the CSV, formula guards included).

    These are the folder's CSVs: the newest articles of its store (the run's --window);
    `python -m scraper export` writes any other period as tables to load. Read under the
    folder's lock, so the tables are those of one moment between two writes. A missing
    table is empty; a missing folder is FileNotFoundError.
    """
    folder = Path(out_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"no output folder {folder}")
    with locked(folder):
        frames = {table: read_table(folder / f"{table}.csv", table) for table in COLUMNS}
    return Tables(**{table: typed(df) for table, df in frames.items()})


def typed(df: pd.DataFrame) -> pd.DataFrame:
    """A table of strings with its number and time columns converted."""
    out = df.copy()
    for column in df.columns:
        if column in INTEGER_COLUMNS:
            number = pd.to_numeric(df[column], errors="coerce", dtype_backend="numpy_nullable")
            # Not a whole number (a hand-edited "2024.5", "n/a"): <NA>.
            out[column] = number.where(number.round() == number).astype("Int64")
        elif column in NUMERIC:
            out[column] = pd.to_numeric(df[column], errors="coerce").astype("Float64")
        elif column in TIME_COLUMNS:
            out[column] = pd.to_datetime(df[column], utc=True, format="ISO8601",
                                         errors="coerce")
    return out

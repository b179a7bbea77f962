"""Command line: one argument builder for every command, a thin shell over `execute()`.

    python -m scraper URL_OR_PATH ...     one-off: the given inputs, no discovery
    python -m scraper crawl [SITE|URL]    the scheduled crawl: discover, then fetch
    python -m scraper sites               the registered site profiles
    python -m scraper bulk WARC ...       web archives on Dask
    python -m scraper export DEST         any period of the store, as tables

Exit codes: 0 every input succeeded; 1 some failed (see failures.csv) or the output folder
could not be written; 2 bad usage or settings; 3 another crawl holds the lock.

What a run says goes through `logging` (each module's `getLogger(__name__)`); the command
puts one handler on stderr for its duration: errors and warnings always, progress lines
and the summary unless --quiet, each request and retry with --verbose.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from scraper import __version__
from scraper.core.errors import OutputError, RunError, UsageError
from scraper.core.logs import one_line, prefixed
from scraper.core.settings import Settings, load_settings
from scraper.fetch.local import is_url
from scraper.fetch.urls import redact_text
from scraper.sites import GENERIC, REGISTRY, SiteProfile, profile_for

EXIT_OK, EXIT_FAILURES = 0, 1
log = logging.getLogger(__name__)
# Our packages' loggers, shown from the level --quiet/--verbose choose; the libraries'
# (on the root logger) only from warnings, but for httpx's own (and Dask's, in bulk) with -vv.
OURS = ("scraper", "extract")
LIBRARIES = ("httpx", "httpcore", "distributed")

DESCRIPTION = """\
Fetch EV-industry news articles (http(s) URLs, local HTML files, file:// URLs), strip the
page chrome, extract companies, deals and production capacities, and merge them into CSV
tables in the output folder (articles, companies, deals, capacities, failures). The
folder's store (state.sqlite) keeps every article; the tables show the newest --window.
"""
EPILOG = """\
other commands:
  python -m scraper sites   list the registered site profiles
  python -m scraper crawl   the scheduled crawl of news sites (crawl --help)
  python -m scraper bulk    WARC archives (CC-NEWS) on Dask workers (bulk --help)
  python -m scraper export  any period of the store as tables (export --help)

exit codes: 0 every input succeeded; 1 some inputs failed (see failures.csv);
2 bad usage; 3 (crawl) another crawl is running.
"""
CRAWL_DESCRIPTION = ("Discover new and changed articles on news sites, fetch them politely "
                     "and incrementally, and merge their facts into the tables.")
CRAWL_EPILOG = """\
A SITE is a registered profile (python -m scraper sites); a URL (a homepage, a listing,
a feed or a sitemap) crawls that site, with its profile when one is registered, else the
generic one. With no SITE or URL, every registered site is crawled.

exit codes: 0 every URL succeeded; 1 some failed (see failures.csv); 2 bad usage;
3 another crawl is running (it holds the lock beside the state file).
"""
BULK_DESCRIPTION = """\
Read the HTML responses of WARC files (Common Crawl's CC-NEWS, any crawler's archive),
drop the pages that are not about the EV industry at a glance, clean and extract the rest
on Dask workers, and merge their facts into the tables.
"""
BULK_EPILOG = """\
Each WARC file is split into tasks of about --chunk-size MB; a URL is one task, downloaded
by the worker that runs it. Without --scheduler, a LocalCluster of --workers processes
runs on this machine; with it, the cluster's workers (each with this package installed)
read the WARC paths, which must be the same on every worker (or give URLs).

exit codes: 0 every record was read; 1 some failed (see failures.csv); 2 bad usage.
"""
EXPORT_DESCRIPTION = """\
Write the tables of a period from the store of an output folder (DIR/state.sqlite)
into another folder: the CSVs a run writes (with a person's edits), for every
article of the period however many, and the whole ledger. A run's own tables hold
the newest articles only (--window); this gives any other slice.
"""
# Flags that are settings, by their `dest`; None means "not given" (a lower layer wins).
SETTING_FLAGS = ("out_dir", "model", "quiet", "verbose", "format", "excel", "crawl_delay",
                 "concurrency", "max_pages", "state_file", "min_relevance", "workers",
                 "revisit", "window")


def program() -> str:
    """How the user called us, for usage lines: the `evnews` console command, or
    `python -m scraper`."""
    return "evnews" if Path(sys.argv[0]).name.startswith("evnews") else "python -m scraper"


def build_parser(command: str) -> argparse.ArgumentParser:
    """The parser of one command ("oneoff", "crawl", "sites", "bulk" or "export"): its own
    arguments, then the options every run shares."""
    if command == "sites":
        p = argparse.ArgumentParser(
            prog=f"{program()} sites",
            description="List the registered site profiles, one a line, tab-separated: "
                        "name, domains, time zone, feeds, sitemaps, listings.")
        verbosity_options(p, quiet="print the names only",
                          verbose="also print each site's home and listing page pattern")
        return p
    if command == "crawl":
        p = argparse.ArgumentParser(prog=f"{program()} crawl", epilog=CRAWL_EPILOG,
                                    description=CRAWL_DESCRIPTION,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("targets", nargs="*", metavar="SITE|URL",
                       help="a registered site name or a URL (default: every registered "
                            "site)")
        p.add_argument("--since", metavar="DATE",
                       help="skip articles published before DATE (2026-11-01 or ISO 8601)")
        p.add_argument("--max-articles", type=int, metavar="N",
                       help="fetch at most N articles, newest first")
        p.add_argument("--max-pages", type=int, metavar="N",
                       help="listing pages / sitemaps to read per listing (default: 5)")
        p.add_argument("--state", dest="state_file", metavar="FILE",
                       help="crawl state (default: DIR/state.sqlite)")
        p.add_argument("--revisit", choices=("due", "all"),
                       help="articles extracted before: ask again only those due by age "
                            "or a newer sitemap/feed lastmod (default), or all of them")
        p.add_argument("--base-url", metavar="URL",
                       help="crawl a SITE's copy at another origin (a mirror, a test server)")
    elif command == "export":
        p = argparse.ArgumentParser(
            prog=f"{program()} export", description=EXPORT_DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("dest", metavar="DEST",
                       help="folder to write the tables into (made when missing)")
        p.add_argument("--since", metavar="DATE",
                       help="articles published (else fetched) on or after DATE")
        p.add_argument("--until", metavar="DATE", help="... and before DATE")
        p.add_argument("-o", "--out", dest="out_dir", metavar="DIR",
                       help="the output folder whose store is read (default: output/)")
        p.add_argument("--config", metavar="FILE",
                       help="TOML settings file (default: ./scraper.toml if present)")
        verbosity_options(p, quiet="print only errors", verbose="say more on stderr")
        p.add_argument("--format", metavar="{csv,xlsx,jsonl}",
                       help="also write this format (default: csv only)")
        p.add_argument("--excel", action="store_const", const=True, default=None,
                       help="write CSV with a UTF-8 byte-order mark, for Excel")
        return p
    elif command == "bulk":
        p = argparse.ArgumentParser(prog=f"{program()} bulk", epilog=BULK_EPILOG,
                                    description=BULK_DESCRIPTION,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("warcs", nargs="+", metavar="WARC",
                       help="a WARC file (.warc or .warc.gz): a local path, a file:// URL "
                            "or an http(s) URL")
        p.add_argument("--scheduler", metavar="ADDRESS",
                       help="the scheduler of a running Dask cluster (tcp://host:8786); "
                            "'synchronous' runs every task in this process (default: a "
                            "LocalCluster on this machine)")
        p.add_argument("--workers", type=int, metavar="N",
                       help="worker processes of the LocalCluster (default: the number of "
                            "cores, or the setting workers)")
        p.add_argument("--chunk-size", type=float, metavar="MB",
                       help="split each local WARC file into tasks of about MB megabytes "
                            "(default: 64; 0: one task per file)")
    else:
        p = argparse.ArgumentParser(prog=program(), description=DESCRIPTION,
                                    epilog=EPILOG,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("inputs", nargs="*", metavar="URL_OR_PATH",
                       help="article URL, local HTML file or file:// URL")
        p.add_argument("-i", "--input-file", metavar="FILE",
                       help="read more inputs from FILE, one per line ('-': standard "
                            "input; blank lines and # comments are skipped)")
    run_options(p, politeness=command != "bulk")
    if command == "oneoff":
        p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def run_options(p: argparse.ArgumentParser, politeness: bool = True) -> None:
    """The options of every run: output, model, settings, what is said, politeness (not
    for bulk, which reads archives)."""
    p.add_argument("-o", "--out", dest="out_dir", metavar="DIR",
                   help="output folder for the tables (default: output/)")
    p.add_argument("--model", metavar="NAME",
                   help="spaCy pipeline to use (default: en_core_web_sm; env SCRAPER_MODEL)")
    p.add_argument("--config", metavar="FILE",
                   help="TOML settings file (default: ./scraper.toml if present)")
    verbosity_options(p, quiet="print only errors and warnings, no progress bar (for cron)",
                      verbose="say more on stderr: -v each request with its status and "
                              "time, retries, robots.txt; -vv also httpx's own log")
    p.add_argument("--format", metavar="{csv,xlsx,jsonl}",
                   help="table format (default: csv)")
    p.add_argument("--excel", action="store_const", const=True, default=None,
                   help="write CSV with a UTF-8 byte-order mark, for Excel")
    if politeness:
        p.add_argument("--delay", dest="crawl_delay", metavar="SECONDS",
                       help="per-host delay between requests (default: 1; robots.txt may "
                            "raise it)")
        p.add_argument("--concurrency", metavar="N",
                       help="requests in flight across all hosts (default: 16)")
        # bulk has its own --workers (the Dask cluster's size), not this setting.
        p.add_argument("--workers", metavar="N",
                       help="processes that clean and extract, each loading the model "
                            "once (default: the number of cores; 1: no pool)")
    p.add_argument("--min-relevance", metavar="X",
                   help="skip articles whose EV-relevance score (0-1) is below X: "
                        "counted, not written (default: 0, keep all; 0.5 is the "
                        "measured cut)")
    p.add_argument("--window", metavar="N",
                   help="the tables hold the newest N articles of the store (default: "
                        "10000; 0: all); `export` writes any period")


def verbosity_options(p: argparse.ArgumentParser, quiet: str, verbose: str) -> None:
    """-q and -v: one dial, so they exclude each other on the command line."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_const", const=True, default=None,
                       help=quiet)
    group.add_argument("-v", "--verbose", action="count", default=None, help=verbose)


def parse_command(argv: Sequence[str]) -> tuple[str, argparse.ArgumentParser,
                                                 argparse.Namespace]:
    """The command `argv` names ("oneoff", "crawl" or "sites"), its parser and its parsed
    arguments; bad usage exits 2 with the usage line, as argparse does."""
    args = list(argv)
    command = (args[0] if args[:1] in (["crawl"], ["sites"], ["bulk"], ["export"])
               else "oneoff")
    if command != "oneoff":
        args = args[1:]
    parser = build_parser(command)
    return command, parser, parser.parse_args(args)


def main(argv: Sequence[str] | None = None) -> int:
    command, parser, ns = parse_command(sys.argv[1:] if argv is None else argv)
    if command == "sites":
        return list_sites(-1 if ns.quiet else ns.verbose or 0)
    with logging_to_stderr() as lines:
        try:
            settings = load_settings(flags_of(ns), config_path=ns.config)
            lines.show(settings.verbosity)
            log.debug("settings: %s", settings)
            if command == "crawl":
                return crawl(ns, settings, lines)
            if command == "bulk":
                return bulk(ns, settings, lines)
            if command == "export":
                return export_period(ns, settings)
            inputs = [*ns.inputs, *read_inputs(ns.input_file)]
            if not inputs:
                parser.error("give at least one URL_OR_PATH, or --input-file")
            return oneoff(inputs, settings)
        except RunError as exc:
            log.error("%s", exc.message)
            return exc.exit_code


def flags_of(ns: argparse.Namespace) -> dict[str, object]:
    """The settings given on the command line (None where a flag was not given). -q and
    -v are one dial: the one given sets both settings, over a config file's."""
    flags = {name: getattr(ns, name, None) for name in SETTING_FLAGS}
    if hasattr(ns, "warcs"):  # bulk's --workers sizes its Dask cluster (BulkOptions)
        flags["workers"] = None
    if flags["verbose"] is not None:
        flags["quiet"] = False
    elif flags["quiet"]:
        flags["verbose"] = 0
    return flags


def list_sites(verbosity: int) -> int:
    """The registered profiles on stdout, one a line, tab-separated: the name (-q), its
    domains, time zone, feeds, sitemaps and listings, and with -v its home and page
    pattern ("-" for none; see `SiteProfile.describe`)."""
    for profile in REGISTRY.values():
        print("\t".join(profile.describe(verbosity)))
    return EXIT_OK


def read_inputs(path: str | None) -> list[str]:
    """The inputs listed in a file (or on standard input for "-"); a byte-order mark left
    by an editor is not part of the first input."""
    if path is None:
        return []
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--input-file {path}: {exc}") from None
    lines = (line.strip().lstrip("\ufeff") for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


class StderrLines(logging.Handler):
    """Log records as the lines the README shows on stderr: "error: ...", "warning: ...",
    progress lines bare, "debug: ..." (a library's record names its logger). Each is one
    line, whatever it quotes (a newline in a file name cannot forge another), and names no
    password of a URL. stderr is looked up at each line, so a test's capture sees it.

    While a progress bar shows, lines are written above it, and the per-article lines are
    left to the bar unless --verbose asks for them."""

    def __init__(self) -> None:
        super().__init__()
        self.verbosity = 0  # -1 quiet, 0 default, 1 -v, 2 -vv
        self.above_bar: Callable[[str], None] | None = None

    def show(self, verbosity: int) -> None:
        """Let through what `verbosity` asks for: our loggers from warnings (-q), from
        progress lines (default) or from debug detail (-v); httpx's debug too with -vv."""
        self.verbosity = verbosity
        level = (logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0
                 else logging.DEBUG)
        for name in OURS:
            logging.getLogger(name).setLevel(level)
        for name in LIBRARIES:
            logging.getLogger(name).setLevel(logging.DEBUG if verbosity >= 2
                                             else logging.NOTSET)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if (self.above_bar is not None and record.levelno == logging.INFO
                    and self.verbosity < 1):
                return  # the bar shows the progress these lines would
            text = record.getMessage()
            if record.name.split(".")[0] not in OURS:
                text = f"{record.name}: {text}"
            line = one_line(redact_text(prefixed(record.levelno, text)))
            if self.above_bar is not None:
                self.above_bar(line)
            else:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
        except Exception:  # noqa: BLE001  (logging's own contract: a handler never raises)
            self.handleError(record)


@contextmanager
def logging_to_stderr() -> Iterator[StderrLines]:
    """One command's handler on the root logger; the loggers it touched are left as they
    were found (a program or a test may run several commands in one process)."""
    lines = StderrLines()
    root = logging.getLogger()
    touched = [root, *(logging.getLogger(name) for name in (*OURS, *LIBRARIES))]
    levels = [logger.level for logger in touched]
    root.addHandler(lines)
    lines.show(0)
    try:
        yield lines
    finally:
        root.removeHandler(lines)
        for logger, level in zip(touched, levels, strict=True):
            logger.setLevel(level)


def oneoff(inputs: Sequence[str], settings: Settings) -> int:
    from scraper.app.run import execute  # loads spaCy: --help and sites need not

    summary = execute(settings, None, None, inputs=inputs)
    log.info("%s -> %s/", summary.oneoff_line(), settings.out_dir)
    return EXIT_OK if summary.ok else EXIT_FAILURES


def crawl(ns: argparse.Namespace, settings: Settings, lines: StderrLines) -> int:
    """Run one crawl under the state file's lock; the exit code says how it went."""
    from scraper.fetch.lock import CrawlLock

    since = parse_since(ns.since)
    if ns.max_articles is not None and ns.max_articles < 1:
        raise UsageError(f"--max-articles {ns.max_articles}: give a number of 1 or more")
    profiles = profiles_for(ns.targets, ns.base_url)
    from scraper.app.run import execute, refuse_bad_model

    refuse_bad_model(settings)
    with CrawlLock(settings.state_path.with_name(settings.state_path.name + ".lock")):
        bar = progress_bar(settings, lines)
        summary = execute(settings, None, settings.state_path, profiles=profiles,
                          since=since, max_articles=ns.max_articles, progress=bar)
    log.info("%s -> %s/", summary.crawl_line(), settings.out_dir)
    return EXIT_FAILURES if summary.failures else EXIT_OK


def bulk(ns: argparse.Namespace, settings: Settings, lines: StderrLines) -> int:
    """Run the bulk mode over the WARC files; the exit code says how it went."""
    from scraper.app.bulk import DEFAULT_CHUNK_MB, BulkOptions, run_bulk

    lines.show(settings.verbosity)  # importing Dask set its loggers' levels: ours again
    chunk_mb = DEFAULT_CHUNK_MB if ns.chunk_size is None else ns.chunk_size
    options = BulkOptions(sources=tuple(ns.warcs), scheduler=ns.scheduler,
                          workers=ns.workers, chunk_mb=chunk_mb).check()
    summary = run_bulk(settings, options, progress_bar(settings, lines, unit="task"))
    log.info("%s -> %s/", summary.line(), settings.out_dir)
    return EXIT_OK if summary.ok else EXIT_FAILURES


def export_period(ns: argparse.Namespace, settings: Settings) -> int:
    """Write a period's tables from the store into DEST."""
    from scraper.output.store import STORE_NAME, Store

    since, until = parse_since(ns.since), parse_since(ns.until, "--until")
    dest = Path(ns.dest)
    if dest.resolve() == settings.out_dir.resolve():
        raise UsageError(f"{dest}: give another folder than the output folder (its own "
                         "tables are the run's)")
    if not (settings.out_dir / STORE_NAME).is_file():
        raise UsageError(f"{settings.out_dir}: no {STORE_NAME} there (give the output "
                         "folder of a run with -o)")
    try:
        with Store(settings.out_dir, window=0) as store:
            count = store.export_period(dest, since.isoformat() if since else None,
                                        until.isoformat() if until else None,
                                        settings.excel)
        if settings.format != "csv":
            from scraper.output.formats import FORMATS, read_tables

            FORMATS[settings.format](dest, read_tables(dest))
    except (OSError, sqlite3.Error) as exc:
        raise OutputError(f"cannot export to {dest}: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None
    log.info("exported %s articles -> %s/", f"{count:,}", dest)
    return EXIT_OK


def parse_since(text: str | None, flag: str = "--since") -> datetime | None:
    """--since as an aware UTC datetime (a bare date is its midnight UTC)."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{flag} {text!r}: expected a date like 2026-11-01") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def profiles_for(targets: Sequence[str], base_url: str | None) -> list[SiteProfile]:
    """The profiles to crawl: registered names, or URLs with their site's profile; none
    given, every registered site."""
    if base_url and len(targets) != 1:
        # One origin cannot stand in for several sites.
        raise UsageError("--base-url moves one registered SITE: give exactly one")
    if not targets:
        targets = list(REGISTRY)
    profiles = []
    for target in targets:
        if target in REGISTRY:
            profile = REGISTRY[target]
            profiles.append(profile.rebased(base_url) if base_url else profile)
        elif is_url(target) and base_url:
            raise UsageError(f"--base-url moves a registered SITE, not {target!r}")
        elif is_url(target):
            profile = profile_for(target)
            profiles.append(profile.for_url(target, sitemaps=profile is GENERIC))
        else:
            raise UsageError(f"{target!r} is neither a registered site "
                             f"({', '.join(REGISTRY)}) nor an http(s) URL")
    return profiles


def progress_bar(settings: Settings, lines: StderrLines,
                 unit: str = "page") -> Callable[[int | None], None] | None:
    """A tqdm bar on a terminal (never under cron or --quiet): n > 0 sets the total,
    -1 advances it, None closes it. While it shows, `lines` are written above it."""
    if settings.quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = tqdm(total=0, unit=unit, file=sys.stderr, leave=False)
    lines.above_bar = lambda line: bar.write(line, file=sys.stderr)

    def update(n: int | None) -> None:
        if n is None:
            bar.close()
            lines.above_bar = None
        elif n >= 0:
            bar.reset(total=n)
        else:
            bar.update(1)

    return update

"""Command line: a thin shell over `run()`. Exit codes: 0 ok, 1 some inputs failed,
2 bad usage."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from scraper import __version__
from scraper.errors import ScraperError, UsageError
from scraper.settings import load_settings
from scraper.sites import REGISTRY

EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2

DESCRIPTION = """\
Fetch EV-industry news articles (http(s) URLs, local HTML files, file:// URLs), strip the
page chrome, extract companies, deals and production capacities, and merge them into CSV
tables in the output folder (articles, companies, deals, capacities, failures).
"""
EPILOG = """\
other commands:
  python -m scraper sites   list the registered site profiles
  python -m scraper crawl   the scheduled crawl of news sites (crawl --help)

exit codes: 0 every input succeeded; 1 some inputs failed (see failures.csv);
2 bad usage; 3 (crawl) another crawl is running.
"""


def common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", dest="out_dir", metavar="DIR",
                        help="output folder for the tables (default: output/)")
    parser.add_argument("--model", metavar="NAME",
                        help="spaCy pipeline to use (default: en_core_web_sm; "
                             "env SCRAPER_MODEL)")
    parser.add_argument("--config", metavar="FILE",
                        help="TOML settings file (default: ./scraper.toml if present)")
    parser.add_argument("--quiet", action="store_const", const=True, default=None,
                        help="print only errors")
    parser.add_argument("--format", choices=("csv", "xlsx", "jsonl"), default=None,
                        help="table format (default: csv)")
    parser.add_argument("--excel", action="store_const", const=True, default=None,
                        help="write CSV with a UTF-8 byte-order mark, for Excel")


def oneoff_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scraper", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", metavar="URL_OR_PATH",
                        help="article URL, local HTML file or file:// URL")
    parser.add_argument("-i", "--input-file", metavar="FILE",
                        help="read more inputs from FILE, one per line ('-': standard "
                             "input; blank lines and # comments are skipped)")
    common_options(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def sites_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="python -m scraper sites",
        description="List the registered site profiles: name, domains, feeds.")


def list_sites() -> int:
    for profile in REGISTRY.values():
        print(f"{profile.name}\t{', '.join(profile.domains)}\t{', '.join(profile.feeds)}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sites"]:
        sites_parser().parse_args(argv[1:])
        return list_sites()
    if argv[:1] == ["crawl"]:
        from scraper.crawl import main as crawl_main  # the scheduled crawl's own CLI

        return crawl_main(argv[1:])
    parser = oneoff_parser()
    args = parser.parse_args(argv)
    try:
        inputs = [*args.inputs, *read_inputs(args.input_file)]
        if not inputs:
            parser.error("give at least one URL_OR_PATH, or --input-file")
        settings = load_settings(flags_of(args), config_path=args.config)
        return oneoff(inputs, settings)
    except UsageError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except ScraperError as exc:  # the run itself could not go on (the tables unwritable)
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_FAILURES


def read_inputs(path: str | None) -> list[str]:
    """The inputs listed in a file (or on standard input for "-")."""
    if path is None:
        return []
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--input-file {path}: {exc}") from None
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def flags_of(args: argparse.Namespace) -> dict[str, object]:
    """The settings given on the command line (None where a flag was not given)."""
    return {"out_dir": args.out_dir, "model": args.model, "quiet": args.quiet,
            "format": args.format, "excel": args.excel}


def oneoff(inputs: Sequence[str], settings) -> int:
    def report(line: str) -> None:
        if not settings.quiet or line.startswith("error:"):
            print(line, file=sys.stderr)

    from scraper.run import run  # loads spaCy; --help, sites and crawl's lock check need not

    summary = run(inputs, settings, report)
    articles, companies, deals, capacities = summary.totals()
    if not settings.quiet:
        print(f"done: {articles} articles, {companies} companies, {deals} deals, "
              f"{capacities} capacities, {len(summary.failures)} failed, "
              f"{summary.seconds:.1f}s -> {settings.out_dir}/", file=sys.stderr)
    return EXIT_OK if summary.ok else EXIT_FAILURES

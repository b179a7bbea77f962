"""EV-industry news scraper: discover, fetch, clean, extract, export.

The Python API (`scraper.api`) is reachable from here: `scraper.extract_html`,
`scraper.extract_url`, `scraper.crawl`, `scraper.load_tables` and their records.
"""

from typing import Any

__version__ = "0.1.0"

API = ("extract_html", "extract_url", "crawl", "load_tables", "Extraction", "Tables",
       "RunSummary")
__all__ = ["__version__", *API]


def __getattr__(name: str) -> Any:
    # The API is imported on first use, not here: every layer of the package imports
    # `scraper` for its version, and `--help` must not wait for spaCy and pandas.
    if name in API:
        from importlib import import_module

        return getattr(import_module("scraper.api"), name)
    raise AttributeError(f"module 'scraper' has no attribute {name!r}")

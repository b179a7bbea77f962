"""EV-industry news scraper: discover, fetch, clean, extract, export."""

__version__ = "0.1.0"

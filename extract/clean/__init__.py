"""Clean: a `Page` (bytes) -> an `Article` (metadata and story text, page chrome removed)."""

from extract.clean.cleaner import clean

__all__ = ["clean"]

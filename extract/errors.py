"""The library's errors: what can go wrong with one page, and with the pipeline itself.

`PageError` is a failure of one page: the application records it (a failures.csv row) and
goes on with the other pages. `PipelineError` means no page can be processed (the spaCy
pipeline cannot be built): the application stops before any work.
"""

from __future__ import annotations


class ItemError(Exception):
    """A failure of one item (a page here; an input in the application) that is recorded
    as a row with its `stage` and `code`, while the other items go on."""

    stage = "clean"
    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class PageError(ItemError):
    """One page could not be turned into an article or facts."""

    code = "page_error"


class CleanError(PageError):
    """The page holds no article (or its bytes are not an HTML document)."""

    stage = "clean"
    code = "no_article"


class TooComplex(CleanError):
    """The page is over the cleaner's budget (`CleanOptions.max_elements`,
    `max_paragraph_texts`): refused before the passes whose cost grows faster than the page."""

    code = "too_complex"


class ExtractError(PageError):
    """The spaCy pipeline failed on this article."""

    stage = "extract"
    code = "extract_error"


class PipelineError(Exception):
    """The extraction pipeline cannot be built (a model that does not load, bad rules)."""

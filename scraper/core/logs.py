"""How the application's lines read, whoever prints them: a log record of a level as the
one line the README shows (`error: ...`, `warning: ...`, progress lines bare, `debug: ...`
with -v), and such a line back as a level and its text.

The modules log through `logging.getLogger(__name__)`; the command line puts one handler
on stderr (`scraper.app.cli`), a caller of the API configures logging its own way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

# Each prefix with the lowest level it stands for, highest first; progress lines have none.
PREFIXES = ((logging.ERROR, "error: "), (logging.WARNING, "warning: "), (logging.INFO, ""),
            (logging.NOTSET, "debug: "))


def prefixed(level: int, text: str) -> str:
    """`text` as the line of its level: "error: text", "warning: text", "text" or
    "debug: text"."""
    prefix = next(p for lowest, p in PREFIXES if level >= lowest)
    return prefix + text


def one_line(text: str) -> str:
    """`text` on one line, whatever it quotes: a newline in a file name or a page cannot
    forge a line of its own."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def level_of(line: str) -> tuple[int, str]:
    """A line said as text, as its level and its text without the prefix."""
    for level, prefix in PREFIXES[:2]:
        if line.startswith(prefix):
            return level, line.removeprefix(prefix)
    return logging.INFO, line


def teller(logger: logging.Logger) -> Callable[[str], None]:
    """For a part that says its lines as text ("error: ...") rather than logging them:
    each line logged at its level on `logger`."""
    def say(line: str) -> None:
        level, text = level_of(line)
        logger.log(level, "%s", text)
    return say

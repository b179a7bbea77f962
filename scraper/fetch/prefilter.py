"""A glance at a fetched page before the cleaner: is it about the EV industry at all?

For archives such as CC-NEWS, where nearly every page is about something else, cleaning
(trafilatura) and reading (spaCy) every page would spend most of the time on pages that
are written nowhere. This check reads only the page's headline (`<title>`, the first
`<h1>`, `og:title`), its description and its first paragraphs (about `LEAD_WORDS` words of
`<p>` text, skipping short chrome lines), from one lxml parse, and keeps the page when
they hold:

- an EV word (`extract.nlp.relevance.EV_WORDS`: "electric vehicle", "battery cells",
  "charging network", "EV", ...), or
- a company of the gazetteer (`extract/nlp/patterns/companies.jsonl`) of the industry's
  kinds or a group (carmakers, battery makers, suppliers, contract manufacturers,
  carmaker groups), or
- another company of the gazetteer (a tech firm) with a production word
  (`extract.nlp.relevance.PRODUCTION_WORDS`: "plant", "carmaker", "joint venture", ...).

It is meant to keep every EV-industry page (recall first): a page it keeps is scored
again, properly, after extraction (the `relevance` column, `--min-relevance`). A page it
cannot parse is kept, for the cleaner to judge and record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from extract.clean.cleaner import decode, parse
from extract.errors import CleanError
from extract.nlp.companies import GAZETTEER, PATTERNS, load_gazetteer
from extract.nlp.relevance import EV_WORDS, INDUSTRY_KINDS, LEAD_WORDS, PRODUCTION_WORDS
from extract.records import Page

WORD = re.compile(r"\w+")
# Paragraphs shorter than this are menus, bylines and buttons, not the lead.
MIN_PARAGRAPH_WORDS = 8
# At most this many <p> are looked at: a page of a million paragraphs is not read through.
MAX_PARAGRAPHS = 300
HEADLINES = ("//meta[@property='og:title']/@content", "//meta[@name='description']/@content",
             "//meta[@property='og:description']/@content")
KEPT_KINDS = INDUSTRY_KINDS | {"group"}

Key = tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    keep: bool
    why: str  # "EV words", "companies: Nio, JAC", "unparsed", or what was found instead


class Gazetteer:
    """The company gazetteer as word sequences: aliases folded to lower case, the `exact`
    ones as written ("Smart", "Ora"); punctuation is no part of a key ("Pony.ai" and
    "Pony ai" are one key)."""

    def __init__(self, entries: Iterable[dict[str, Any]]) -> None:
        self.folded: dict[Key, tuple[str, str]] = {}
        self.exact: dict[Key, tuple[str, str]] = {}
        for entry in entries:
            company = (entry["name"], entry.get("kind") or "")
            exact = set(entry.get("exact") or ())
            for alias in {entry["name"], *(entry.get("aliases") or ())} - exact:
                self.folded[tuple(WORD.findall(alias.lower()))] = company
            for alias in exact:
                self.exact[tuple(WORD.findall(alias))] = company
        self.longest = max(map(len, [*self.folded, *self.exact]), default=1)

    def find(self, text: str) -> dict[str, str]:
        """The companies named in `text`: canonical name -> kind."""
        words = WORD.findall(text)
        lower = [w.lower() for w in words]
        found: dict[str, str] = {}
        for i in range(len(words)):
            for n in range(1, min(self.longest, len(words) - i) + 1):
                hit = self.folded.get(tuple(lower[i:i + n])) or self.exact.get(
                    tuple(words[i:i + n]))
                if hit:
                    found[hit[0]] = hit[1]
        return found


@cache
def packaged_gazetteer() -> Gazetteer:
    """The packaged gazetteer, compiled once per process."""
    return Gazetteer(load_gazetteer(PATTERNS / GAZETTEER))


def lead_of(page: Page) -> tuple[str, str]:
    """The page's headlines and description, and its first paragraphs (CleanError when
    it cannot be parsed)."""
    tree = parse(decode(page))
    heads = [tree.findtext(".//title") or "", " ".join(tree.xpath("string(//h1)").split())]
    heads += [str(value) for path in HEADLINES for value in tree.xpath(path)[:1]]
    lead: list[str] = []
    words = 0
    for number, paragraph in enumerate(tree.iter("p")):
        if number >= MAX_PARAGRAPHS or words >= LEAD_WORDS:
            break
        text = " ".join(paragraph.text_content().split())
        count = len(text.split())
        if count >= MIN_PARAGRAPH_WORDS:
            lead.append(text)
            words += count
    return " \n".join(" ".join(h.split()) for h in heads if h), " \n".join(lead)


def glance(page: Page, gazetteer: Gazetteer | None = None) -> Verdict:
    """Whether `page` may be about the EV industry, from its headline and lead alone."""
    try:
        head, lead = lead_of(page)
    except (CleanError, ValueError, LookupError):
        return Verdict(True, "unparsed")
    text = f"{head}\n{lead}"
    if EV_WORDS.search(text):
        return Verdict(True, "EV words")
    found = (gazetteer or packaged_gazetteer()).find(text)
    names = ", ".join(sorted(found))
    if any(kind in KEPT_KINDS for kind in found.values()):
        return Verdict(True, f"companies: {names}")
    if found and PRODUCTION_WORDS.search(text):
        return Verdict(True, f"companies with production words: {names}")
    return Verdict(False, f"companies: {names}" if found else "no EV word or company")

"""The library's records: a `Page` goes in, an `Article` and its `Facts` come out.

Frozen dataclasses, the lowest layer of `extract` (they import nothing of ours).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timezone


def article_id(canonical_url: str) -> str:
    """A stable short hash of the canonical URL."""
    return hashlib.sha1(canonical_url.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Page:
    """One fetched (or read) page, exactly as it came: bytes, not text."""

    input: str  # what the user gave: a URL, a path, a file:// URL
    url: str  # the final URL after redirects (file:// for local files)
    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes
    fetched_at: str  # ISO 8601, UTC
    redirects: tuple[str, ...] = field(default=())

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


@dataclass(frozen=True)
class CleanOptions:
    """What a site profile may tell the cleaner (in this light module, so that site
    profiles load without the extraction libraries)."""

    prune_selectors: tuple[str, ...] = ()
    title_selector: str = ""
    timezone: timezone | None = None  # for naive times in the page's metadata
    site_name: str = ""
    # The budget for hostile pages; over either, the page is refused as `too_complex`.
    # Elements of the parsed tree: the boilerplate pass and trafilatura walk the tree many
    # times over, and a parsed element costs about 300 bytes. Real article pages have a few
    # thousand; 200,000 is reached only by generated or padded pages.
    max_elements: int = 200_000
    # Text nodes inside <p> elements: trafilatura queries `//p//text()`, which libxml2
    # evaluates in time quadratic in this number (merging one node set per <p>, or sorting a
    # run of sibling text nodes left by its tag stripping): a page of 100,000 took 18 s to
    # clean. Long articles have a few hundred to a few thousand.
    max_paragraph_texts: int = 10_000


@dataclass(frozen=True)
class Article:
    url: str  # canonical URL
    input: str
    site: str
    title: str
    author: str
    published: str  # ISO 8601 UTC or ""
    source_credit: str
    paragraphs: tuple[str, ...]
    fetched_at: str

    @property
    def article_id(self) -> str:
        return article_id(self.url)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def word_count(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)


@dataclass(frozen=True)
class CompanyMention:
    company: str  # canonical name
    mentions: int
    surface_forms: tuple[str, ...]


@dataclass(frozen=True)
class Deal:
    acquirer: str
    target: str
    deal_type: str  # acquisition | contract_manufacturing | joint_venture | license
    status: str  # completed | agreed | planned | rumored | dissolved
    year: int | None
    evidence: str
    method: str = "rule"  # which part made it: "rule" (ev_deals) or "model" (ev_deal_pairs)


@dataclass(frozen=True)
class Capacity:
    company: str
    facility: str
    units_per_year: int
    kind: str  # total | added
    year: int | None
    evidence: str
    # The city, province or country the sentence names with the plant, or "".
    location: str = ""


@dataclass(frozen=True)
class Facts:
    companies: tuple[CompanyMention, ...]
    deals: tuple[Deal, ...]
    capacities: tuple[Capacity, ...]
    # How much the article is about the EV industry, in [0, 1] with 2 decimals
    # (`extract.nlp.relevance`); None when it was not scored.
    relevance: float | None = None

"""Clean stage: `Page` -> `Article`.

Decode the bytes (header charset, then <meta charset>, then a check that a page declared
as Latin-1 is not really UTF-8), parse once with lxml, read the metadata, prune page
chrome (the site profile's selectors, then the generic filter in `boilerplate`), and let
trafilatura find the story in what is left.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

import charset_normalizer
import trafilatura
from lxml import etree
from lxml import html as lxml_html

from extract.clean import boilerplate, metadata
from extract.errors import CleanError
from extract.records import Article, CleanOptions, Page

META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
SINGLE_BYTE = {"iso8859-1", "cp1252", "ascii", "latin-1", "latin1"}
MIN_WORDS = 20
# Comments go at parse time: React pages put <!-- --> inside sentences, and trafilatura loses
# the text that follows a comment node (its own parser drops them the same way).
PARSER = lxml_html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False,
                              default_doctype=False)


def charset_of(page: Page) -> str | None:
    ctype = page.header("content-type") or ""
    m = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", ctype, re.I)
    if m:
        return m.group(1)
    m = META_CHARSET.search(page.content[:4096])
    return m.group(1).decode("ascii", "replace") if m else None


def normal_codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode(page: Page) -> str:
    """The page's text, decoded by what it declares, corrected when that is wrong."""
    content = page.content
    if content.startswith(codecs.BOM_UTF8):
        return content[3:].decode("utf-8", "replace")
    declared = normal_codec(charset_of(page))
    if declared in SINGLE_BYTE or declared is None:
        # A page that says Latin-1 (or nothing) but is valid UTF-8 with non-ASCII bytes is
        # UTF-8: real Latin-1 text almost never forms valid multi-byte sequences.
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError:
            pass
        if declared in SINGLE_BYTE:
            return content.decode("cp1252" if declared != "ascii" else "cp1252", "replace")
    if declared:
        try:
            return content.decode(declared)
        except UnicodeDecodeError:
            pass
    best = charset_normalizer.from_bytes(content[:200_000]).best()
    encoding = best.encoding if best else "utf-8"
    return content.decode(encoding, "replace")


def parse(text: str) -> lxml_html.HtmlElement:
    # lxml refuses str input that declares an encoding in an XML prolog; drop the prolog.
    text = re.sub(r"^\s*<\?xml[^>]*>", "", text)
    try:
        return lxml_html.document_fromstring(text, parser=PARSER)
    except (etree.ParserError, ValueError) as exc:
        raise CleanError(f"cannot parse the HTML ({exc})", code="bad_html") from None


def too_short(paragraphs: list[str]) -> bool:
    """Fewer than MIN_WORDS words; Chinese and Japanese text has no spaces, so for it
    count characters (about two per English word's worth of meaning)."""
    text = "".join(paragraphs)
    if sum(len(p.split()) for p in paragraphs) >= MIN_WORDS:
        return False
    wide = sum(1 for ch in text if ord(ch) >= 0x2E80)
    return wide < 2 * MIN_WORDS


def clean(page: Page, options: CleanOptions | None = None, *,
          resolve: Callable[[str], CleanOptions] | None = None) -> Article:
    """Turn a fetched page into an Article, or raise CleanError when it holds no story.

    `options` are the site's; or `resolve` finds them from the page's canonical URL, so a
    saved CnEVPost page read from disk is cleaned as CnEVPost.
    """
    tree = parse(decode(page))
    objects = metadata.json_ld(tree)
    url = metadata.canonical(tree, page.url)
    if options is None:
        options = resolve(url) if resolve else CleanOptions()
    title = metadata.title(tree, objects, options.title_selector)
    # Metadata is read before pruning: bylines and <time> often sit in the chrome.
    when = metadata.published(tree, url, objects, options.timezone)
    who = metadata.author(tree, objects)
    site = options.site_name or metadata.site_name(tree, url)

    footer_credit = boilerplate.credit_in_page(tree)
    boilerplate.prune(tree, options.prune_selectors)
    # Metadata is ours (above); trafilatura's own metadata pass would only cost time.
    try:
        doc = trafilatura.bare_extraction(
            tree, url=page.url, include_comments=False, favor_precision=True,
            with_metadata=False, include_tables=True, deduplicate=False)
    except Exception as exc:  # noqa: BLE001 (trafilatura on a page it cannot handle)
        raise CleanError(f"article extraction failed ({type(exc).__name__}: {exc})",
                         code="clean_failed") from None
    if doc is None or not (doc.text or "").strip():
        raise CleanError("no article text found on the page")
    lines = [" ".join(line.split()) for line in doc.text.split("\n")]
    paragraphs, credit = boilerplate.clean_lines([line for line in lines if line], title)
    if too_short(paragraphs):
        raise CleanError(f"too little article text ({len(paragraphs)} paragraphs)")
    return Article(
        url=url,
        input=page.input,
        site=site,
        title=title,
        author=who,
        published=when,
        source_credit=credit or footer_credit,
        paragraphs=tuple(paragraphs),
        fetched_at=page.fetched_at,
    )

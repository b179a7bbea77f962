"""Clean stage: `Page` -> `Article`.

Decode the bytes (header charset, then <meta charset>, overruled by UTF-8 when the bytes
are UTF-8 and the declaration is not), parse once with lxml, refuse a tree over the budget
(`CleanOptions.max_elements`, `max_paragraph_texts`), read the metadata, prune page chrome
(the site profile's selectors, then the generic filter in `boilerplate`), and let
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
from extract.errors import CleanError, TooComplex
from extract.records import Article, CleanOptions, Page

META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
# Browsers read a Latin-1 or ASCII label as windows-1252, which gives “ ” ’ – € their places.
AS_CP1252 = {"iso8859-1", "cp1252", "ascii"}
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
    meta = META_CHARSET.search(page.content[:4096])
    return meta.group(1).decode("ascii", "replace") if meta else None


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
    # Bytes that decode strictly as UTF-8 and hold multi-byte sequences are UTF-8 whatever
    # the label says: text in a single-byte charset (Latin-9, cp1251, ...) or in another
    # multi-byte one (GBK, Shift_JIS, EUC-KR) almost never forms valid UTF-8 sequences, while
    # templates copied between sites keep stale labels. Pure ASCII proves nothing, so there
    # the label stands (it matters for UTF-16, whose ASCII text is also valid UTF-8).
    utf8: str | None
    try:
        utf8 = content.decode("utf-8")
    except UnicodeDecodeError:
        utf8 = None
    if utf8 is not None and (declared in (None, "utf-8") or not content.isascii()):
        return utf8
    if declared:
        codec = "cp1252" if declared in AS_CP1252 else declared
        try:
            return content.decode(codec)
        except UnicodeDecodeError:
            if utf8 is not None:
                return utf8
            if codec == "cp1252":
                # Five bytes are unassigned in cp1252; the label is still the best guess.
                return content.decode(codec, "replace")
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


def check_budget(tree: lxml_html.HtmlElement, options: CleanOptions) -> None:
    """Refuse a tree too big for the passes that follow, before any of them runs.

    XPath count() runs in C without a Python object per node: 3 ms for 100,000 elements
    (an iterator stopped at the cap takes 60 ms to get there), beside the parse that built
    the tree (50 ms for those 100,000, 0.6 s for 1,000,000)."""
    elements = int(tree.xpath("count(//*)"))
    if elements > options.max_elements:
        raise TooComplex(f"too complex to clean: {elements:,} elements "
                         f"(the budget is {options.max_elements:,})")
    # Each element holds at most two text nodes (its text and its tail): most pages are
    # under the paragraph budget without counting.
    if 2 * elements + 1 <= options.max_paragraph_texts:
        return
    texts = int(tree.xpath("count(//text()[ancestor::p])"))
    if texts > options.max_paragraph_texts:
        raise TooComplex(f"too complex to clean: {texts:,} runs of text inside paragraphs "
                         f"(the budget is {options.max_paragraph_texts:,})")


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
    url = metadata.canonical(tree, page.url)
    if options is None:
        options = resolve(url) if resolve else CleanOptions()
    check_budget(tree, options)
    objects = metadata.json_ld(tree)
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
    # A Document, since as_dict is off; the dict branch of its type is never taken here.
    text = "" if doc is None or isinstance(doc, dict) else (doc.text or "")
    if not text.strip():
        raise CleanError("no article text found on the page")
    lines = [" ".join(line.split()) for line in text.split("\n")]
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

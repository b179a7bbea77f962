"""Generic boilerplate filter: page chrome that sits inside or beside the story.

Works on the DOM before trafilatura sees it, with rules kept as named data in
`patterns/boilerplate.json`:

- teaser cards: a short block ending in a "Read More" link, found by the link and grown to
  the largest ancestor that still holds only that one card;
- widgets by their words: a short block whose text opens with "Your compare list",
  "Join us on Telegram", "Share this", "Most read", ...;
- widgets by their names: a small element whose class or id says share, newsletter,
  compare, related, comments, ... (never one that holds a large part of the page's text).

Then a text pass drops whole paragraphs that are chrome wherever they stand, and takes a
closing "Sourced from X" / "Source: X" / "The post ... appeared first on X" line off as the
source credit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import html as lxml_html

PATTERNS = Path(__file__).with_name("patterns") / "boilerplate.json"
SPLIT_TOKENS = re.compile(r"[\s_\-]+")
# A card is short: a headline and an excerpt. Anything longer is not a teaser.
MAX_CARD_CHARS = 700
MAX_BLOCK_CHARS = 400
SMALL_SHARE = 0.25  # a named widget may hold at most this share of the page's text


@dataclass(frozen=True)
class Rules:
    class_tokens: frozenset[str]
    link_phrases: tuple[str, ...]
    block_phrases: tuple[str, ...]
    line_patterns: tuple[re.Pattern[str], ...]
    credit_patterns: tuple[re.Pattern[str], ...]


@cache
def load_rules(path: Path = PATTERNS) -> Rules:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Rules(
        class_tokens=frozenset(t.lower() for t in data["class_tokens"]),
        link_phrases=tuple(p.lower() for p in data["link_phrases"]),
        block_phrases=tuple(p.lower() for p in data["block_phrases"]),
        line_patterns=tuple(re.compile(p, re.I) for p in data["line_patterns"]),
        credit_patterns=tuple(re.compile(p, re.I) for p in data["credit_patterns"]),
    )


def text_len(el: lxml_html.HtmlElement) -> int:
    return len(" ".join(el.text_content().split()))


def norm(text: str) -> str:
    return " ".join(text.split()).lower()


def prune(tree: lxml_html.HtmlElement, selectors: tuple[str, ...] = (),
          rules: Rules | None = None) -> int:
    """Remove page chrome from `tree` in place; return how many elements were removed."""
    rules = rules or load_rules()
    body = tree.find("body") if tree.tag == "html" else tree
    if body is None:
        body = tree
    removed = 0
    for selector in selectors:
        for el in body.cssselect(selector):
            drop(el)
            removed += 1
    removed += drop_teaser_cards(body, rules)
    removed += drop_phrase_blocks(body, rules)
    removed += drop_named_widgets(body, rules)
    return removed


def drop(el: lxml_html.HtmlElement) -> None:
    if el.getparent() is not None:
        el.drop_tree()  # keeps the tail text, which belongs to the parent


def is_read_more(el: lxml_html.HtmlElement, rules: Rules) -> bool:
    return norm(el.text_content()).rstrip(" .…") in rules.link_phrases


def drop_teaser_cards(body: lxml_html.HtmlElement, rules: Rules) -> int:
    links = [a for a in body.iter("a", "button") if is_read_more(a, rules)]
    removed = 0
    for link in links:
        if link.getparent() is None or not in_tree(link, body):
            continue
        card = link
        while True:
            parent = card.getparent()
            if parent is None or parent is body:
                break
            if text_len(parent) > MAX_CARD_CHARS:
                break
            if sum(1 for a in parent.iter("a", "button") if is_read_more(a, rules)) > 1:
                break
            card = parent
        container = card.getparent()
        drop(card)
        removed += 1
        # A grid whose cards are all gone leaves only its own heading ("Read more", "Related").
        if container is not None and container is not body and text_len(container) < 60 \
                and not container.findall(".//p"):
            drop(container)
    return removed


def in_tree(el: lxml_html.HtmlElement, root: lxml_html.HtmlElement) -> bool:
    return any(anc is root for anc in el.iterancestors())


def drop_phrase_blocks(body: lxml_html.HtmlElement, rules: Rules) -> int:
    removed = 0
    for el in list(body.iter("div", "section", "aside", "p", "ul", "form", "span", "h2", "h3",
                             "h4")):
        if el.getparent() is None or not in_tree(el, body):
            continue
        text = norm(el.text_content())
        if not text or len(text) > MAX_BLOCK_CHARS:
            continue
        if text.startswith(rules.block_phrases):
            drop(el)
            removed += 1
    return removed


def drop_named_widgets(body: lxml_html.HtmlElement, rules: Rules) -> int:
    total = max(text_len(body), 1)
    removed = 0
    for el in list(body.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None or not in_tree(el, body):
            continue
        names = f"{el.get('class', '')} {el.get('id', '')}".lower()
        if not names.strip():
            continue
        tokens = set(SPLIT_TOKENS.split(names))
        if not tokens & rules.class_tokens:
            continue
        if el.tag in ("body", "article", "main") or text_len(el) > SMALL_SHARE * total:
            continue
        drop(el)
        removed += 1
    return removed


def split_credit(paragraphs: list[str], rules: Rules | None = None) -> tuple[list[str], str]:
    """Drop chrome lines, and take a source credit off the end of the story."""
    rules = rules or load_rules()
    kept = drop_text_teasers(paragraphs, rules)
    kept = [p for p in kept if not any(rx.match(p.strip()) for rx in rules.line_patterns)]
    credit = ""
    for i in range(len(kept) - 1, max(len(kept) - 4, -1), -1):
        line = kept[i].strip()
        for rx in rules.credit_patterns:
            m = rx.match(line)
            if m:
                credit = m.group("src").strip()
                # Whatever follows a credit line is feed footer or chrome, not story.
                return kept[:i], credit
    return kept, credit


def drop_text_teasers(paragraphs: list[str], rules: Rules) -> list[str]:
    """Teaser cards that reached the text: headline, excerpt ending in "...", "Read More"."""
    kept: list[str] = []
    for p in paragraphs:
        if norm(p).rstrip(" .…") in rules.link_phrases:
            if kept and kept[-1].rstrip().endswith(("...", "…")):
                kept.pop()  # the excerpt
                if kept and len(kept[-1]) < 160 and not kept[-1].rstrip().endswith("."):
                    kept.pop()  # its headline
            continue
        kept.append(p)
    return kept

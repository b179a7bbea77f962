"""Generic boilerplate filter, DOM side: page chrome that sits inside or beside the story.

Runs on the parsed page before trafilatura sees it, with its rules kept as named data in
`boilerplate.json` beside this module. Every rule is bounded by a general signal, so that a story
paragraph that merely says "read more" or "share" in prose is never touched:

- teaser cards: a short block ending in a "Read More" link, found by the link and grown to
  the largest ancestor that still holds only that one card;
- card grids: three or more sibling blocks of the same shape, each a short headline link
  with at most an excerpt (repeated sibling structure, high link share);
- section headings: "Most read", "Related articles", "You might also like", ... and the
  link lists or cards that follow them;
- sign-up boxes: a small block around an e-mail field or a sign-up form;
- widgets by their words: a short block whose whole text opens with "Your compare list",
  "Join us on Telegram", "Share this", ...;
- widgets by their names: an element whose class or id says share, newsletter, compare,
  comments, ... and that does not hold the story (judged by its prose, not its name).

Then, on the extracted text, `clean_lines` drops whole paragraphs that are chrome wherever
they stand (and meta lines at the story's edges), and takes a closing "Sourced from X" /
"Source: X" / "The post ... appeared first on X" line off as the source credit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from lxml import html as lxml_html

PATTERNS = Path(__file__).with_name("boilerplate.json")
CLASS_SPLIT = re.compile(r"[\s_\-]+|(?<=[a-z])(?=[A-Z])")
# A card is short: a headline and an excerpt. Anything longer is not a teaser.
MAX_CARD_CHARS = 700
MAX_BLOCK_CHARS = 400
MAX_BOX_CHARS = 500  # a sign-up box: a heading, a sentence, a field and a button
PROSE_CHARS = 120  # a text block this long, mostly outside links, reads as story prose
STORY_BLOCKS = 3  # an element holding this many prose blocks holds (part of) the story


@dataclass(frozen=True)
class Rules:
    hard_tokens: frozenset[str]
    soft_tokens: frozenset[str]
    story_tokens: frozenset[str]
    link_phrases: tuple[str, ...]
    block_phrases: tuple[str, ...]
    section_phrases: tuple[str, ...]
    line_patterns: tuple[re.Pattern[str], ...]
    edge_patterns: tuple[re.Pattern[str], ...]
    credit_patterns: tuple[re.Pattern[str], ...]


@cache
def load_rules(path: Path = PATTERNS) -> Rules:
    """The named rules in `boilerplate.json` beside this module, compiled once."""
    data = json.loads(path.read_text(encoding="utf-8"))

    def words(key: str) -> frozenset[str]:
        return frozenset(t.lower() for t in data[key])

    def regexes(key: str) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p, re.I) for p in data[key])

    return Rules(
        hard_tokens=words("hard_class_tokens"),
        soft_tokens=words("soft_class_tokens"),
        story_tokens=words("story_class_tokens"),
        link_phrases=tuple(p.lower() for p in data["link_phrases"]),
        block_phrases=tuple(p.lower() for p in data["block_phrases"]),
        section_phrases=tuple(p.lower() for p in data["section_phrases"]),
        line_patterns=regexes("line_patterns"),
        edge_patterns=regexes("edge_patterns"),
        credit_patterns=regexes("credit_patterns"),
    )


def text_of(el: lxml_html.HtmlElement) -> str:
    return " ".join(el.text_content().split())


def norm(text: str) -> str:
    return " ".join(text.split()).lower()


def link_chars(el: lxml_html.HtmlElement) -> int:
    return sum(len(" ".join(a.text_content().split())) for a in el.iter("a"))


def link_density(el: lxml_html.HtmlElement, length: int | None = None) -> float:
    length = len(text_of(el)) if length is None else length
    return link_chars(el) / length if length else 0.0


def prose_blocks(el: lxml_html.HtmlElement, enough: int = STORY_BLOCKS) -> int:
    """How many blocks under `el` read as prose (long, mostly outside links), up to `enough`."""
    count = 0
    for block in el.iter("p", "li", "blockquote", "dd"):
        length = len(text_of(block))
        if length >= PROSE_CHARS and link_density(block, length) < 0.3:
            count += 1
            if count >= enough:
                break
    if count < enough:
        # Pages made of <div> lines and <br> (Blogger) or bare text: count long text runs.
        for text in el.xpath(".//text()[string-length(normalize-space(.)) >= 120]"):
            parent = text.getparent()
            if parent is not None and parent.tag not in ("a", "script", "style"):
                count += 1
                if count >= enough:
                    break
    return count


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
    unwrap_layout_tables(body)
    removed += drop_teaser_cards(body, rules)
    removed += drop_section_blocks(body, rules)
    removed += drop_signup_boxes(body)
    removed += drop_phrase_blocks(body, rules)
    removed += drop_named_widgets(body, rules)
    removed += drop_card_grids(body)
    return removed


def unwrap_layout_tables(body: lxml_html.HtmlElement) -> None:
    """Old pages lay out the whole page as a table; trafilatura would render it as one table
    row. A table that nests another table or holds a long text cell is layout, not data:
    it becomes plain blocks."""
    for table in list(body.iter("table")):
        cells = table.xpath("./tr/td | ./tbody/tr/td | ./thead/tr/td")
        if not (table.find(".//table") is not None
                or any(len(c.text_content()) > 400 for c in cells)):
            continue
        # Only this table's own rows and cells: a nested table is judged on its own.
        own = [el for el in table.xpath(".//tr | .//td | .//th")
               if el.xpath("ancestor::table[1]")[0] is table]
        for el in (table, *own):
            el.tag = "div"


def drop(el: lxml_html.HtmlElement) -> None:
    if el.getparent() is not None:
        el.drop_tree()  # keeps the tail text, which belongs to the parent


def attached(el: lxml_html.HtmlElement, root: lxml_html.HtmlElement) -> bool:
    return any(anc is root for anc in el.iterancestors())


def is_read_more(el: lxml_html.HtmlElement, rules: Rules) -> bool:
    text = el.text_content()
    return len(text) < 40 and norm(text).rstrip(" .…") in rules.link_phrases


def grow(start: lxml_html.HtmlElement, body: lxml_html.HtmlElement, limit: int,
         alone: Callable[[lxml_html.HtmlElement], bool]) -> lxml_html.HtmlElement:
    """The largest ancestor of `start` under `limit` chars for which `alone` still holds."""
    card = start
    while True:
        parent = card.getparent()
        if parent is None or parent is body or parent.tag in ("article", "main"):
            return card
        if len(text_of(parent)) > limit or not alone(parent):
            return card
        card = parent


def drop_teaser_cards(body: lxml_html.HtmlElement, rules: Rules) -> int:
    links = [a for a in body.iter("a", "button") if is_read_more(a, rules)]
    removed = 0
    for link in links:
        if not attached(link, body):
            continue
        card = grow(link, body, MAX_CARD_CHARS, lambda el: sum(
            1 for a in el.iter("a", "button") if is_read_more(a, rules)) <= 1
            and prose_blocks(el, 2) < 2)
        container = card.getparent()
        drop(card)
        removed += 1
        # A grid whose cards are all gone leaves only its own heading ("Read more", "Related").
        if container is not None and container is not body and len(text_of(container)) < 60 \
                and not container.findall(".//p"):
            drop(container)
    return removed


def drop_section_blocks(body: lxml_html.HtmlElement, rules: Rules) -> int:
    """A "Most read" / "Related" heading and the link lists or cards that follow it."""
    removed = 0
    for head in list(body.iter("h2", "h3", "h4", "h5", "h6", "strong", "b", "p", "span",
                               "div", "header", "dt")):
        raw = head.text_content()
        if len(raw) > 400:
            continue  # far too long for a heading; spare the normalising below
        text = norm(raw).rstrip(" :»›>")
        if not text or len(text) > 60 or not text.startswith(rules.section_phrases):
            continue
        if not attached(head, body):
            continue
        # Climb while the ancestor is the heading plus link lists: the whole box goes.
        box = grow(head, body, 1500, lambda el: prose_blocks(el, 1) == 0
                   or link_density(el) > 0.5)
        if box is head:
            followers = []
            for sib in head.itersiblings():
                if not isinstance(sib.tag, str):
                    continue
                if sib.tag == "h1":
                    break  # the story's own headline: the section ended before it
                if sib.tag in ("h2", "h3") or prose_blocks(sib, 1):
                    if link_density(sib) <= 0.5:
                        break
                followers.append(sib)
                if len(followers) >= 3:
                    break
            for sib in followers:
                if link_density(sib) > 0.5 or sib.tag in ("ul", "ol"):
                    drop(sib)
        drop(box)
        removed += 1
    return removed


def drop_signup_boxes(body: lxml_html.HtmlElement) -> int:
    """A small block around an e-mail field: a newsletter or sign-up box."""
    removed = 0
    fields = body.xpath(".//input[@type='email' or contains(@name, 'mail')]"
                        " | .//amp-form | .//form[contains(@action, 'subscri')"
                        " or contains(@action, 'newsletter') or contains(@action, 'signup')]")
    for field in fields:
        if not attached(field, body):
            continue
        box = grow(field, body, MAX_BOX_CHARS, lambda el: prose_blocks(el, 1) == 0
                   and not el.xpath(".//textarea"))
        drop(box)
        removed += 1
    return removed


def drop_phrase_blocks(body: lxml_html.HtmlElement, rules: Rules) -> int:
    removed = 0
    for el in list(body.iter("div", "section", "aside", "p", "ul", "form", "span", "h2", "h3",
                             "h4", "amp-social-share")):
        raw = el.text_content()
        if len(raw) > 4 * MAX_BLOCK_CHARS:
            continue  # even with its white space folded it would be too long
        text = norm(raw)
        if not text or len(text) > MAX_BLOCK_CHARS or not text.startswith(rules.block_phrases):
            continue
        if not attached(el, body):
            continue
        # A story sentence that opens with "Share ..." or "Sign up ..." is prose: a widget is
        # short or made of links and buttons.
        if text[-1] in '.!?"”' \
                and link_density(el, len(text)) < 0.3 \
                and not el.xpath(".//button | .//input | .//form"):
            continue
        drop(el)
        removed += 1
    return removed


def class_tokens(el: lxml_html.HtmlElement) -> frozenset[str]:
    return name_tokens(f"{el.get('class', '')} {el.get('id', '')}")


@lru_cache(maxsize=8192)
def name_tokens(names: str) -> frozenset[str]:
    """The words of a class/id string; pages repeat the same names, hence the cache."""
    return frozenset(t.lower() for t in CLASS_SPLIT.split(names) if t)


def drop_named_widgets(body: lxml_html.HtmlElement, rules: Rules) -> int:
    removed = 0
    for el in body.xpath(".//*[@class or @id]"):
        if el.tag in ("body", "article", "main", "html"):
            continue
        tokens = class_tokens(el)
        hard = tokens & rules.hard_tokens
        if not hard and not tokens & rules.soft_tokens:
            continue
        if not attached(el, body):
            continue
        if tokens & rules.story_tokens and not tokens & {"comment", "comments"} \
                and prose_blocks(el, 1):
            continue  # "article-body pagination", "content-with-sidebar": the story's box
        if not hard:
            # Soft names (social, caption, widget, ...) also wrap embeds and whole posts:
            # only a short or link-heavy one is chrome.
            length = len(text_of(el))
            if length > 200 and link_density(el, length) < 0.5 or prose_blocks(el, 1):
                continue
        elif not tokens & {"comment", "comments", "disqus"} and prose_blocks(el) >= STORY_BLOCKS:
            continue
        drop(el)
        removed += 1
    return removed


def signature(el: lxml_html.HtmlElement) -> tuple[str, str]:
    return el.tag, " ".join(sorted((el.get("class") or "").split()))


def drop_card_grids(body: lxml_html.HtmlElement) -> int:
    """Three or more same-shaped siblings, each a short headline link (+ excerpt)."""
    removed = 0
    for parent in list(body.iter("div", "ul", "ol", "section", "aside", "amp-carousel")):
        kids = [k for k in parent if isinstance(k.tag, str)]
        if len(kids) < 3 or not attached(parent, body):
            continue
        shapes = {signature(k) for k in kids}
        if len(shapes) != 1 or kids[0].tag in ("p", "br", "span", "a", "img"):
            continue
        if all(is_card(k) for k in kids):
            drop(parent)
            removed += 1
    return removed


def is_card(el: lxml_html.HtmlElement) -> bool:
    """A headline link of some length, at most a short excerpt, no prose paragraph."""
    length = len(text_of(el))
    if not 20 <= length <= 350:
        return False
    links = [a for a in el.iter("a") if len(text_of(a)) >= 20]
    if len(links) != 1 or len({a.get("href") for a in el.iter("a") if a.get("href")}) > 2:
        return False
    headline = len(text_of(links[0]))
    return headline >= 0.3 * length and not el.xpath(".//p[string-length(.) > 200]")


def clean_lines(paragraphs: list[str], title: str = "",
                rules: Rules | None = None) -> tuple[list[str], str]:
    """The story's paragraphs without chrome lines, and the source credit taken off its end."""
    rules = rules or load_rules()
    kept = drop_text_teasers(paragraphs, rules)
    kept = [p for p in kept if not any(rx.search(p) for rx in rules.line_patterns)]
    kept = trim_edges(kept, title, rules)
    return split_credit(kept, rules)


def credit_in_page(tree: lxml_html.HtmlElement, rules: Rules | None = None) -> str:
    """A feed footer's source ("The post ... appeared first on X."), read from the page:
    extraction often drops the footer line itself because it is mostly links."""
    rules = rules or load_rules()
    for node in tree.xpath("//body//text()[contains(., 'appeared first on')]"):
        block = node.getparent()
        while block is not None and block.tag in ("a", "b", "i", "em", "strong", "span"):
            block = block.getparent()
        if block is None:
            continue
        text = " ".join(block.text_content().split())
        m = re.search(r"\bThe post\b.{1,300}?\bappeared first on\s+(?P<src>[^.]{2,60})\.?", text)
        if m:
            return m.group("src").strip()
    return ""


def split_credit(paragraphs: list[str], rules: Rules | None = None) -> tuple[list[str], str]:
    """Take a closing source credit off the story; whatever follows it is footer."""
    rules = rules or load_rules()
    for i in range(len(paragraphs) - 1, max(len(paragraphs) - 4, -1), -1):
        line = paragraphs[i].strip()
        for rx in rules.credit_patterns:
            m = rx.match(line)
            if m:
                return paragraphs[:i], m.group("src").strip()
    return paragraphs, ""


def same_title(line: str, title: str) -> bool:
    a, b = norm(line), norm(title)
    return bool(a and b) and (a == b or (len(a) > 20 and (b.startswith(a) or a.startswith(b))))


def trim_edges(paragraphs: list[str], title: str, rules: Rules) -> list[str]:
    """Headline, byline and date lines that extraction left at the top or bottom."""
    kept = list(paragraphs)
    for _ in range(4):
        if kept and (same_title(kept[0], title)
                     or any(rx.search(kept[0]) for rx in rules.edge_patterns)):
            kept.pop(0)
        else:
            break
    for _ in range(4):
        if kept and any(rx.search(kept[-1]) for rx in rules.edge_patterns):
            kept.pop()
        else:
            break
    return kept


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

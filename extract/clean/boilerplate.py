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
- widgets by their names: an element whose class name or id, read as a whole, says share,
  newsletter, compare, comments, ... ("comments-area", "jp-relatedposts", but not
  "comments-enabled" or "follow-up") and that does not hold the story (judged by its prose,
  not its name).

No rule removes, or grows a removal into, the element that holds most of the page's prose
(`Story`): a story box named "comments-enabled", or a story of short paragraphs with a
"Trending" box inside, stays whole.

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
TRAILING_NUMBER = re.compile(r"\d+$")
# Inline elements that a section heading may be made of, or that may sit inside a sentence.
INLINE = frozenset({"a", "b", "strong", "span", "em", "i", "small", "font"})
LINE_PUNCTUATION = " \t\r\n:|»›>•·-–—"
# A card is short: a headline and an excerpt. Anything longer is not a teaser.
MAX_CARD_CHARS = 700
MAX_BLOCK_CHARS = 400
MAX_BOX_CHARS = 500  # a sign-up box: a heading, a sentence, a field and a button
PROSE_CHARS = 120  # a text block this long, mostly outside links, reads as story prose
STORY_BLOCKS = 3  # an element holding this many prose blocks holds (part of) the story


# eq=False: hashed by identity, so that the name cache below keys on it cheaply.
@dataclass(frozen=True, eq=False)
class Rules:
    hard_tokens: frozenset[str]
    soft_tokens: frozenset[str]
    story_tokens: frozenset[str]
    part_words: frozenset[str]
    state_words: frozenset[str]
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
        part_words=words("name_part_words"),
        state_words=words("name_state_words"),
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


class Story:
    """The page's prose, measured once before anything is removed: the text of its <p>
    elements. An element holding most of it holds the story, whatever it is named; the
    deepest such element is the story's box."""

    def __init__(self, body: lxml_html.HtmlElement) -> None:
        self.chars: dict[lxml_html.HtmlElement, int] = {}
        for p in body.iter("p"):
            n = len(p.text_content())
            for el in (p, *p.iterancestors()):
                self.chars[el] = self.chars.get(el, 0) + n
        self.total = self.chars.get(body, 0)
        holders = [el for el, n in self.chars.items() if self.held(n)]
        # Holders form one chain from the body down: the box is the one with most ancestors.
        self.box = max(holders, key=lambda el: sum(1 for _ in el.iterancestors()),
                       default=None)

    def held(self, chars: int) -> bool:
        return self.total > 0 and 2 * chars > self.total

    def held_by(self, el: lxml_html.HtmlElement) -> bool:
        return self.held(self.chars.get(el, 0))

    def inside(self, el: lxml_html.HtmlElement) -> bool:
        """`el` is in the story's box (or is it)."""
        box = self.box
        return box is not None and (el is box or any(a is box for a in el.iterancestors()))


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
    story = Story(body)
    removed += drop_teaser_cards(body, rules, story)
    removed += drop_section_blocks(body, rules, story)
    removed += drop_signup_boxes(body, story)
    removed += drop_phrase_blocks(body, rules, story)
    removed += drop_named_widgets(body, rules, story)
    removed += drop_card_grids(body, story)
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
         alone: Callable[[lxml_html.HtmlElement], bool],
         story: Story | None = None) -> lxml_html.HtmlElement:
    """The largest ancestor of `start` under `limit` chars for which `alone` still holds,
    short of the story's box (a story of short paragraphs is under `limit` and has no
    paragraph long enough for `alone` to see it as prose)."""
    card = start
    while True:
        parent = card.getparent()
        if parent is None or parent is body or parent.tag in ("article", "main"):
            return card
        if len(text_of(parent)) > limit or not alone(parent) \
                or (story is not None and story.held_by(parent)):
            return card
        card = parent


def in_running_text(el: lxml_html.HtmlElement) -> bool:
    """An inline element inside a sentence ("called it <b>More from less</b> in a note"):
    text on the same line before or after it makes it a phrase of the story, not a heading
    or a widget. A heading set in bold at the head of a block is followed by a break or by
    nothing but links."""
    if el.tag not in INLINE:
        return False
    before, parent = el.getprevious(), el.getparent()
    if before is not None:
        preceding = before.tail
    else:
        preceding = parent.text if parent is not None else None
    return bool((el.tail or "").strip(LINE_PUNCTUATION)
                or (preceding or "").strip(LINE_PUNCTUATION))


def drop_teaser_cards(body: lxml_html.HtmlElement, rules: Rules, story: Story) -> int:
    links = [a for a in body.iter("a", "button") if is_read_more(a, rules)]
    removed = 0
    for link in links:
        if not attached(link, body):
            continue
        card = grow(link, body, MAX_CARD_CHARS, lambda el: sum(
            1 for a in el.iter("a", "button") if is_read_more(a, rules)) <= 1
            and prose_blocks(el, 2) < 2, story)
        container = card.getparent()
        drop(card)
        removed += 1
        # A grid whose cards are all gone leaves only its own heading ("Read more", "Related").
        if container is not None and container is not body and len(text_of(container)) < 60 \
                and not container.findall(".//p"):
            drop(container)
    return removed


def drop_section_blocks(body: lxml_html.HtmlElement, rules: Rules, story: Story) -> int:
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
        if not attached(head, body) or in_running_text(head):
            continue
        # Climb while the ancestor is the heading plus link lists: the whole box goes.
        box = grow(head, body, 1500, lambda el: prose_blocks(el, 1) == 0
                   or link_density(el) > 0.5, story)
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


def drop_signup_boxes(body: lxml_html.HtmlElement, story: Story) -> int:
    """A small block around an e-mail field: a newsletter or sign-up box."""
    removed = 0
    fields = body.xpath(".//input[@type='email' or contains(@name, 'mail')]"
                        " | .//amp-form | .//form[contains(@action, 'subscri')"
                        " or contains(@action, 'newsletter') or contains(@action, 'signup')]")
    for field in fields:
        if not attached(field, body):
            continue
        box = grow(field, body, MAX_BOX_CHARS, lambda el: prose_blocks(el, 1) == 0
                   and not el.xpath(".//textarea"), story)
        drop(box)
        removed += 1
    return removed


def drop_phrase_blocks(body: lxml_html.HtmlElement, rules: Rules, story: Story) -> int:
    removed = 0
    for el in list(body.iter("div", "section", "aside", "p", "ul", "form", "span", "h2", "h3",
                             "h4", "amp-social-share")):
        raw = el.text_content()
        if len(raw) > 4 * MAX_BLOCK_CHARS:
            continue  # even with its white space folded it would be too long
        text = norm(raw)
        if not text or len(text) > MAX_BLOCK_CHARS or not text.startswith(rules.block_phrases):
            continue
        if not attached(el, body) or in_running_text(el) or story.held_by(el):
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


def name_words(name: str) -> tuple[str, ...]:
    """The words of one class name or id, lower-cased: split on '-', '_' and camelCase, a
    trailing number dropped ("comment-5101", "popularposts1"), and a word with digits
    inside dropped whole (the hash of a CSS module, "item__cz1vh")."""
    words = (TRAILING_NUMBER.sub("", w).lower() for w in CLASS_SPLIT.split(name))
    return tuple(w for w in words if w.isalpha())


@dataclass(frozen=True)
class Named:
    hard: bool
    words: frozenset[str]  # the rule words the name holds


@lru_cache(maxsize=16384)
def named(name: str, rules: Rules) -> Named | None:
    """What one class name or id, read as a whole, names: None unless the name is a rule
    word, or ends in one ("jp-relatedposts", "site-footer", "mostRead") with only words of
    structure after it ("comments-area", "share-bar__btn--copy", "related-posts-list").
    A rule word inside a name that means something else does not count: "follow-up",
    "nav-aware", "widget-embed"; nor does a name that states a condition of its element,
    "comments-enabled", "has-sidebar", "content-with-sidebar"."""
    if not rules.state_words.isdisjoint(name_words(name)):
        return None
    # A BEM modifier ("--copy" in "share-bar__btn--copy") is a variant of what the name
    # before it names.
    core = list(name_words(name.split("--", 1)[0] or name))
    while len(core) > 1 and core[-1] in rules.part_words:
        core.pop()
    vocabulary = rules.hard_tokens | rules.soft_tokens
    # The longest run of words at the end that is a rule word: "most-popular" is "mostpopular".
    for i in range(len(core)):
        head = "".join(core[i:])
        if head in vocabulary:
            found = frozenset({head, *(w for w in core if w in vocabulary)})
            return Named(hard=not found.isdisjoint(rules.hard_tokens), words=found)
    return None


@lru_cache(maxsize=8192)
def names_of(classes: str, ident: str,
             rules: Rules) -> tuple[tuple[Named, ...], Named | None]:
    """What an element's class names and its id name; pages repeat the same class lists."""
    by_class = tuple(n for n in (named(c, rules) for c in classes.split()) if n)
    return by_class, named(ident.strip(), rules)


COMMENT_WORDS = frozenset({"comment", "comments", "disqus"})
# The end of a sentence: a full stop, question or exclamation mark before a space (or a
# closing quote, or the end), so that "4.5" or "e.g.x" do not end one.
SENTENCE_END = re.compile(r"[.!?](?=[\"”’)]*(?:\s|$))")
SENTENCE_CHARS = 40


def holds_sentence(el: lxml_html.HtmlElement, length: int) -> bool:
    """A sentence of story text in the element: 40+ characters closed by a full stop,
    outside links. A soft name (widget, nav, follow, caption, ...) is too weak to outweigh
    it. Split, not searched with a pattern like `\\w[^.]{40,}[.]`, which backtracks over
    every start position of a long text without a full stop (a menu, a run of emoji)."""
    if link_density(el, length) >= 0.3:
        return False
    closed = SENTENCE_END.split(text_of(el))[:-1]
    return any(len(part.strip()) >= SENTENCE_CHARS for part in closed)


def drop_named_widgets(body: lxml_html.HtmlElement, rules: Rules, story: Story) -> int:
    removed = 0
    for el in body.xpath(".//*[@class or @id]"):
        if el.tag in ("body", "article", "main", "html"):
            continue
        by_class, by_id = names_of(el.get("class", ""), el.get("id", ""), rules)
        if not by_class and by_id is None:
            continue
        if not attached(el, body):
            continue
        found = [*by_class, *([by_id] if by_id else [])]
        hard = any(n.hard for n in found)
        comments = any(not n.words.isdisjoint(COMMENT_WORDS) for n in found)
        if class_tokens(el) & rules.story_tokens and not comments and prose_blocks(el, 1):
            continue  # "article-body pagination", "content-with-sidebar": the story's box
        # Class lists collect state and layout names that say nothing of what the element
        # holds: the box with most of the page's prose is the story whatever its classes
        # say. An id names one element on purpose ("comments" holding long comments goes).
        if by_id is None and story.held_by(el):
            continue
        if not hard:
            # Soft names (social, caption, widget, ...) also wrap embeds, whole posts and,
            # in the story, page builders' blocks of one short paragraph
            # ("elementor-widget-container"): only a short or link-heavy one is chrome, and
            # in the story's box only if it holds no sentence of prose either.
            length = len(text_of(el))
            if length > 200 and link_density(el, length) < 0.5 or prose_blocks(el, 1) \
                    or (story.inside(el) and holds_sentence(el, length)):
                continue
        elif not comments and prose_blocks(el) >= STORY_BLOCKS:
            continue
        drop(el)
        removed += 1
    return removed


def signature(el: lxml_html.HtmlElement) -> tuple[str, str]:
    return el.tag, " ".join(sorted((el.get("class") or "").split()))


def drop_card_grids(body: lxml_html.HtmlElement, story: Story) -> int:
    """Three or more same-shaped siblings, each a short headline link (+ excerpt)."""
    removed = 0
    for parent in list(body.iter("div", "ul", "ol", "section", "aside", "amp-carousel")):
        kids = [k for k in parent if isinstance(k.tag, str)]
        if len(kids) < 3 or not attached(parent, body):
            continue
        shapes = {signature(k) for k in kids}
        if len(shapes) != 1 or kids[0].tag in ("p", "br", "span", "a", "img"):
            continue
        if all(is_card(k) for k in kids) and not story.held_by(parent):
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

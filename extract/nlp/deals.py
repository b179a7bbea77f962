"""Deals: acquisitions, contract manufacturing, joint ventures and production licences.

Rules are named data (`patterns/deals.json`): a trigger regex per rule and which company
fills which side. The side before a trigger is read from the dependency parse when it can
be (the subject of the trigger's verb, which survives relative clauses and appositions),
else it is the nearest company before the trigger. Status comes from hedges and verbs
around the trigger, the year from the nearest four-digit year in the sentence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from spacy.language import Language
from spacy.tokens import Doc, Span

from extract.nlp.companies import Mention, main_company, subject_of
from extract.nlp.extensions import COMPANIES, DEAL_RULES, DEALS, TITLE_COMPANIES, doc_attr
from extract.nlp.rules import REGEX_ENTRY, Entry, Field, RuleFiles, RuleText, Schema, load
from extract.nlp.sides import (
    SUBJECTS,
    SidePatterns,
    Spans,
    blocked,
    child_of,
    coordinated,
    fill_slots,
    followed_by,
    in_order,
    joined,
    negated,
    partner_list,
    partners,
    possessive_after,
    starts_at,
)
from extract.records import Deal

RULES = "deals.json"
Made = tuple[str, Deal]  # (the name of the rule that made a deal, the deal)
YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
STATUS_BEFORE, STATUS_AFTER = 100, 100

DEAL_TYPES = frozenset({"acquisition", "contract_manufacturing", "joint_venture", "license"})
SLOTS = frozenset({"before", "before2", "after", "after2", "inside", "inside_or_after"})
DEAL: Schema = {
    "acquirer": Field("text", required=True),
    "target": Field("text", required=True),
    "deal_type": Field("text", required=True, choices=DEAL_TYPES),
}
EXAMPLE: Schema = {
    "text": Field("text", required=True),
    "deals": Field("objects", required=True, schema=DEAL, item="deal"),
}
RULE: Schema = {
    "name": Field("text", required=True),
    "deal_type": Field("text", required=True, choices=DEAL_TYPES),
    "regex": Field("regex", required=True),
    "roles": Field("map", required=True, keys=SLOTS,
                   choices=frozenset({"acquirer", "target"})),
    **{key: Field("regex") for key in ("requires", "gap", "veto", "topic_ok", "after_then",
                                         "after_not", "pair_gap")},
    **{key: Field("flag") for key in ("inner_ok", "adjacent", "once", "continues",
                                        "child_after", "needs_inside", "possessive",
                                        "after_anaphor", "held")},
    "or_target_kind": Field("text"),
    "examples": Field("objects", required=True, schema=EXAMPLE, item="example"),
    "counter_examples": Field("texts", required=True),
}
STATUS: Schema = {
    "status": Field("text", required=True,
                    choices=frozenset({"dissolved", "rumored", "agreed", "planned"})),
    "regex": Field("regex", required=True),
}
# The patterns of the file that are no rule: the words around a trigger.
NAMED = ("anaphor", "denial", "clause_break", "definite", "relative", "dates_back",
         "refers_back", "pair_anaphor")
SIDE_NAMED = ("apposed_venture", "coordination", "possessed", "apposed_role")
FILE: Schema = {
    "rules": Field("objects", required=True, schema=RULE, item="rule", name_key="name"),
    "status": Field("objects", required=True, schema=STATUS, item="status",
                    name_key="status"),
    "patterns": Field("object", required=True, schema={
        name: Field("object", required=True, schema=REGEX_ENTRY, item="pattern")
        for name in (*NAMED, *SIDE_NAMED)}),
}


@dataclass(frozen=True)
class Example:
    """A sentence a rule must read, with the deals it must give: (acquirer, target, type)."""

    text: str
    deals: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class Rule:
    name: str
    deal_type: str
    regex: re.Pattern[str]
    roles: dict[str, str]
    requires: re.Pattern[str] | None
    gap: re.Pattern[str] | None
    inner_ok: bool
    adjacent: bool
    maker_kind: str  # the rule's `requires` is waived when the target is of this kind
    once: bool  # skip when the sentence already gave a deal of this type
    continues: bool  # the sentence's previous deal gives this one its acquirer
    child_after: bool  # the company after is the child of one of the sides
    needs_inside: bool  # only with a company inside the trigger
    possessive: bool  # the company after is followed by 's
    veto: re.Pattern[str] | None  # a trigger whose text matches this is no trigger
    after_anaphor: bool  # "builds it for the startup": the startup is another company
    topic_ok: re.Pattern[str] | None  # with this in the sentence, the topic may fill "before"
    after_then: re.Pattern[str] | None  # what must follow the company after the trigger
    after_not: re.Pattern[str] | None  # what must not follow it
    pair_gap: re.Pattern[str] | None  # what joins the companies after and after2 ("X and Y")
    held: bool  # a holding named in passing: `completed` unless its words end it or hedge
    examples: tuple[Example, ...] = ()  # for the tests, never for matching
    counter_examples: tuple[str, ...] = ()  # sentences that must not give this rule's deal


@dataclass(frozen=True)
class DealRules:
    rules: tuple[Rule, ...]
    status: tuple[tuple[str, re.Pattern[str]], ...]
    anaphor: re.Pattern[str]  # "it", "the company": a company named before
    denial: re.Pattern[str]  # "denied reports that ...": no deal
    clause_break: re.Pattern[str]  # where the words that give a trigger its status end
    definite: re.Pattern[str]  # "the startup": the company the article is about
    relative: re.Pattern[str]  # "a venture that will sell ...": another clause's status
    dates_back: re.Pattern[str]  # "The purchase was announced in ...": dates the deal before
    refers_back: re.Pattern[str]  # "Under the agreement, ...": part of the deal before
    pair_anaphor: re.Pattern[str]  # "the venture the two set up": both partners named before
    sides: SidePatterns


def parse_rules(source: RuleText) -> DealRules:
    data = load(source, FILE)
    patterns = data.entry("patterns")
    named = {name: patterns.entry(name).pattern("regex") for name in NAMED}
    sides = SidePatterns(**{name: patterns.entry(name).pattern("regex")
                            for name in SIDE_NAMED})
    status = tuple((s.text("status"), s.pattern("regex")) for s in data.entries("status"))
    return DealRules(tuple(rule_of(r) for r in data.entries("rules")), status, sides=sides,
                     **named)


def rule_of(entry: Entry) -> Rule:
    flag, regex = entry.flag, entry.regex
    examples = tuple(
        Example(e.text("text"), tuple((d.text("acquirer"), d.text("target"), d.text("deal_type"))
                                      for d in e.entries("deals")))
        for e in entry.entries("examples"))
    return Rule(
        entry.text("name"), entry.text("deal_type"), entry.pattern("regex"),
        entry.mapping("roles"), regex("requires"), regex("gap"), flag("inner_ok"),
        flag("adjacent"), entry.text("or_target_kind"), flag("once"), flag("continues"),
        flag("child_after"), flag("needs_inside"), flag("possessive"), regex("veto"),
        flag("after_anaphor"), regex("topic_ok"), regex("after_then"), regex("after_not"),
        regex("pair_gap"), flag("held"), examples, entry.texts("counter_examples"))


@Language.factory(
    "ev_deals_v1",
    default_config={},
    requires=[doc_attr(COMPANIES), doc_attr(TITLE_COMPANIES), "doc.sents", "token.dep",
              "token.head"],
    assigns=[doc_attr(DEALS), doc_attr(DEAL_RULES)],
)
def make_deal_finder(nlp: Language, name: str) -> DealFinder:
    return DealFinder(name)


class DealFinder(RuleFiles[DealRules]):
    """Pipeline component: sets `doc._.ev_deals`, and `doc._.ev_deal_rules` (which rule
    made each deal). Needs `ev_companies` before it."""

    files = (RULES,)

    def compile(self, texts: Mapping[str, RuleText]) -> DealRules:
        return parse_rules(texts[RULES])

    def __call__(self, doc: Doc) -> Doc:
        mentions = doc._.ev_companies or []
        made: list[Made] = []
        topic: Antecedent | None = None
        main = self.main_antecedent(doc, mentions)
        sents = list(doc.sents)
        previous = Partners((), "")  # of the last sentence that named a company
        for i, sent in enumerate(sents):
            in_sent = [m for m in mentions if sent.start <= m.start < sent.end]
            # A sentence that names no company may still tell of "the two" named before.
            if in_sent or len(previous.companies) >= 2 \
                    and self.rules.pair_anaphor.search(sent.text):
                following = sents[i + 1].text if i + 1 < len(sents) else ""
                for rule, deal in find_deals(sent, in_sent, self.rules, topic, main,
                                             previous):
                    earlier = [d for _, d in made]
                    made.append((rule, dated(deal, sent.text, following, earlier,
                                             self.rules)))
            if not in_sent:
                continue
            previous = Partners.of(sent, in_sent)
            if topic and self.anaphoric_subject(sent, in_sent):
                continue  # "The German group ..." still speaks of the same company
            subject = subject_of(sent, in_sent)
            kind = next(m.kind for m in in_sent if m.company == subject)
            topic = Antecedent(subject, sent.text.strip(), kind)
        kept = dedupe(made)
        doc._.ev_deals = [deal for _, deal in kept]
        doc._.ev_deal_rules = kept
        return doc

    @staticmethod
    def main_antecedent(doc: Doc, mentions: list[Mention]) -> Antecedent | None:
        """The company the article is about, with the sentence that first names it."""
        company = main_company(mentions, doc._.ev_title_companies or ())
        first = next((m for m in mentions if m.company == company), None)
        if first is None:
            return None
        return Antecedent(first.company, doc[first.start].sent.text.strip(), first.kind)

    def anaphoric_subject(self, sent: Span, mentions: list[Mention]) -> bool:
        """Whether the sentence's subject is an "it" or "the group" with no company in it."""
        for token in sent:
            if token.dep_ in SUBJECTS and token.head.dep_ == "ROOT":
                lo, hi = token.left_edge.i, token.right_edge.i + 1
                if any(lo <= m.start < hi for m in mentions):
                    return False
                return bool(self.rules.anaphor.match(sent.doc[lo:hi].text))
        return False


@dataclass(frozen=True)
class Partners:
    """The companies a sentence names that could be "the two" of the next one (a company
    whose parent it names too is their venture), and the sentence."""

    companies: tuple[str, ...]
    sentence: str

    @staticmethod
    def of(sent: Span, mentions: list[Mention]) -> Partners:
        named = {m.company for m in mentions}
        return Partners(tuple(dict.fromkeys(m.company for m in mentions if not m.modifier
                                            and m.parent not in named)), sent.text.strip())


@dataclass(frozen=True)
class Antecedent:
    """The company an "it" or "the company" most likely stands for, and where it was named."""

    company: str
    sentence: str
    kind: str = ""


def dedupe(made: list[Made]) -> list[Made]:
    """The first of the deals with the same sides and type, with the rule that made it."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for rule, d in made:
        key = (d.acquirer, d.target, d.deal_type)
        if key not in seen:
            seen.add(key)
            out.append((rule, d))
    return out


@dataclass
class Sentence:
    """One sentence's companies and what stands in for "it", while its deals are read."""

    sent: Span
    text: str
    spans: Spans
    kinds: dict[str, str]
    topic: Antecedent | None
    main: Antecedent | None
    previous: Partners  # the companies of the sentence before, for "the two"


def find_deals(sent: Span, mentions: list[Mention], rules: DealRules,
               topic: Antecedent | None = None,
               main: Antecedent | None = None, previous: Partners | None = None
               ) -> list[Made]:
    """Every deal one sentence states, by the rules in order. `topic` stands in for "it",
    `main` (the company the article is about) for "the company", the companies of
    `previous` (the sentence before) for "the two" when this one names fewer than two."""
    doc, base = sent.doc, sent.start_char
    spans = [(doc[m.start].idx - base, doc[m.end - 1].idx + len(doc[m.end - 1]) - base, m)
             for m in mentions if not m.modifier]
    ctx = Sentence(sent, sent.text, spans, {m.company: m.kind for _, _, m in spans},
                   topic, main, previous or Partners((), ""))
    claimed: list[tuple[int, int]] = []
    found: list[tuple[int, str, Deal]] = []  # (trigger offset, rule name, deal)
    # Rules that continue an earlier deal go last, so that the deal they continue is known.
    for rule in sorted(rules.rules, key=lambda r: r.continues):
        if rule.once and any(d.deal_type == rule.deal_type for _, _, d in found):
            continue
        for match in rule.regex.finditer(ctx.text):
            start, end = match.start(), match.end()
            if any(start < c_end and c_start < end for c_start, c_end in claimed):
                continue
            inside = trigger_inside(rule, match, spans)
            if inside is None:
                continue
            sides, evidence = sides_of(ctx, rules, rule, start, end, inside, found)
            roles = {role: sides.get(slot) for slot, role in rule.roles.items()}
            acquirer, target = roles.get("acquirer"), roles.get("target")
            two = the_two(ctx, rules, start, end) if rule.deal_type == "joint_venture" else None
            if two:
                acquirer, target = two
                if not set(two) <= {m.company for _, _, m in spans} \
                        and ctx.previous.sentence not in evidence:
                    evidence = f"{ctx.previous.sentence} {evidence}"
            # A rule that reads both partners as a pair ("a venture of X and Y") keeps them
            # even when one owns the other.
            elif rule.deal_type == "joint_venture" and not rule.pair_gap:
                acquirer, target = partners(acquirer, target, spans, ctx.text, start,
                                            topic.company if topic else None, rules.sides)
            if not acquirer or not target or acquirer == target:
                continue
            # "The two" fill both sides: of what the rule asks of them, only the sentence's
            # words are left to check.
            holds = not rule.requires or bool(rule.requires.search(ctx.text)) if two \
                else rule_holds(ctx, rule, sides, target, end, {acquirer, target})
            if not holds:
                continue
            claimed.append((start, end))
            if rules.denial.search(ctx.text[:start]):
                continue
            # "X did not buy Y" is no deal, but "they called off the merger and X will not
            # take over Y" tells a deal that ended.
            if negated(sent, start) and status_of(ctx.text, start, end, rules, governors(
                    sent, start, end)) != "dissolved":
                continue
            found.extend((start, rule.name, deal) for deal in deals_of(
                ctx, rules, rule, sides, acquirer, target, start, end, evidence,
                ordered=bool(two)))
    return [(name, d) for _, name, d in sorted(found, key=lambda x: x[0])]


def the_two(ctx: Sentence, rules: DealRules, start: int, end: int) -> tuple[str, str] | None:
    """A venture's partners when the sentence calls them "the two" or "the pair" near the
    trigger: the first and the last company before the trigger ("Volvo Cars ... buy out
    Northvolt's stake in Novo Energy, the venture the two set up"), leaving out the venture;
    else, when none stands before it, the first two of the sentence before. In the order
    the text first names them."""
    text = ctx.text
    if not rules.pair_anaphor.search(text, max(0, start - 40), min(len(text), end + 40)):
        return None
    before = [(s, m) for s, e, m in sorted(ctx.spans, key=lambda x: x[0]) if e <= start
              and not rules.sides.apposed_venture.match(text, e)]
    names = list(dict.fromkeys(m.company for _, m in before))
    # A later company owned by one named is the venture ("GAC ... renamed Hycan").
    parents = {m.company: m.parent for _, m in before}
    names = names[:1] + [c for c in names[1:] if parents.get(c) not in names]
    if len(names) >= 2:
        return names[0], names[-1]
    if not names and len(ctx.previous.companies) >= 2:
        return ctx.previous.companies[0], ctx.previous.companies[1]
    return None


def trigger_inside(rule: Rule, match: re.Match[str], spans: Spans) -> list[Mention] | None:
    """The companies inside a trigger, or None when the trigger cannot stand."""
    start, end = match.start(), match.end()
    if rule.veto and rule.veto.search(match.group()):
        return None
    inside = [m for s, e, m in spans if start <= s and e <= end]
    if any(s < end and start < e and not (start <= s and e <= end) for s, e, _ in spans):
        return None  # a company name straddles the trigger's edge
    if (inside and not rule.inner_ok) or (rule.needs_inside and not inside):
        return None
    return inside


def sides_of(ctx: Sentence, rules: DealRules, rule: Rule, start: int, end: int,
             inside: list[Mention], found: list[tuple[int, str, Deal]]
             ) -> tuple[dict[str, str], str]:
    """The company in each slot of a trigger, and the evidence (with the sentence that
    names an "it", when one stands in)."""
    text, topic = ctx.text, ctx.topic
    sides = fill_slots(ctx.sent, ctx.spans, start, end, rules.sides)
    earlier = [d for at, _, d in sorted(found, key=lambda x: x[0]) if at < start]
    if rule.continues and earlier:
        sides["before"] = earlier[-1].acquirer
    if inside:
        sides["inside"] = sides["inside_or_after"] = inside[-1].company
    elif "after" in sides:
        sides["inside_or_after"] = sides["after"]
    evidence = text.strip()
    anaphor = rules.anaphor.search(text[:end])
    # "it" is the company just spoken of; "the startup", "the company" the one the
    # article is about.
    main = ctx.main
    referent = main if anaphor and main and rules.definite.match(anaphor.group()) \
        and main.company not in (sides.get("after"), sides.get("inside")) else topic
    if "before" not in sides and referent and (
            anaphor or (rule.topic_ok and rule.topic_ok.search(text))):
        sides["before"] = referent.company
        ctx.kinds.setdefault(referent.company, referent.kind)
        if referent.sentence != text.strip():
            evidence = f"{referent.sentence} {evidence}"
    if "after" not in sides and rule.after_anaphor and \
            rules.anaphor.match(text[end:].lstrip()):
        # "Haima, which builds the SUV for the startup": the other company named.
        other = [m.company for _, _, m in ctx.spans if m.company != sides.get("before")]
        if other:
            sides["after"] = other[0]
        elif topic:
            sides["after"] = topic.company
    return sides, evidence


def rule_holds(ctx: Sentence, rule: Rule, sides: dict[str, str], target: str, end: int,
               pair: set[str]) -> bool:
    """Whether the sentence meets what the rule asks beyond its trigger."""
    text, spans, after = ctx.text, ctx.spans, sides.get("after")
    if rule.requires and not rule.requires.search(text) and not (
            rule.maker_kind and ctx.kinds.get(target) == rule.maker_kind):
        return False
    if rule.gap and blocked(text, end, spans, after, rule.gap):
        return False
    if rule.adjacent and not starts_at(text, end, spans, after):
        return False
    if rule.possessive and not possessive_after(text, end, spans, after):
        return False
    if rule.after_then and not followed_by(text, end, spans, after, rule.after_then):
        return False
    if rule.after_not and followed_by(text, end, spans, after, rule.after_not):
        return False
    if rule.pair_gap and not joined(text, end, spans, after, sides.get("after2"),
                                    rule.pair_gap):
        return False
    return not (rule.child_after and not child_of(spans, end, after, pair))


def deals_of(ctx: Sentence, rules: DealRules, rule: Rule, sides: dict[str, str],
             acquirer: str, target: str, start: int, end: int, evidence: str,
             ordered: bool = False) -> list[Deal]:
    """The deal a trigger states, one per company when the sentence lists several.
    `ordered`: the partners are already in the order the text first names them."""
    text, spans = ctx.text, ctx.spans
    if rule.deal_type == "joint_venture" and not ordered:
        acquirer, target = in_order(text, spans, acquirer, target)
    status = status_of(text, start, end, rules, governors(ctx.sent, start, end))
    if rule.held and status in ("agreed", "planned"):
        status = "completed"  # "Volvo and its owner Geely will ...": the stake is held now
    year = year_near(text, start, end)
    pairs = [(acquirer, target)]
    after_role = rule.roles.get("after")
    if after_role == "target" and target == sides.get("after"):
        pairs += [(acquirer, c) for c in coordinated(text, spans, end, target, rules.sides)]
    elif rule.deal_type == "joint_venture" and \
            len(listed := partner_list(text, spans, acquirer, target, rules.sides)) > 2:
        # "Stellantis, Mercedes-Benz and TotalEnergies founded ACC": the first partner with
        # each of the others.
        pairs = [(listed[0], c) for c in listed[1:]]
    elif after_role == "acquirer" and acquirer == sides.get("after"):
        # "the contract manufacturer behind the G-Class, the Z4 and the Supra"
        pairs += [(c, target) for c in coordinated(text, spans, end, acquirer, rules.sides)]
    return [Deal(acquirer=one, target=other, deal_type=rule.deal_type, status=status,
                 year=year, evidence=evidence) for one, other in pairs if one != other]


def governors(sent: Span, start: int, end: int) -> str:
    """The verbs that govern a trigger: "the joint venture ... was dissolved"."""
    lo, hi = sent.start_char + start, sent.start_char + end
    inside = [t for t in sent if lo <= t.idx < hi]
    words: list[str] = []
    for token in inside[-1:]:
        for ancestor in list(token.ancestors)[:2]:
            if not lo <= ancestor.idx < hi:
                words.extend(t.text for t in ancestor.children if t.dep_ in ("aux", "auxpass"))
                words.append(ancestor.text)
    return " ".join(words)


def status_of(text: str, start: int, end: int, rules: DealRules, governing: str = "") -> str:
    """The status the words of the trigger's own clause, and its governing verbs, give it."""
    lo = max(0, start - STATUS_BEFORE)
    for m in rules.clause_break.finditer(text, lo, start):
        lo = m.end()
    hi_match = rules.clause_break.search(text, end, end + STATUS_AFTER)
    relative = rules.relative.search(text, end, end + STATUS_AFTER)
    if relative and (hi_match is None or relative.start() < hi_match.start()):
        hi_match = relative
    window = text[lo:hi_match.start() if hi_match else end + STATUS_AFTER] + " " + governing
    for status, regex in rules.status:
        if regex.search(window):
            return status
    return "completed"


def dated(deal: Deal, sentence: str, following: str, earlier: list[Deal],
          rules: DealRules) -> Deal:
    """A deal whose own sentence gives no year takes one from the sentence after it when
    that one speaks of the deal ("The purchase was announced on ..."), or from the deal
    before it when its sentence says it is part of that one ("Under the agreement ...
    will also ..."), with that deal's status when it was agreed and this one only planned.
    The evidence then shows the sentence the year comes from."""
    if deal.year is not None:
        return deal
    if rules.dates_back.match(following) and (year := year_near(following, 0, 0)):
        return replace(deal, year=year, evidence=f"{deal.evidence} {following.strip()}")
    before = next((d for d in reversed(earlier) if d.year is not None), None)
    if before is not None and rules.refers_back.search(sentence):
        status = "agreed" if (before.status, deal.status) == ("agreed", "planned") \
            else deal.status
        evidence = deal.evidence if str(before.year) in deal.evidence \
            else f"{before.evidence} {deal.evidence}"
        return replace(deal, year=before.year, status=status, evidence=evidence)
    return deal


def year_near(text: str, start: int, end: int) -> int | None:
    years = [(min(abs(m.start() - end), abs(m.end() - start)), int(m.group()))
             for m in YEAR.finditer(text)]
    return min(years)[1] if years else None

"""Which company fills which side of a deal trigger: the text and the parse around it.

`fill_slots` finds the companies before and after a trigger (the subject of its verb first),
and the helpers check what a rule asks of them: adjacency, a possessive, what follows,
lists of companies, and which two of a sentence's companies are a venture's partners.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.tokens import Span, Token

from extract.nlp.companies import Mention

Spans = list[tuple[int, int, Mention]]  # (start, end, mention), offsets in the sentence


@dataclass(frozen=True)
class SidePatterns:
    """The words (from `deals.json`) that tell which company is on which side."""

    apposed_venture: re.Pattern[str]  # "Spotlight Automotive, the joint venture between ..."
    coordination: re.Pattern[str]  # "SAIC and FAW", "SAIC, FAW": a list of companies
    # "Fiat Chrysler's Jeep brand", "Changan's 50 percent stake in Jiangling": the side is
    # the company owned, not its owner.
    possessed: re.Pattern[str]
    # "Geely, Polestar's largest shareholder, owns ...": Polestar only names Geely's role.
    apposed_role: re.Pattern[str]


CLIMB = {"conj", "xcomp", "advcl", "ccomp", "acl", "dobj", "pobj", "prep", "relcl"}
SUBJECTS = {"nsubj", "nsubjpass", "csubj"}


def partners(acquirer: str | None, target: str | None, spans: Spans, text: str, start: int,
             topic: str | None, patterns: SidePatterns) -> tuple[str | None, str | None]:
    """The two partners of a joint venture, leaving out the venture itself: a company whose
    parent is named too ("BMW and Great Wall formed Spotlight Automotive"). When the rule's
    sides miss one, the first two other companies of the sentence stand in."""
    named = {m.company for _, _, m in spans} | ({topic} if topic else set())
    venture = {m.company for s, e, m in spans if m.parent and m.parent in named
               and (s >= start or patterns.apposed_venture.match(text, e))}
    if acquirer and target and not {acquirer, target} & venture and acquirer != target:
        return acquirer, target
    pair = list(dict.fromkeys(m.company for _, _, m in sorted(spans, key=lambda x: x[0])
                              if m.company not in venture))
    if len(pair) == 1 and topic and topic not in pair and topic not in venture:
        pair.insert(0, topic)  # "In 2020 it formed Foxtron, a joint venture with Yulon"
    return (pair[0], pair[1]) if len(pair) >= 2 else (None, None)


def in_order(text: str, spans: Spans, a: str,
             b: str) -> tuple[str, str]:
    """Two partners in the order the sentence first names them."""
    first: dict[str, int] = {}
    for s, _, m in sorted(spans, key=lambda x: x[0]):
        first.setdefault(m.company, s)
    return (a, b) if first.get(a, 0) <= first.get(b, 0) else (b, a)


def coordinated(text: str, spans: Spans, end: int, first: str,
                patterns: SidePatterns) -> list[str]:
    """The companies listed after `first`: "joint ventures with SAIC and FAW"."""
    following = sorted((sp for sp in spans if sp[0] >= end), key=lambda x: x[0])
    names = [m.company for _, _, m in following]
    if first not in names:
        return []
    i = names.index(first)
    more, joined = [], False
    for (_, e, _), (s, e2, m) in zip(following[i:], following[i + 1:], strict=False):
        joiner = patterns.coordination.fullmatch(text[e:s])
        if not joiner or text[e2:e2 + 2] in ("'s", "’s"):
            break  # "Yinwang, Huawei's unit" is an apposition, not a list
        more.append(m.company)
        joined = joined or not joiner.group().strip().startswith(",") or "and" in joiner.group()
    # A list ends in "and": "A, B and C"; commas alone are appositions.
    return [c for c in more if c != first] if joined else []


def partner_list(text: str, spans: Spans, one: str, other: str,
                 patterns: SidePatterns) -> list[str]:
    """The list of companies that names both partners, in order ("Stellantis, Mercedes-Benz
    and TotalEnergies"), or [] when the sentence lists them in none."""
    for start, _, m in sorted(spans, key=lambda x: x[0]):
        names = [m.company, *coordinated(text, spans, start, m.company, patterns)]
        if one in names and other in names:
            return names
    return []


def joined(text: str, end: int, spans: Spans, first: str | None, second: str | None,
           pattern: re.Pattern[str]) -> bool:
    """Whether the words between `first` (the company after a trigger) and `second` (the
    next one) match `pattern`: "between X and Y"."""
    one = position_after(end, spans, first)
    two = position_after(one[1], spans, second) if one else None
    return one is not None and two is not None and bool(pattern.fullmatch(text[one[1]:two[0]]))


def position_after(end: int, spans: Spans,
                   company: str | None) -> tuple[int, int, Mention] | None:
    return next((span for span in sorted(spans, key=lambda x: x[0])
                 if span[0] >= end and span[2].company == company), None)


def followed_by(text: str, end: int, spans: Spans,
                company: str | None, pattern: re.Pattern[str]) -> bool:
    span = position_after(end, spans, company)
    return span is not None and bool(pattern.match(text, span[1]))


def possessive_after(text: str, end: int, spans: Spans,
                     company: str | None) -> bool:
    span = position_after(end, spans, company)
    return span is not None and text[span[1]:span[1] + 2] in ("'s", "’s")


def child_of(spans: Spans, end: int, company: str | None,
             parents: set[str]) -> bool:
    span = position_after(end, spans, company)
    return span is not None and span[2].parent in parents


def starts_at(text: str, end: int, spans: Spans,
              after: str | None) -> bool:
    start = next((s for s, _, m in sorted(spans, key=lambda x: x[0])
                  if s >= end and m.company == after), None)
    return start is not None and not text[end:start].strip()


def blocked(text: str, end: int, spans: Spans, after: str | None,
            gap: re.Pattern[str]) -> bool:
    """Whether the words between a trigger and the company after it break the link."""
    start = next((s for s, _, m in sorted(spans, key=lambda x: x[0])
                  if s >= end and m.company == after), None)
    return start is not None and bool(gap.search(text[end:start]))


def fill_slots(sent: Span, spans: Spans, start: int, end: int,
               patterns: SidePatterns) -> dict[str, str]:
    text = sent.text
    """The companies on each side of a trigger: before, before2, after, after2."""
    before: list[str] = []
    nearest = sorted((s for s in spans if s[1] <= start), key=lambda s: -s[1])
    roles = [m for _, e, m in nearest if patterns.apposed_role.match(text, e)]
    subject = subject_company(sent, spans, start)
    if subject in {m.company for m in roles}:
        subject = None  # the parse takes "Polestar's largest shareholder" for the subject
    if subject:
        before.append(subject)
        # "JSW and MG Motor, which SAIC owns, launched their venture": the subject's partner
        # is the company listed with it, not the nearest one.
        at = next((s for s, e, m in spans if m.company == subject and e <= start), None)
        listed = coordinated(text, [sp for sp in spans if sp[1] <= start], at, subject,
                             patterns) if at is not None else []
        before.extend(listed[:1])
    for m in [m for _, _, m in nearest if m not in roles] + roles:
        if m.company not in before:
            before.append(m.company)
    after: list[str] = []
    following = sorted((s for s in spans if s[0] >= end), key=lambda s: s[0])
    for i, (_, e, m) in enumerate(following):
        # "buying Fiat Chrysler's Jeep brand": the side is the possessed company.
        if i + 1 < len(following) and not after and \
                patterns.possessed.fullmatch(text[e:following[i + 1][0]]):
            continue
        if m.company not in after and m.company not in before[:1]:
            after.append(m.company)
    sides = {}
    for slot, names in (("before", before), ("after", after)):
        if names:
            sides[slot] = names[0]
        if len(names) > 1:
            sides[slot + "2"] = names[1]
    return sides


def trigger_verb(sent: Span, start: int) -> Token | None:
    """The verb a trigger belongs to (the trigger's own token when it is the verb)."""
    char = sent.start_char + start
    token = next((t for t in sent if t.idx >= char), None)
    if token is None:
        return None
    verb = token.head if token.dep_ in ("aux", "auxpass") else token
    for _ in range(3):  # from a noun trigger ("joint venture") up to its verb
        if verb.pos_ in ("VERB", "AUX") or verb.head is verb:
            break
        verb = verb.head
    return verb


def negated(sent: Span, start: int) -> bool:
    """Whether the parse marks the trigger's verb as negated ("did not buy")."""
    verb = trigger_verb(sent, start)
    return verb is not None and any(c.dep_ == "neg" for c in verb.children)


def subject_company(sent: Span, spans: Spans,
                    start: int) -> str | None:
    """The company in the subject of the verb the trigger starts at, if the parse says so."""
    verb = trigger_verb(sent, start)
    for _ in range(4):  # up through "X did this and acquired Y", "X signed a deal to buy Y"
        if verb is None:
            return None
        subjects = [c for c in verb.children if c.dep_ in SUBJECTS]
        for subj in subjects:
            lo, hi = subj.left_edge.idx, subj.right_edge.idx + len(subj.right_edge)
            # Only a company before the trigger: "its venture with GAC" has GAC in the
            # subject's subtree, but as the partner, not the subject.
            inside = [m for s, e, m in spans
                      if lo <= sent.start_char + s and sent.start_char + e <= hi and e <= start]
            head = [m for m in inside if m.start <= subj.i < m.end]
            if head or inside:
                return (head or inside)[0].company
        if subjects and all(subj.pos_ == "PRON" for subj in subjects) \
                and verb.dep_ in ("ccomp", "conj", "advcl"):
            # "Avatr said that it has agreed to buy ...": "it" is the reporter.
            verb = verb.head
            continue
        if subjects or verb.dep_ not in CLIMB:
            return None
        verb = verb.head
        while verb.pos_ not in ("VERB", "AUX") and verb.dep_ in CLIMB and verb.head is not verb:
            verb = verb.head  # from "a deal to buy" up to "signed"
    return None

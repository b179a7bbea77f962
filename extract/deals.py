"""Deals: acquisitions, contract manufacturing, joint ventures and production licences.

Rules are named data (`patterns/deals.json`): a trigger regex per rule and which company
fills which side. The side before a trigger is read from the dependency parse when it can
be (the subject of the trigger's verb, which survives relative clauses and appositions),
else it is the nearest company before the trigger. Status comes from hedges and verbs
around the trigger, the year from the nearest four-digit year in the sentence.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from extract.companies import Mention, is_modifier, main_company, subject_of
from extract.records import Deal

PATTERNS = Path(__file__).with_name("patterns") / "deals.json"
YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
STATUS_BEFORE, STATUS_AFTER = 100, 100
CLAUSE_BREAK = re.compile(
    r"[;:]|,\s+(?:now that|while|but|although|though|after|because|since|which|who|so|"
    r"whereas|even as|even though|said|says|told|according)\b|\b(?:but|while|whereas)\b",
    re.I)
# "Fiat Chrysler's Jeep brand", "Changan's 50 percent stake in Jiangling": the side is the
# company owned, not its owner.
POSSESSED = re.compile(r"['’]s\s+(?:\S+\s+)?|['’]s\s+(?:[\w.%-]+\s+){0,4}?"
                       r"(?:stake|holding|shares|interest|shareholding)\s+in\s+", re.I)
# "Spotlight Automotive, the joint venture between ...": a venture named before the trigger.
APPOSED_VENTURE = re.compile(r"(?:\s+(?:Limited|Ltd\.?|Inc\.?|LLC|GmbH|AG|SE|Co\.,? Ltd\.?))?"
                             r",?\s+(?:the|a|an|their|its|[A-Z][\w-]*['’]s)\s+(?:[\w:-]+\s+){0,3}?"
                             r"(?:joint[- ])?venture", re.I)
DEFINITE = re.compile(r"the\s+(?:[\w-]+\s+)?(?:company|firm|start-?up|carmaker|automaker|maker|"
                      r"ev\s+maker|manufacturer|group|brand)\b", re.I)
COORDINATION = re.compile(r"\s*(?:,\s*(?:and\s+|as\s+well\s+as\s+)?|and\s+|&\s+)", re.I)
RELATIVE = re.compile(r"\b(?:that|which|who|where)\b", re.I)  # "a venture that will sell ..."
CLIMB = {"conj", "xcomp", "advcl", "ccomp", "acl", "dobj", "pobj", "prep", "relcl"}
SUBJECTS = {"nsubj", "nsubjpass", "csubj"}


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


@dataclass(frozen=True)
class DealRules:
    rules: tuple[Rule, ...]
    status: tuple[tuple[str, re.Pattern[str]], ...]
    denial: re.Pattern[str]
    anaphor: re.Pattern[str]


@cache
def load_rules(path: Path = PATTERNS) -> DealRules:
    data = json.loads(path.read_text(encoding="utf-8"))
    rules = tuple(
        Rule(r["name"], r.get("deal_type_override", r["deal_type"]),
             re.compile(r["regex"], re.I), r["roles"],
             re.compile(r["requires"], re.I) if r.get("requires") else None,
             re.compile(r["gap"], re.I) if r.get("gap") else None,
             r.get("inner_ok", False), r.get("adjacent", False),
             r.get("or_target_kind", ""), r.get("once", False), r.get("continues", False),
             r.get("child_after", False), r.get("needs_inside", False),
             r.get("possessive", False),
             re.compile(r["veto"], re.I) if r.get("veto") else None,
             r.get("after_anaphor", False),
             re.compile(r["topic_ok"], re.I) if r.get("topic_ok") else None,
             re.compile(r["after_then"], re.I) if r.get("after_then") else None,
             re.compile(r["after_not"], re.I) if r.get("after_not") else None)
        for r in data["rules"])
    status = tuple((s["status"], re.compile(s["regex"], re.I)) for s in data["status"])
    return DealRules(rules, status, re.compile(data["denial"], re.I),
                     re.compile(data["anaphor"], re.I))


if not Doc.has_extension("ev_deals"):
    Doc.set_extension("ev_deals", default=None)


@Language.factory("ev_deals", default_config={})
def make_deal_finder(nlp: Language, name: str) -> DealFinder:
    return DealFinder()


class DealFinder:
    """Pipeline component: sets `doc._.ev_deals`. Needs `ev_companies` before it."""

    def __init__(self) -> None:
        self.rules = load_rules()

    def __call__(self, doc: Doc) -> Doc:
        mentions = doc._.ev_companies or []
        deals: list[Deal] = []
        topic: Antecedent | None = None
        main = self.main_antecedent(doc, mentions)
        for sent in doc.sents:
            in_sent = [m for m in mentions if sent.start <= m.start < sent.end]
            if in_sent:
                deals.extend(find_deals(sent, in_sent, self.rules, topic, main))
                if topic and self.anaphoric_subject(sent, in_sent):
                    continue  # "The German group ..." still speaks of the same company
                subject = subject_of(sent, in_sent)
                kind = next(m.kind for m in in_sent if m.company == subject)
                topic = Antecedent(subject, sent.text.strip(), kind)
        doc._.ev_deals = dedupe(deals)
        return doc

    @staticmethod
    def main_antecedent(doc: Doc, mentions: list[Mention]) -> Antecedent | None:
        """The company the article is about, with the sentence that first names it."""
        company = main_company(mentions, doc.user_data.get("title_companies", ()))
        first = next((m for m in mentions if m.company == company), None)
        if first is None:
            return None
        return Antecedent(company, doc[first.start].sent.text.strip(), first.kind)

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
class Antecedent:
    """The company an "it" or "the company" most likely stands for, and where it was named."""

    company: str
    sentence: str
    kind: str = ""


def dedupe(deals: list[Deal]) -> list[Deal]:
    seen, out = set(), []
    for d in deals:
        key = (d.acquirer, d.target, d.deal_type)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def find_deals(sent: Span, mentions: list[Mention], rules: DealRules,
               topic: Antecedent | None = None,
               main: Antecedent | None = None) -> list[Deal]:
    """Every deal one sentence states, by the rules in order. `topic` stands in for "it"."""
    text, base = sent.text, sent.start_char
    doc = sent.doc
    spans = [(doc[m.start].idx - base, doc[m.end - 1].idx + len(doc[m.end - 1]) - base, m)
             for m in mentions if not is_modifier(doc, m)]
    claimed: list[tuple[int, int]] = []
    found: list[tuple[int, Deal]] = []  # (trigger offset, deal)
    kinds = {m.company: m.kind for _, _, m in spans}
    # Rules that continue an earlier deal go last, so that the deal they continue is known.
    for rule in sorted(rules.rules, key=lambda r: r.continues):
        if rule.once and any(d.deal_type == rule.deal_type for _, d in found):
            continue
        for match in rule.regex.finditer(text):
            start, end = match.start(), match.end()
            if any(start < c_end and c_start < end for c_start, c_end in claimed):
                continue
            if rule.veto and rule.veto.search(match.group()):
                continue
            inside = [m for s, e, m in spans if start <= s and e <= end]
            if any(s < end and start < e and not (start <= s and e <= end) for s, e, _ in spans):
                continue  # a company name straddles the trigger's edge
            if (inside and not rule.inner_ok) or (rule.needs_inside and not inside):
                continue
            sides = fill_slots(sent, spans, start, end)
            earlier = [d for at, d in sorted(found, key=lambda x: x[0]) if at < start]
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
            referent = main if anaphor and main and DEFINITE.match(anaphor.group()) \
                and main.company not in (sides.get("after"), sides.get("inside")) else topic
            if "before" not in sides and referent and (
                    anaphor or (rule.topic_ok and rule.topic_ok.search(text))):
                sides["before"] = referent.company
                kinds.setdefault(referent.company, referent.kind)
                if referent.sentence != text.strip():
                    evidence = f"{referent.sentence} {evidence}"
            if "after" not in sides and rule.after_anaphor and \
                    rules.anaphor.match(text[end:].lstrip()):
                # "Haima, which builds the SUV for the startup": the other company named.
                other = [m.company for _, _, m in spans if m.company != sides.get("before")]
                if other or topic:
                    sides["after"] = other[0] if other else topic.company
            roles = {role: sides.get(slot) for slot, role in rule.roles.items()}
            acquirer, target = roles.get("acquirer"), roles.get("target")
            if rule.deal_type == "joint_venture":
                acquirer, target = partners(acquirer, target, spans, text, start,
                                            topic.company if topic else None)
            if not acquirer or not target or acquirer == target:
                continue
            if rule.requires and not rule.requires.search(text) and not (
                    rule.maker_kind and kinds.get(target) == rule.maker_kind):
                continue
            if rule.gap and blocked(text, end, spans, sides.get("after"), rule.gap):
                continue
            if rule.adjacent and not starts_at(text, end, spans, sides.get("after")):
                continue
            if rule.possessive and not possessive_after(text, end, spans, sides.get("after")):
                continue
            if rule.after_then and not followed_by(text, end, spans, sides.get("after"),
                                                   rule.after_then):
                continue
            if rule.after_not and followed_by(text, end, spans, sides.get("after"),
                                              rule.after_not):
                continue
            if rule.child_after and not child_of(spans, end, sides.get("after"),
                                                 {acquirer, target}):
                continue
            claimed.append((start, end))
            if rules.denial.search(text[:start]) or negated(sent, start):
                continue
            if rule.deal_type == "joint_venture":
                acquirer, target = in_order(text, spans, acquirer, target)
            status = status_of(text, start, end, rules, governors(sent, start, end))
            year = year_near(text, start, end)
            pairs = [(acquirer, target)]
            after_role = rule.roles.get("after")
            if after_role == "target" and target == sides.get("after"):
                pairs += [(acquirer, c) for c in coordinated(text, spans, end, target)]
            elif after_role == "acquirer" and acquirer == sides.get("after"):
                # "the contract manufacturer behind the G-Class, the Z4 and the Supra"
                pairs += [(c, target) for c in coordinated(text, spans, end, acquirer)]
            for one, other in pairs:
                if one != other:
                    found.append((start, Deal(acquirer=one, target=other,
                                              deal_type=rule.deal_type, status=status,
                                              year=year, evidence=evidence)))
    return [d for _, d in sorted(found, key=lambda x: x[0])]


def partners(acquirer: str | None, target: str | None, spans: list[tuple[int, int, Mention]],
             text: str, start: int, topic: str | None) -> tuple[str | None, str | None]:
    """The two partners of a joint venture, leaving out the venture itself: a company whose
    parent is named too ("BMW and Great Wall formed Spotlight Automotive"). When the rule's
    sides miss one, the first two other companies of the sentence stand in."""
    named = {m.company for _, _, m in spans} | ({topic} if topic else set())
    venture = {m.company for s, e, m in spans if m.parent and m.parent in named
               and (s >= start or APPOSED_VENTURE.match(text, e))}
    if acquirer and target and not {acquirer, target} & venture and acquirer != target:
        return acquirer, target
    pair = list(dict.fromkeys(m.company for _, _, m in sorted(spans, key=lambda x: x[0])
                              if m.company not in venture))
    if len(pair) == 1 and topic and topic not in pair and topic not in venture:
        pair.insert(0, topic)  # "In 2020 it formed Foxtron, a joint venture with Yulon"
    return (pair[0], pair[1]) if len(pair) >= 2 else (None, None)


def in_order(text: str, spans: list[tuple[int, int, Mention]], a: str,
             b: str) -> tuple[str, str]:
    """Two partners in the order the sentence first names them."""
    first = {}
    for s, _, m in sorted(spans, key=lambda x: x[0]):
        first.setdefault(m.company, s)
    return (a, b) if first.get(a, 0) <= first.get(b, 0) else (b, a)


def coordinated(text: str, spans: list[tuple[int, int, Mention]], end: int,
                first: str) -> list[str]:
    """The companies listed after `first`: "joint ventures with SAIC and FAW"."""
    following = sorted((sp for sp in spans if sp[0] >= end), key=lambda x: x[0])
    names = [m.company for _, _, m in following]
    if first not in names:
        return []
    i = names.index(first)
    more, joined = [], False
    for (_, e, _), (s, e2, m) in zip(following[i:], following[i + 1:], strict=False):
        joiner = COORDINATION.fullmatch(text[e:s])
        if not joiner or text[e2:e2 + 2] in ("'s", "’s"):
            break  # "Yinwang, Huawei's unit" is an apposition, not a list
        more.append(m.company)
        joined = joined or not joiner.group().strip().startswith(",") or "and" in joiner.group()
    # A list ends in "and": "A, B and C"; commas alone are appositions.
    return [c for c in more if c != first] if joined else []


def position_after(end: int, spans: list[tuple[int, int, Mention]],
                   company: str | None) -> tuple[int, int, Mention] | None:
    return next((span for span in sorted(spans, key=lambda x: x[0])
                 if span[0] >= end and span[2].company == company), None)


def followed_by(text: str, end: int, spans: list[tuple[int, int, Mention]],
                company: str | None, pattern: re.Pattern[str]) -> bool:
    span = position_after(end, spans, company)
    return span is not None and bool(pattern.match(text, span[1]))


def possessive_after(text: str, end: int, spans: list[tuple[int, int, Mention]],
                     company: str | None) -> bool:
    span = position_after(end, spans, company)
    return span is not None and text[span[1]:span[1] + 2] in ("'s", "’s")


def child_of(spans: list[tuple[int, int, Mention]], end: int, company: str | None,
             parents: set[str | None]) -> bool:
    span = position_after(end, spans, company)
    return span is not None and span[2].parent in parents


def starts_at(text: str, end: int, spans: list[tuple[int, int, Mention]],
              after: str | None) -> bool:
    start = next((s for s, _, m in sorted(spans, key=lambda x: x[0])
                  if s >= end and m.company == after), None)
    return start is not None and not text[end:start].strip()


def blocked(text: str, end: int, spans: list[tuple[int, int, Mention]], after: str | None,
            gap: re.Pattern[str]) -> bool:
    """Whether the words between a trigger and the company after it break the link."""
    start = next((s for s, _, m in sorted(spans, key=lambda x: x[0])
                  if s >= end and m.company == after), None)
    return start is not None and bool(gap.search(text[end:start]))


def fill_slots(sent: Span, spans: list[tuple[int, int, Mention]], start: int,
               end: int) -> dict[str, str]:
    text = sent.text
    """The companies on each side of a trigger: before, before2, after, after2."""
    before: list[str] = []
    subject = subject_company(sent, spans, start)
    if subject:
        before.append(subject)
    for _, _, m in sorted((s for s in spans if s[1] <= start), key=lambda s: -s[1]):
        if m.company not in before:
            before.append(m.company)
    after: list[str] = []
    following = sorted((s for s in spans if s[0] >= end), key=lambda s: s[0])
    for i, (_, e, m) in enumerate(following):
        # "buying Fiat Chrysler's Jeep brand": the side is the possessed company.
        if i + 1 < len(following) and not after and \
                POSSESSED.fullmatch(text[e:following[i + 1][0]]):
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


def subject_company(sent: Span, spans: list[tuple[int, int, Mention]],
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


def governors(sent: Span, start: int, end: int) -> str:
    """The verbs that govern a trigger: "the joint venture ... was dissolved"."""
    lo, hi = sent.start_char + start, sent.start_char + end
    inside = [t for t in sent if lo <= t.idx < hi]
    words = []
    for token in inside[-1:]:
        for ancestor in list(token.ancestors)[:2]:
            if not lo <= ancestor.idx < hi:
                words.extend(t.text for t in ancestor.children if t.dep_ in ("aux", "auxpass"))
                words.append(ancestor.text)
    return " ".join(words)


def status_of(text: str, start: int, end: int, rules: DealRules, governing: str = "") -> str:
    """The status the words of the trigger's own clause, and its governing verbs, give it."""
    lo = max(0, start - STATUS_BEFORE)
    for m in CLAUSE_BREAK.finditer(text, lo, start):
        lo = m.end()
    hi_match = CLAUSE_BREAK.search(text, end, end + STATUS_AFTER)
    relative = RELATIVE.search(text, end, end + STATUS_AFTER)
    if relative and (hi_match is None or relative.start() < hi_match.start()):
        hi_match = relative
    window = text[lo:hi_match.start() if hi_match else end + STATUS_AFTER] + " " + governing
    for status, regex in rules.status:
        if regex.search(window):
            return status
    return "completed"


def year_near(text: str, start: int, end: int) -> int | None:
    years = [(min(abs(m.start() - end), abs(m.end() - start)), int(m.group()))
             for m in YEAR.finditer(text)]
    return min(years)[1] if years else None

"""Capacities: how many vehicles a year a plant, a phase or a company can build.

Every quantity in a sentence is a candidate (`numbers.quantities`); the rules in
`patterns/capacities.json` keep the ones written as capacity and drop sales, deliveries,
monthly output and milestones. The owner is the first company the sentence names, else
the company of the previous capacity (a second phase), else the company the article is
mostly about.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from extract.nlp.companies import Mention, grammatical_subject, main_company, subject_of
from extract.nlp.extensions import CAPACITIES, COMPANIES, TITLE_COMPANIES, doc_attr
from extract.nlp.numbers import quantities
from extract.nlp.rules import REGEX_ENTRY, Entry, Field, RuleFiles, RuleText, Schema, load
from extract.records import Capacity

RULES = "capacities.json"
YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
MIN_UNITS = 1_000  # below this a "capacity" is a workshop, or a misread number
MAX_UNITS = 10_000_000
# How far from a figure a "sold" or "a month" still speaks of it.
NEAR_BEFORE, NEAR_AFTER = 60, 30

CAPACITY: Schema = {
    "company": Field("text", required=True),
    "units": Field("integer", required=True),
    "kind": Field("text", choices=frozenset({"total", "added"})),
    "facility": Field("text"),
}
EXAMPLES: Schema = {
    "examples": Field("objects", required=True, item="example", schema={
        "text": Field("text", required=True),
        "capacities": Field("objects", required=True, schema=CAPACITY, item="capacity")}),
    # A counter-example gives none of its capacities; with none listed, no capacity at all.
    "counter_examples": Field("objects", required=True, item="counter-example", schema={
        "text": Field("text", required=True),
        "capacities": Field("objects", schema=CAPACITY, item="capacity")}),
}
REGEX_NAMED: Schema = {**REGEX_ENTRY, **EXAMPLES}
WORDS_NAMED: Schema = {"words": Field("texts", required=True), **EXAMPLES}


@dataclass(frozen=True)
class Expected:
    """A capacity an example must (or a counter-example must not) give."""

    company: str
    units: int
    kind: str = ""  # when given, the capacity's kind must be this
    facility: str | None = None  # when given, its facility must be this


@dataclass(frozen=True)
class Example:
    text: str
    capacities: tuple[Expected, ...]


@dataclass(frozen=True)
class Examples:
    """For the tests, never for matching: sentences that show what a named entry is for."""

    good: tuple[Example, ...]
    bad: tuple[Example, ...]


@dataclass(frozen=True)
class CapacityRules:
    unit: re.Pattern[str]
    lead: re.Pattern[str]
    cue: re.Pattern[str]
    phase: re.Pattern[str]
    unit_noun: re.Pattern[str]
    not_capacity: re.Pattern[str]
    total: re.Pattern[str]
    added: re.Pattern[str]
    clause_break: re.Pattern[str]
    facility: re.Pattern[str]
    per_year: re.Pattern[str]
    model_unit: re.Pattern[str]
    energy: re.Pattern[str]
    owner_possessive: re.Pattern[str]
    equivalent: re.Pattern[str]
    plant_anaphor: re.Pattern[str]  # "It can build ...": the plant named just before
    child_of: re.Pattern[str]  # "Vingroup's car unit said": the parent of who speaks
    relative_start: re.Pattern[str]  # a clause that qualifies, not one that states
    ordinal: re.Pattern[str]  # "the first (phase)", not "a second factory"
    its_plant: re.Pattern[str]  # "X ... at its Busan plant": X owns the plant
    says_capacity: re.Pattern[str]  # a clause that says "capacity" outweighs a sales word
    determiners: frozenset[str]  # words that are no part of a plant's name
    # "including Suzuki Motor Gujarat": a company named as an example owns no figure
    example_prepositions: frozenset[str]
    examples: dict[str, Examples]


WORD_LISTS = ("determiners", "example_prepositions")
REGEXES = tuple(name for name in CapacityRules.__dataclass_fields__
                if name not in (*WORD_LISTS, "examples"))
FILE: Schema = {"patterns": Field("object", required=True, schema={
    **{name: Field("object", required=True, schema=REGEX_NAMED, item="pattern")
       for name in REGEXES},
    **{name: Field("object", required=True, schema=WORDS_NAMED, item="words")
       for name in WORD_LISTS}})}


def parse_rules(source: RuleText) -> CapacityRules:
    patterns = load(source, FILE).entry("patterns")
    entries = {name: patterns.entry(name) for name in (*REGEXES, *WORD_LISTS)}
    fields: dict[str, Any] = {name: entries[name].pattern("regex") for name in REGEXES}
    fields |= {name: frozenset(entries[name].texts("words")) for name in WORD_LISTS}
    return CapacityRules(**fields, examples={
        name: examples_of(entry) for name, entry in entries.items()})


def examples_of(entry: Entry) -> Examples:
    def example(e: Entry) -> Example:
        return Example(e.text("text"), tuple(
            Expected(c.text("company"), c.integer("units"), c.text("kind"),
                     c.optional_text("facility")) for c in e.entries("capacities")))

    return Examples(tuple(map(example, entry.entries("examples"))),
                    tuple(map(example, entry.entries("counter_examples"))))


@Language.factory(
    "ev_capacities_v1",
    default_config={},
    requires=[doc_attr(COMPANIES), doc_attr(TITLE_COMPANIES), "doc.sents", "token.dep"],
    assigns=[doc_attr(CAPACITIES)],
)
def make_capacity_finder(nlp: Language, name: str) -> CapacityFinder:
    return CapacityFinder(name)


class CapacityFinder(RuleFiles[CapacityRules]):
    """Pipeline component: sets `doc._.ev_capacities`. Needs `ev_companies` before it."""

    files = (RULES,)

    def compile(self, texts: Mapping[str, RuleText]) -> CapacityRules:
        return parse_rules(texts[RULES])

    def __call__(self, doc: Doc) -> Doc:
        mentions: list[Mention] = doc._.ev_companies or []
        main = main_company(mentions, doc._.ev_title_companies or ())
        found: list[Capacity] = []
        sents = list(doc.sents)
        topic: str | None = None  # the subject company of the sentence before
        for i, sent in enumerate(sents):
            in_sent = [m for m in mentions if sent.start <= m.start < sent.end]
            previous = sents[i - 1].text if i else ""
            spans = clauses(sent.text, self.rules)
            for units, kind, year, facility, at in find_capacities(sent.text, self.rules,
                                                                   previous):
                owner = (owner_of(sent, in_sent, spans, at, self.rules)
                         or plant_owner(sents, i, mentions, self.rules) or topic or main)
                if owner is None:
                    continue
                evidence = sent.text.strip()
                if not any(m.company == owner for m in in_sent):
                    evidence = with_antecedent(sents, i, mentions, owner) + evidence
                found.append(Capacity(company=owner, facility=facility, units_per_year=units,
                                      kind=kind, year=year, evidence=evidence,
                                      location=location_of(sent, in_sent, at)))
            # Only a company the sentence has as its subject carries over, and only to the
            # next sentence ("BMW is building a plant in Debrecen. That plant will ...").
            topic = grammatical_subject(sent, in_sent) if in_sent else None
        doc._.ev_capacities = list(dict.fromkeys(found))
        return doc


def location_of(sent: Span, mentions: list[Mention], at: int) -> str:
    """The place (a GPE entity: city, province, country) the sentence names nearest the
    figure at offset `at`, outside company names ("BAIC Beijing" is a company); "" if none.
    It only labels a capacity already found: which capacities are found does not change."""
    taken = {i for m in mentions for i in range(m.start, m.end)}
    places = [(abs(e.start_char - sent.start_char - at), e.text) for e in sent.ents
              if e.label_ == "GPE" and not taken.intersection(range(e.start, e.end))]
    return min(places)[1] if places else ""


def with_antecedent(sents: list[Span], i: int, mentions: list[Mention], owner: str) -> str:
    """The nearest earlier sentence naming the owner, so the evidence shows the name."""
    for j in range(i - 1, -1, -1):
        s = sents[j]
        if any(s.start <= m.start < s.end and m.company == owner for m in mentions):
            return s.text.strip() + (" " if j == i - 1 else " [...] ")
    title = (sents[0].doc._.ev_title or "") if sents else ""
    return f"{title} [...] " if title else ""


def clauses(text: str, rules: CapacityRules) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for m in rules.clause_break.finditer(text):
        bounds.append((start, m.start()))
        start = m.end()
    bounds.append((start, len(text)))
    return bounds


def owner_of(sent: Span, mentions: list[Mention], spans: list[tuple[int, int]],
             at: int, rules: CapacityRules) -> str | None:
    """The company whose plant the sentence names ("X's plant"), else the first company of
    the figure's own clause, else the first of the sentence."""
    doc = sent.doc
    owners = {m.company for m in mentions
              if rules.owner_possessive.match(sent.text, doc[m.end - 1].idx + len(doc[m.end - 1])
                                              - sent.start_char)}
    if len(owners) == 1:
        return owners.pop()
    # A company inside a relative clause ("the plant that it runs with JAC") does not own
    # the plant the sentence is about, nor does one that only qualifies ("Geely-owned"),
    # the parent of the one speaking ("Vingroup's car unit said"), or one after the figure
    # that only follows a preposition ("... 500,000 a year, adding models from Kia").
    mentions = [m for m in mentions
                if not any(t.dep_ in ("relcl", "acl") for t in doc[m.start].ancestors)
                and not m.modifier
                and not rules.child_of.match(doc.text, doc[m.end - 1].idx + len(doc[m.end - 1]))
                and (doc[m.start].idx - sent.start_char < at
                     or not object_of_preposition(doc, m))
                and not object_of_preposition(doc, m, rules.example_prepositions)]
    lo, hi = next(((a, b) for a, b in spans if a <= at < b), (0, len(sent.text)))
    if rules.relative_start.match(sent.text, lo):
        # "X's plant, which it bought from Y, can build ...": the relative clause's
        # company is not the owner.
        lo, hi = 0, len(sent.text)
    in_clause = [m for m in mentions if lo <= doc[m.start].idx - sent.start_char < hi]
    if in_clause:
        return subject_of(sent, in_clause)
    return subject_of(sent, mentions) if mentions else None


def object_of_preposition(doc: Doc, mention: Mention,
                          only: frozenset[str] | None = None) -> bool:
    """'from Kia', 'from Kia and Genesis': the mention (or the list it is in) is the object
    of a preposition (of one of `only`, when given)."""
    token = doc[mention.end - 1]
    while token.dep_ == "conj":
        token = token.head
    return token.dep_ == "pobj" and (only is None or token.head.lower_ in only)


def plant_owner(sents: list[Span], i: int, mentions: list[Mention],
                rules: CapacityRules) -> str | None:
    """For a figure whose sentence names no company ("The Busan plant has ...", "It can
    produce ..."): the owner of the plant named there, or in the sentence before, as an
    earlier sentence gave it ("Renault Korea ... at its Busan plant")."""
    names = [m.group("place") for m in rules.facility.finditer(sents[i].text)
             if m.group("place")]
    if not names and i and rules.plant_anaphor.match(sents[i].text.strip()):
        names = [m.group("place") for m in rules.facility.finditer(sents[i - 1].text)
                 if m.group("place")]
    places = {w for name in names for w in name.split() if w not in rules.determiners}
    if not places:
        return None
    for j in range(i - 1, -1, -1):
        sent = sents[j]
        if not any(re.search(rf"\b{re.escape(p)}\b", sent.text) for p in places):
            continue
        in_sent = [m for m in mentions if sent.start <= m.start < sent.end]
        doc = sent.doc
        # Only an owner the sentence ties to the plant: "X's plant in Graz", "X's Busan
        # plant", or "X ... at its Busan plant" with X the subject.
        owners = {m.company for m in in_sent
                  if rules.owner_possessive.match(doc.text, doc[m.end - 1].idx
                                                  + len(doc[m.end - 1]))}
        if len(owners) == 1:
            return owners.pop()
        subject = grammatical_subject(sent, in_sent)
        if subject and rules.its_plant.search(sent.text):
            return subject
    return None


def find_capacities(text: str, rules: CapacityRules,
                    previous: str = "") -> list[tuple[int, str, int | None, str, int]]:
    """(units_per_year, kind, year, facility, offset) for every capacity a sentence states.

    `previous` is the sentence before: "The plant will be built in two phases. The first
    will ..." makes "the first" a phase.
    """
    found = []
    spans = clauses(text, rules)
    for start, end, units in quantities(text):
        if not MIN_UNITS <= units <= MAX_UNITS or is_year(text, start, end, units):
            continue
        c_start, c_end = next(((a, b) for a, b in spans if a <= start < b), (0, len(text)))
        clause = text[c_start:c_end]
        after, before = text[end:end + 60], text[max(c_start, start - 80):start]
        vehicles = bool(rules.unit.match(after))
        per_year = bool(rules.per_year.match(after))
        has_unit = vehicles or per_year or bool(rules.lead.search(before)) or bool(
            rules.model_unit.match(after) and rules.says_capacity.search(clause))
        if not has_unit or (rules.energy.search(clause) and not vehicles):
            continue
        if rules.equivalent.search(text, max(0, start - 60), start):
            continue
        # "Sold 300,000 vehicles" or "5,000 cars a week" speak of the figure; a verb that
        # follows "150,000 vehicles a year and will also export ..." does not.
        near = text[max(c_start, start - NEAR_BEFORE):start] if per_year else \
            text[max(c_start, start - NEAR_BEFORE):min(c_end, end + NEAR_AFTER)]
        if rules.not_capacity.search(near) and not rules.says_capacity.search(near):
            continue
        if not (rules.cue.search(text) or rules.phase.search(text)
                or rules.unit_noun.match(after)):
            continue
        # A "total" word counts only up to just after the figure: in "a first phase of
        # 100,000, rising to 200,000", "rising to" belongs to the second figure.
        kind = kind_of(clause[:end - c_start + 20], clause, text, previous, rules)
        facility = facility_of(text, start, rules) or phase_named(clause, text, previous, rules)
        found.append((units, kind, nearest_year(text, clause, c_start, start), facility,
                      start))
    return found


def kind_of(upto: str, clause: str, sentence: str, previous: str,
            rules: CapacityRules) -> str:
    """"added" for a phase or an expansion, "total" for a plant's or a company's capacity."""
    if rules.total.search(upto):
        return "total"
    if rules.added.search(clause):
        return "added"
    if rules.phase.search(previous + " " + sentence) and rules.ordinal.search(clause):
        return "added"
    return "total"


def is_year(text: str, start: int, end: int, units: int) -> bool:
    return 1950 <= units <= 2100 and text[start:end].isdigit()


def nearest_year(text: str, clause: str, offset: int, at: int) -> int | None:
    """The year nearest the figure in its own clause: another clause's year belongs to
    another fact ("opened in 2025 with 50,000, which it plans to raise to 150,000")."""
    years = [(abs(offset + m.start() - at), int(m.group())) for m in YEAR.finditer(clause)]
    return min(years)[1] if years else None


def phase_named(clause: str, sentence: str, previous: str, rules: CapacityRules) -> str:
    """"second phase" for "the second will add another 150,000" after "two phases"."""
    ordinal = rules.ordinal.search(clause)
    phase = rules.phase.search(previous + " " + sentence)
    if not ordinal or not phase or not re.match(r"(?:phase|stage)", phase.group(), re.I):
        return ""
    noun = "stage" if phase.group().lower().startswith("stage") else "phase"
    return f"{ordinal.group().lower()} {noun}"


def facility_of(text: str, at: int, rules: CapacityRules) -> str:
    best = None
    for m in rules.facility.finditer(text):
        distance = abs(m.start() - at)
        if best is None or distance < best[0]:
            best = (distance, m)
    if best is None:
        return ""
    m = best[1]
    if m.group("ordinal"):
        return f"{m.group('ordinal').lower()} {m.group('phase').lower()}"
    if m.group("phase2"):
        return f"{m.group('phase2').lower()} {m.group('num')}"
    place = " ".join(w for w in m.group("place").split() if w not in rules.determiners)
    return f"{place} {m.group('kind').lower()}" if place else ""

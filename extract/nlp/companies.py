"""Companies: a gazetteer of the EV industry, and a filter for the model's other ORGs.

The gazetteer (`patterns/companies.jsonl`) maps every alias to one canonical name; it is
matched case-insensitively, except the aliases listed as `exact` (words like "Smart" or
"Ora" that mean something else in lower case). Its matches override the trained model's
entities where they overlap. An ORG the gazetteer does not know is kept only when its name
or its neighbours say it is a carmaker, supplier or manufacturer, and dropped when it is a
news outlet, regulator, exchange or analyst (`patterns/non_companies.json`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from extract.nlp.extensions import COMPANIES, KNOWN, TITLE_COMPANIES, doc_attr
from extract.nlp.rules import (
    REGEX_ENTRY,
    Field,
    RuleFiles,
    RuleText,
    Schema,
    load,
    load_lines,
    read,
)

PATTERNS = Path(__file__).with_name("patterns")  # the packaged rule files
GAZETTEER, LEXICON = "companies.jsonl", "non_companies.json"
CONTEXT_WINDOW = 4
WORD_LISTS = ("names", "words", "company_words", "context_words", "legal_suffixes",
              "place_nouns", "place_prepositions")
LEXICON_FILE: Schema = {
    **{key: Field("texts", required=True) for key in WORD_LISTS},
    "patterns": Field("object", required=True, schema={
        name: Field("object", required=True, schema=REGEX_ENTRY, item="pattern")
        for name in ("trim", "product_end", "modifier")}),
}
GAZETTEER_ENTRY: Schema = {
    "name": Field("text", required=True),
    "aliases": Field("texts"),
    "exact": Field("texts"),  # matched only as written ("Smart", "Ora")
    "kind": Field("text", choices=frozenset({"carmaker", "supplier", "battery", "tech", "group",
                                              "manufacturer"})),
    "parent": Field("text", nullable=True),
}


@dataclass(frozen=True)
class Mention:
    company: str  # canonical name
    text: str  # as written
    start: int  # token offsets in the Doc
    end: int
    known: bool  # from the gazetteer
    parent: str | None = None  # the gazetteer's parent company, if any
    kind: str = ""  # the gazetteer's kind: carmaker, supplier, manufacturer, ...
    modifier: bool = False  # only qualifies another noun: "Geely-owned Volvo Cars"


@dataclass(frozen=True)
class Lexicon:
    """The non-company names and the words that mark a company, from the data file."""

    names: frozenset[str]
    words: frozenset[str]
    company_words: frozenset[str]
    context_words: frozenset[str]
    legal_suffixes: tuple[str, ...]
    place_nouns: frozenset[str]  # "the Zaragoza plant": the ORG before one is a place
    place_prepositions: frozenset[str]  # "a factory in Casa Grande": and after one
    trim: re.Pattern[str]  # what is no part of an ORG's name: "the", "'s"
    product_end: re.Pattern[str]  # "the M-Byte electric SUV": a model, not a company
    modifier: re.Pattern[str]  # "Geely-owned", "Stuttgart-based": qualifies another noun


def parse_lexicon(source: RuleText) -> Lexicon:
    data = load(source, LEXICON_FILE)
    lower = {key: frozenset(w.lower() for w in data.texts(key)) for key in WORD_LISTS}
    patterns = data.entry("patterns")
    return Lexicon(
        names=lower["names"], words=lower["words"], company_words=lower["company_words"],
        context_words=lower["context_words"], legal_suffixes=data.texts("legal_suffixes"),
        place_nouns=lower["place_nouns"], place_prepositions=lower["place_prepositions"],
        **{name: patterns.entry(name).pattern("regex")
           for name in ("trim", "product_end", "modifier")})


def parse_gazetteer(source: RuleText) -> list[dict[str, Any]]:
    return [dict(entry.raw) for entry in load_lines(source, GAZETTEER_ENTRY, "company", "name")]


def load_gazetteer(path: Path) -> list[dict[str, Any]]:
    """The gazetteer's entries in a file (the packaged one: `PATTERNS / "companies.jsonl"`)."""
    return parse_gazetteer(read(path))


class Gazetteer:
    """The company gazetteer compiled into phrase matchers for one vocabulary."""

    def __init__(self, nlp: Language, entries: list[dict[str, Any]]) -> None:
        self.make_doc = nlp.make_doc
        self.folded = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.exact = PhraseMatcher(nlp.vocab, attr="ORTH")
        self.known_lower: dict[str, str] = {}
        self.parents: dict[str, str] = {}
        self.kinds: dict[str, str] = {}
        for entry in entries:
            canonical = entry["name"]
            self.kinds[canonical] = entry.get("kind", "")
            if entry.get("parent"):
                self.parents[canonical] = entry["parent"]
            aliases = {canonical, *entry.get("aliases", ())} - set(entry.get("exact", ()))
            for alias in aliases:
                self.known_lower[alias.lower()] = canonical
            if aliases:
                self.folded.add(canonical, [nlp.make_doc(a) for a in sorted(aliases)])
            if entry.get("exact"):
                self.exact.add(canonical, [nlp.make_doc(a) for a in entry["exact"]])

    def find(self, doc: Doc) -> list[Span]:
        """The gazetteer's matches in `doc`, longest first where they overlap."""
        found = [Span(doc, s, e, label="ORG", kb_id=doc.vocab.strings[key])
                 for key, s, e in [*self.folded(doc), *self.exact(doc)]]
        return filter_spans(found)


@Language.factory(
    "ev_gazetteer_v1",
    default_config={"merge": False},
    requires=[],  # first of all: it reads the tokens and `doc._.ev_title`, set by the caller
    assigns=["doc.ents", "token.is_sent_start", doc_attr(KNOWN), doc_attr(TITLE_COMPANIES)],
)
def make_gazetteer_tagger(nlp: Language, name: str, merge: bool) -> GazetteerTagger:
    return GazetteerTagger(nlp, name, merge)


class GazetteerTagger(RuleFiles[Gazetteer]):
    """First component: marks known companies before the model runs.

    No sentence may start inside a multi-word name, so the parser does not split
    "Ford and SK On dissolved ..." at "On"; the names are preset as ORG entities, which the
    model's NER respects. `merge` makes each name one token instead; the small model parses
    such tokens worse ("Li Auto bought" became two sentences), so it is off by default.
    """

    files = (GAZETTEER,)

    def __init__(self, nlp: Language, name: str, merge: bool) -> None:
        super().__init__(name)
        self.nlp = nlp
        self.merge = merge

    def compile(self, texts: Mapping[str, RuleText]) -> Gazetteer:
        return Gazetteer(self.nlp, parse_gazetteer(texts[GAZETTEER]))

    def __call__(self, doc: Doc) -> Doc:
        gazetteer = self.rules
        spans = gazetteer.find(doc)
        if self.merge:
            with doc.retokenize() as retokenizer:
                for span in spans:
                    if len(span) > 1:
                        retokenizer.merge(span, attrs={"TAG": "NNP", "POS": "PROPN"})
            merged = [doc.char_span(s.start_char, s.end_char, label="ORG", kb_id=s.kb_id_)
                      for s in spans]
            spans = [s for s in merged if s is not None]
        else:
            for span in spans:
                for token in span[1:]:
                    token.is_sent_start = False
        doc.ents = spans
        doc._.ev_known = [(s.start, s.end, s.kb_id_) for s in spans]
        title = doc._.ev_title
        if title:  # the companies a headline names are the ones the article is about
            doc._.ev_title_companies = [
                s.kb_id_ for s in gazetteer.find(gazetteer.make_doc(title))]
        return doc


@dataclass(frozen=True)
class CompanyRules:
    gazetteer: Gazetteer
    lexicon: Lexicon


@Language.factory(
    "ev_companies_v1",
    default_config={"keep_unknown": True},
    requires=["doc.ents", "doc.sents"],
    assigns=["doc.ents", doc_attr(COMPANIES)],
)
def make_company_finder(nlp: Language, name: str, keep_unknown: bool) -> CompanyFinder:
    return CompanyFinder(nlp, name, keep_unknown)


class CompanyFinder(RuleFiles[CompanyRules]):
    """After the model: company mentions in `doc._.ev_companies`, from the gazetteer's
    matches (from `ev_gazetteer`, or its own when that did not run) and the model's ORGs
    that read as companies."""

    files = (GAZETTEER, LEXICON)

    def __init__(self, nlp: Language, name: str, keep_unknown: bool) -> None:
        super().__init__(name)
        self.nlp = nlp
        self.keep_unknown = keep_unknown

    def compile(self, texts: Mapping[str, RuleText]) -> CompanyRules:
        return CompanyRules(Gazetteer(self.nlp, parse_gazetteer(texts[GAZETTEER])),
                            parse_lexicon(texts[LEXICON]))

    def __call__(self, doc: Doc) -> Doc:
        gazetteer = self.rules.gazetteer
        if doc._.ev_known is None:
            known = gazetteer.find(doc)
        else:
            known = [Span(doc, s, e, label="ORG", kb_id=k) for s, e, k in doc._.ev_known]
        taken = {i for span in known for i in range(span.start, span.end)}
        others = [ent for ent in doc.ents if not taken & set(range(ent.start, ent.end))]
        doc.ents = filter_spans([*known, *others])
        parents, kinds = gazetteer.parents, gazetteer.kinds
        modifier = self.rules.lexicon.modifier
        mentions = [Mention(s.kb_id_, s.text, s.start, s.end, True, parents.get(s.kb_id_),
                            kinds.get(s.kb_id_, ""), bool(modifier.match(doc.text, s.end_char)))
                    for s in known]
        if self.keep_unknown:
            for ent in others:
                if ent.label_ == "ORG" and (canonical := self.unknown_company(ent)):
                    mentions.append(Mention(canonical, ent.text, ent.start, ent.end, False))
        doc._.ev_companies = sorted(mentions, key=lambda m: m.start)
        return doc

    def unknown_company(self, ent: Span) -> str | None:
        """The name to keep for an ORG the gazetteer does not know, or None to drop it."""
        lexicon, known_lower = self.rules.lexicon, self.rules.gazetteer.known_lower
        name = lexicon.trim.sub("", ent.text.strip()).strip(" .,")
        if not name or len(name) < 2 or name.lower() in lexicon.names:
            return None
        if not name[0].isupper() and not name[0].isdigit():
            return None  # "iPhone", "eVTOL": products
        if any(ch.isdigit() for ch in name) or lexicon.product_end.search(name):
            return None  # "AMP-2", "the M-Byte electric SUV": plants and models
        if lexicon.modifier.match(ent.doc.text, ent.end_char):
            return None  # "Abu Dhabi-based", "Stuttgart-based": places
        if len(name) <= 4 and name.isupper():
            return None  # "MEB", "LFP": acronyms of platforms and chemistries
        doc = ent.doc
        after = doc[ent.end].lower_ if ent.end < len(doc) else ""
        before = doc[ent.start - 1].lower_ if ent.start > 0 else ""
        if after in lexicon.place_nouns or before in lexicon.place_prepositions:
            return None  # "the Zaragoza plant", "a factory in Casa Grande"
        if name.lower() in known_lower:
            return known_lower[name.lower()]
        words = {t.lower() for t in re.findall(r"[\w.&]+", name)}
        if words & lexicon.words:
            return None
        generic = {w.lower() for w in lexicon.company_words} | {
            w.lower() for w in self.rules.lexicon.legal_suffixes}
        if words <= generic:
            return None  # "the Group said", "Automotive": a word of a name, not a name
        if not any(ch.isupper() for ch in name):
            return None
        if words & lexicon.company_words:
            return self.short_name(name)
        sent = ent.sent
        lo = max(sent.start, ent.start - CONTEXT_WINDOW)
        hi = min(sent.end, ent.end + CONTEXT_WINDOW)
        context = {t.lower_ for t in doc[lo:hi]} - {t.lower_ for t in ent}
        return self.short_name(name) if context & lexicon.context_words else None

    def short_name(self, name: str) -> str:
        """The name without a legal suffix: "CYVN Holdings" -> "CYVN"."""
        words = name.split()
        while len(words) > 1 and words[-1].strip(",") in self.rules.lexicon.legal_suffixes:
            words.pop()
        return " ".join(words).rstrip(",")


SUBJECT_DEPS = {"nsubj", "nsubjpass", "csubj"}


def grammatical_subject(sent: Span, mentions: list[Mention]) -> str | None:
    """The company that is the subject of a main clause, if the parse says one is (not of
    a relative clause: "the licence that Lifan held")."""
    doc = sent.doc
    for m in mentions:
        if m.modifier:
            continue
        for t in doc[m.start:m.end]:
            subj = t if t.dep_ in SUBJECT_DEPS else t.head if t.head.dep_ in SUBJECT_DEPS \
                else None
            if subj is not None and subj.head.dep_ in ("ROOT", "conj", "ccomp"):
                return m.company
    return None


def subject_of(sent: Span, mentions: list[Mention]) -> str:
    """The company a sentence is about: one in a subject, else the first named that is not
    a mere modifier, else the first named."""
    found = grammatical_subject(sent, mentions)
    if found:
        return found
    plain = [m for m in mentions if not m.modifier]
    return (plain or mentions)[0].company


def main_company(mentions: list[Mention], headline: Sequence[str] = ()) -> str | None:
    """The company an article is about: the headline's first that the text names too, else
    the one with most mentions (the earliest on a tie)."""
    if not mentions:
        return None
    named = {m.company for m in mentions}
    for company in headline:
        if company in named:
            return company
    counts = Counter(m.company for m in mentions)
    first: dict[str, int] = {}
    for m in mentions:
        first.setdefault(m.company, m.start)
    return min(counts, key=lambda c: (-counts[c], first[c]))

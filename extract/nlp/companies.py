"""Companies: a gazetteer of the EV industry, and a filter for the model's other ORGs.

The gazetteer (`patterns/companies.jsonl`) maps every alias to one canonical name; it is
matched case-insensitively, except the aliases listed as `exact` (words like "Smart" or
"Ora" that mean something else in lower case). Its matches override the trained model's
entities where they overlap. An ORG the gazetteer does not know is kept only when its name
or its neighbours say it is a carmaker, supplier or manufacturer, and dropped when it is a
news outlet, regulator, exchange or analyst (`patterns/non_companies.json`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

PATTERNS = Path(__file__).with_name("patterns")
CONTEXT_WINDOW = 4
PRODUCT_END = re.compile(r"\b(?:SUV|sedan|pickup|crossover|hatchback|coupe|truck|van|EV|"
                         r"model|concept)s?$", re.I)
PLACE_NOUNS = {"plant", "plants", "factory", "factories", "facility", "site", "base", "works",
               "gigafactory", "campus", "port", "district", "province", "county"}


@dataclass(frozen=True)
class Mention:
    company: str  # canonical name
    text: str  # as written
    start: int  # token offsets in the Doc
    end: int
    known: bool  # from the gazetteer
    parent: str | None = None  # the gazetteer's parent company, if any
    kind: str = ""  # the gazetteer's kind: carmaker, supplier, manufacturer, ...


@dataclass(frozen=True)
class Lexicon:
    """The non-company names and the words that mark a company, from the data file."""

    names: frozenset[str]
    words: frozenset[str]
    company_words: frozenset[str]
    context_words: frozenset[str]
    legal_suffixes: tuple[str, ...]


@cache
def load_lexicon(path: Path = PATTERNS / "non_companies.json") -> Lexicon:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Lexicon(
        names=frozenset(n.lower() for n in data["names"]),
        words=frozenset(w.lower() for w in data["words"]),
        company_words=frozenset(w.lower() for w in data["company_words"]),
        context_words=frozenset(w.lower() for w in data["context_words"]),
        legal_suffixes=tuple(data["legal_suffixes"]),
    )


def load_gazetteer(path: Path) -> list[dict]:
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entries.append(json.loads(line))
    return entries


for _name in ("ev_companies", "ev_known"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)


class Gazetteer:
    """The company gazetteer compiled into phrase matchers for one vocabulary."""

    def __init__(self, nlp: Language, path: Path) -> None:
        self.make_doc = nlp.make_doc
        self.folded = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.exact = PhraseMatcher(nlp.vocab, attr="ORTH")
        self.known_lower: dict[str, str] = {}
        self.parents: dict[str, str] = {}
        self.kinds: dict[str, str] = {}
        for entry in load_gazetteer(path):
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


@cache
def gazetteer_for(nlp: Language, path: Path) -> Gazetteer:
    """One compiled gazetteer per pipeline and file: both components share it."""
    return Gazetteer(nlp, path)


@Language.factory(
    "ev_gazetteer",
    default_config={"gazetteer": str(PATTERNS / "companies.jsonl"), "merge": False},
)
def make_gazetteer_tagger(nlp: Language, name: str, gazetteer: str,
                          merge: bool) -> GazetteerTagger:
    return GazetteerTagger(gazetteer_for(nlp, Path(gazetteer)), merge)


class GazetteerTagger:
    """First component: marks known companies before the model runs.

    No sentence may start inside a multi-word name, so the parser does not split
    "Ford and SK On dissolved ..." at "On"; the names are preset as ORG entities, which the
    model's NER respects. `merge` makes each name one token instead; the small model parses
    such tokens worse ("Li Auto bought" became two sentences), so it is off by default.
    """

    def __init__(self, gazetteer: Gazetteer, merge: bool) -> None:
        self.gazetteer = gazetteer
        self.merge = merge

    def __call__(self, doc: Doc) -> Doc:
        spans = self.gazetteer.find(doc)
        if self.merge:
            with doc.retokenize() as retokenizer:
                for span in spans:
                    if len(span) > 1:
                        retokenizer.merge(span, attrs={"TAG": "NNP", "POS": "PROPN"})
            spans = [doc.char_span(s.start_char, s.end_char, label="ORG", kb_id=s.kb_id_)
                     for s in spans]
        else:
            for span in spans:
                for token in span[1:]:
                    token.is_sent_start = False
        doc.ents = spans
        doc._.ev_known = [(s.start, s.end, s.kb_id_) for s in spans]
        title = doc.user_data.get("title")
        if title:  # the companies a headline names are the ones the article is about
            doc.user_data["title_companies"] = [
                s.kb_id_ for s in self.gazetteer.find(self.gazetteer.make_doc(title))]
        return doc


@Language.factory(
    "ev_companies",
    default_config={"gazetteer": str(PATTERNS / "companies.jsonl"), "keep_unknown": True},
)
def make_company_finder(nlp: Language, name: str, gazetteer: str,
                        keep_unknown: bool) -> CompanyFinder:
    return CompanyFinder(gazetteer_for(nlp, Path(gazetteer)), keep_unknown)


class CompanyFinder:
    """After the model: company mentions in `doc._.ev_companies`, from the gazetteer's
    matches (from `ev_gazetteer`, or its own when that did not run) and the model's ORGs
    that read as companies."""

    def __init__(self, gazetteer: Gazetteer, keep_unknown: bool) -> None:
        self.gazetteer = gazetteer
        self.keep_unknown = keep_unknown
        self.lexicon = load_lexicon()
        self.known_lower = gazetteer.known_lower

    def __call__(self, doc: Doc) -> Doc:
        if doc._.ev_known is None:
            known = self.gazetteer.find(doc)
        else:
            known = [Span(doc, s, e, label="ORG", kb_id=k) for s, e, k in doc._.ev_known]
        taken = {i for span in known for i in range(span.start, span.end)}
        others = [ent for ent in doc.ents if not taken & set(range(ent.start, ent.end))]
        doc.ents = filter_spans([*known, *others])
        parents, kinds = self.gazetteer.parents, self.gazetteer.kinds
        mentions = [Mention(s.kb_id_, s.text, s.start, s.end, True, parents.get(s.kb_id_),
                            kinds.get(s.kb_id_, "")) for s in known]
        if self.keep_unknown:
            for ent in others:
                if ent.label_ == "ORG" and (canonical := self.unknown_company(ent)):
                    mentions.append(Mention(canonical, ent.text, ent.start, ent.end, False))
        doc._.ev_companies = sorted(mentions, key=lambda m: m.start)
        return doc

    def unknown_company(self, ent: Span) -> str | None:
        """The name to keep for an ORG the gazetteer does not know, or None to drop it."""
        name = re.sub(r"^(?:the|The)\s+|['’]s$", "", ent.text.strip()).strip(" .,")
        if not name or len(name) < 2 or name.lower() in self.lexicon.names:
            return None
        if not name[0].isupper() and not name[0].isdigit():
            return None  # "iPhone", "eVTOL": products
        if any(ch.isdigit() for ch in name) or PRODUCT_END.search(name):
            return None  # "AMP-2", "the M-Byte electric SUV": plants and models
        if MODIFIER.match(ent.doc.text, ent.end_char):
            return None  # "Abu Dhabi-based", "Stuttgart-based": places
        if len(name) <= 4 and name.isupper():
            return None  # "MEB", "LFP": acronyms of platforms and chemistries
        doc = ent.doc
        after = doc[ent.end].lower_ if ent.end < len(doc) else ""
        before = doc[ent.start - 1].lower_ if ent.start > 0 else ""
        if after in PLACE_NOUNS or before in ("in", "at", "near", "outside"):
            return None  # "the Zaragoza plant", "a factory in Casa Grande"
        if name.lower() in self.known_lower:
            return self.known_lower[name.lower()]
        words = {t.lower() for t in re.findall(r"[\w.&]+", name)}
        if words & self.lexicon.words:
            return None
        if not any(ch.isupper() for ch in name):
            return None
        if words & self.lexicon.company_words:
            return self.short_name(name)
        sent = ent.sent
        lo = max(sent.start, ent.start - CONTEXT_WINDOW)
        hi = min(sent.end, ent.end + CONTEXT_WINDOW)
        context = {t.lower_ for t in doc[lo:hi]} - {t.lower_ for t in ent}
        return self.short_name(name) if context & self.lexicon.context_words else None

    def short_name(self, name: str) -> str:
        """The name without a legal suffix: "CYVN Holdings" -> "CYVN"."""
        words = name.split()
        while len(words) > 1 and words[-1].strip(",") in self.lexicon.legal_suffixes:
            words.pop()
        return " ".join(words).rstrip(",")


SUBJECT_DEPS = {"nsubj", "nsubjpass", "csubj"}
# "Geely-owned Volvo Cars", "the Geely-backed brand": the company is a modifier there.
MODIFIER = re.compile(r"-(?:backed|owned|based|controlled|led|affiliated|funded|run|made)\b")


def is_modifier(doc: Doc, mention: Mention) -> bool:
    """Whether the mention only qualifies another noun ("Geely-owned Volvo Cars")."""
    end = doc[mention.end - 1].idx + len(doc[mention.end - 1])
    return bool(MODIFIER.match(doc.text, end))


def grammatical_subject(sent: Span, mentions: list[Mention]) -> str | None:
    """The company that is the subject of a main clause, if the parse says one is (not of
    a relative clause: "the licence that Lifan held")."""
    doc = sent.doc
    for m in mentions:
        if is_modifier(doc, m):
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
    plain = [m for m in mentions if not is_modifier(sent.doc, m)]
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
    first = {}
    for m in mentions:
        first.setdefault(m.company, m.start)
    return min(counts, key=lambda c: (-counts[c], first[c]))

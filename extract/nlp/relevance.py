"""Relevance: how much an article is about the EV industry, a score in [0, 1].

For articles from general sites, most of which are not about the EV industry. The score is
read from what the pipeline has made already (no second pass of the model):

- the EV words of the headline and of the lead (the first paragraphs): EV, battery and
  charging terms that mean the industry ("battery cells", "charging network"), not a
  phone's battery or a team called the Chargers;
- the known companies of the industry the gazetteer found in the lead (carmakers, battery
  makers, suppliers, contract manufacturers), by how many distinct ones and how densely;
- the production words of the lead ("plant", "carmaker", "joint venture"), which make the
  carmakers' production news count whatever the drivetrain;
- the deals and capacities the extraction found, those of a known company most.

Each kind of evidence gives points up to a cap (the `WEIGHTS`); the score is
1 - exp(-points), so one strong sign (an EV headline) reaches about 0.5 and more signs
approach 1. `THRESHOLD` is the cut chosen on the development set (`bench/relevance.py`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from spacy.tokens import Doc

# The lead: whole paragraphs from the first, until this many words are read.
LEAD_WORDS = 200
# The cut `bench/relevance.py` measures; `--min-relevance` is 0 (keep all) unless set.
THRESHOLD = 0.5
# Gazetteer kinds that are the industry itself; tech firms and holding groups count less.
INDUSTRY_KINDS = frozenset({"carmaker", "battery", "supplier", "manufacturer"})
OTHER_KIND_SHARE = 0.5


def words(*alternatives: str) -> str:
    """A non-capturing group of alternatives; an empty group is a mistake, not "match all"."""
    if not alternatives or not all(alternatives):
        raise ValueError("a word list needs at least one non-empty alternative")
    return "(?:" + "|".join(alternatives) + ")"


# Named fragments of the EV vocabulary. Case does not matter, except in CASED.
VEHICLE_NOUNS = words("vehicles?", "cars?", "suvs?", "trucks?", "bus(?:es)?", "vans?",
                      "pickups?", "sedans?", "coupes?", "wagons?", "models?", "crossovers?",
                      "hatchbacks?", "motorcycles?", "scooters?", "two-wheelers?",
                      "three-wheelers?", "fleets?", "mobility", "drive(?:train)?s?",
                      "powertrains?", "platforms?", "versions?", "lineup")
EV_TERMS = words(
    rf"electric[- ]{VEHICLE_NOUNS}", rf"electric [\w-]+ {VEHICLE_NOUNS}",
    rf"(?:battery|fuel[- ]cell)[- ]electric {VEHICLE_NOUNS}", rf"fuel[- ]cell {VEHICLE_NOUNS}",
    r"(?:all|fully|battery|pure|purely)[- ]electric", r"e-?mobility", r"electromobility",
    r"new[- ]energy (?:vehicle|car)s?", r"zero[- ]emissions? (?:vehicle|car|truck)s?",
    r"plug-in(?: hybrid)?s?", r"electrified", r"electrification", r"electric range",
    r"range-extend(?:ed|er)s?")
BATTERY_TERMS = words(
    r"batter(?:y|ies) (?:cells?|packs?|modules?|plants?|factor(?:y|ies)|makers?|"
    r"manufactur(?:er|ers|ing)|suppliers?|swap(?:s|ping)?|capacity|production|"
    r"chemistr(?:y|ies)|materials?|recycling|electric|venture|joint venture)",
    r"giga-?(?:factory|factories|plant|plants)", r"gigawatt[- ]hours?", r"cathodes?",
    r"anodes?", r"solid[- ]state batter(?:y|ies)", r"sodium-ion", r"lithium iron phosphate",
    r"cell makers?", r"traction batter(?:y|ies)",
    r"lithium (?:mines?|mining|refiner(?:y|ies)|refining|producers?|prices?|supply|"
    r"hydroxide|carbonate|deposits?)")
CHARGING_TERMS = words(
    r"charging (?:stations?|points?|piles?|networks?|infrastructure|hubs?|stalls?|posts?|"
    r"sites?|speeds?)", r"(?:fast|rapid|super|dc)[- ]?charg(?:ing|ers?)",
    r"swap(?:ping)? stations?", r"battery[- ]swap")
CASED = words(r"EVs?", r"BEVs?", r"PHEVs?", r"NEVs?", r"xEVs?", r"ZEVs?", r"GWh", r"LFP",
              r"NMC", r"kWh")
EV_WORDS = re.compile(
    rf"\b(?:(?i:{EV_TERMS}|{BATTERY_TERMS}|{CHARGING_TERMS})|{CASED})\b")
# Words of vehicle production: a carmaker's plant, venture or capacity news, EV or not.
PRODUCTION_WORDS = re.compile(r"\b(?i:" + words(
    r"carmakers?", r"automakers?", r"car ?makers?", r"vehicle ?makers?",
    r"(?:car|vehicle|auto) manufacturers?", r"automotive", r"plants?", r"factor(?:y|ies)",
    r"assembly", r"production", r"capacity", r"joint[- ]ventures?", r"units", r"output",
    r"stakes?", r"deliveries") + r")\b")


@dataclass(frozen=True)
class Evidence:
    """What the score is read from, for one article."""

    title_terms: int  # EV words in the headline
    lead_terms: int  # EV words in the lead
    lead_words: int
    companies: float  # distinct known companies in the lead: 1 each of the industry's
    # kinds, OTHER_KIND_SHARE for the others (tech firms, holding groups)
    company_mentions: int  # their mentions in the lead
    production_terms: int  # production words in the lead
    facts: int  # deals and capacities found in the whole text with a known company in them
    other_facts: int  # those without (the companies of a newspaper merger)


# Points for each kind of evidence, and the cap it reaches: (weight per unit, cap).
WEIGHTS = {
    "title": (0.7, 0.7),  # an EV word in the headline
    "lead_density": (0.5, 1.0),  # per EV word per 100 words of the lead
    "companies": (0.2, 0.6),  # per distinct industry company in the lead
    "company_density": (0.1, 0.4),  # per mention per 100 words of the lead
    "production": (0.1, 0.4),  # per production word per 100 words, with a company named
    "facts": (0.4, 0.8),  # per deal or capacity of a known company
    "other_facts": (0.1, 0.2),  # per other deal or capacity
}


def lead_end(text: str, limit: int = LEAD_WORDS) -> int:
    """Where the lead ends in `text`: after whole paragraphs of about `limit` words."""
    count, end = 0, 0
    for paragraph in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]*)*", text):
        count += len(paragraph.group().split())
        end = paragraph.end()
        if count >= limit:
            break
    return end


def evidence(doc: Doc) -> Evidence:
    """The evidence of relevance in an annotated Doc."""
    known = [(doc[m.start].idx, m.company, m.kind) for m in doc._.ev_companies or ()
             if m.known]
    names = {company for _, company, _ in known}
    parties = [{d.acquirer, d.target} for d in doc._.ev_deals or ()]
    parties += [{c.company} for c in doc._.ev_capacities or ()]
    facts = sum(1 for p in parties if p & names)
    return gather(doc._.ev_title or "", doc.text, known, facts, len(parties) - facts)


def gather(title: str, text: str, known: Sequence[tuple[int, str, str]], facts: int,
           other_facts: int = 0) -> Evidence:
    """The evidence of relevance in a headline and a text, given the known companies the
    gazetteer found in the text (character offset, canonical name, kind) and the numbers of
    deals and capacities found with and without a known company in them."""
    end = lead_end(text)
    lead = text[:end]
    kinds = {company: kind for start, company, kind in known if start < end}
    industry = [c for start, c, kind in known if start < end and kind in INDUSTRY_KINDS]
    return Evidence(
        title_terms=len(EV_WORDS.findall(title)),
        lead_terms=len(EV_WORDS.findall(lead)),
        lead_words=len(lead.split()),
        companies=sum(1.0 if kind in INDUSTRY_KINDS else OTHER_KIND_SHARE
                      for kind in kinds.values()),
        company_mentions=len(industry),
        production_terms=len(PRODUCTION_WORDS.findall(lead)),
        facts=facts,
        other_facts=other_facts,
    )


def points(e: Evidence) -> dict[str, float]:
    """Each kind of evidence's points, capped (see WEIGHTS)."""
    per100 = 100 / max(e.lead_words, 50)  # a short lead is not made dense by its shortness
    raw = {
        "title": float(e.title_terms > 0),
        "lead_density": e.lead_terms * per100,
        "companies": e.companies,
        "company_density": e.company_mentions * per100,
        "production": e.production_terms * per100 if e.companies else 0.0,
        "facts": float(e.facts),
        "other_facts": float(e.other_facts),
    }
    return {name: min(raw[name] * WEIGHTS[name][0], WEIGHTS[name][1]) for name in raw}


def score(e: Evidence) -> float:
    """The relevance of this evidence: 1 - exp(-points), rounded to 2 decimals."""
    return round(1 - math.exp(-sum(points(e).values())), 2)


def relevance(doc: Doc) -> float:
    """How much the article in `doc` is about the EV industry, in [0, 1] (2 decimals)."""
    return score(evidence(doc))

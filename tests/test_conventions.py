"""Each annotation convention of fixtures/gold/README.md by name (issue 10), through the full
pipeline as users get it (rules and learned layer): its examples must give the facts they
list, its counter-examples must not give theirs (or no deal, or no capacity, at all). The
README names every convention in `conventions.json`, and `conventions.json` every one the
README names."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from spacy.language import Language

from extract.nlp.pipeline import load_pipeline

GOLD = Path(__file__).resolve().parent.parent / "fixtures" / "gold"
CONVENTIONS: list[dict[str, Any]] = json.loads(
    (GOLD / "conventions.json").read_text(encoding="utf-8"))
NAMED = re.compile(r"\[`(\w+)`\]")  # how the README's Conventions section names one


@dataclass(frozen=True)
class Found:
    deals: list[tuple[str, str, str, str, int | None]]  # acquirer, target, type, status, year
    capacities: list[tuple[str, int, str]]  # company, units_per_year, kind


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_pipeline("en_core_web_sm")


def found(nlp: Language, text: str) -> Found:
    doc = nlp(text)
    return Found([(d.acquirer, d.target, d.deal_type, d.status, d.year) for d in doc._.ev_deals],
                 [(c.company, c.units_per_year, c.kind) for c in doc._.ev_capacities])


def forbidden(listed: list[Any], facts: list[tuple[Any, ...]], width: int) -> list[Any]:
    """The facts that match a listed one on its first `width` fields and on any it adds
    (a deal's status, a capacity's kind)."""
    return [f for f in facts for item in listed
            if f[:width] == tuple(item[:width]) and f[width:len(item)] == tuple(item[width:])]


@pytest.mark.parametrize("convention", CONVENTIONS, ids=[c["name"] for c in CONVENTIONS])
def test_convention(nlp: Language, convention: dict[str, Any]) -> None:
    assert convention["examples"] and convention["counter_examples"]
    for example in convention["examples"]:
        got = found(nlp, example["text"])
        assert {tuple(d) for d in example.get("deals", [])} <= set(got.deals), \
            (example["text"], got)
        assert {tuple(c) for c in example.get("capacities", [])} <= set(got.capacities), \
            (example["text"], got)
    for counter in convention["counter_examples"]:
        got = found(nlp, counter["text"])
        if counter.get("no_deals"):
            assert got.deals == [], counter["text"]
        if counter.get("no_capacities"):
            assert got.capacities == [], counter["text"]
        assert forbidden(counter.get("deals", []), got.deals, 3) == [], counter["text"]
        assert forbidden(counter.get("capacities", []), got.capacities, 2) == [], \
            counter["text"]


def test_every_counter_example_forbids_something() -> None:
    keys = {"no_deals", "no_capacities", "deals", "capacities"}
    for convention in CONVENTIONS:
        for counter in convention["counter_examples"]:
            assert keys & set(counter), (convention["name"], counter["text"])


def test_the_readme_names_every_convention() -> None:
    readme = (GOLD / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Conventions\n", 1)[1].split("\n## ", 1)[0]
    names = [c["name"] for c in CONVENTIONS]
    assert len(names) == len(set(names))
    # The section's first line shows the notation with the first convention's name.
    assert set(NAMED.findall(section)) == set(names)

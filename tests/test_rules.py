"""Each rule by its own examples, through the pipeline without its learned layer (that one
is measured on the gold sets by bench/facts.py, and tested in test_pairs.py): a deal rule
makes the deals its examples list and none from its counter-examples; a capacity entry
likewise. Then the rule language: the README names every deal rule, and a bad rule file
fails to load with a message that says where."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from spacy.language import Language

from extract.errors import PipelineError
from extract.nlp import capacities, deals
from extract.nlp.capacities import Expected
from extract.nlp.pipeline import load_pipeline
from extract.nlp.rules import REGEX_ENTRY, Field, RuleText, load, packaged
from extract.records import Capacity

README = Path(deals.__file__).with_name("patterns") / "README.md"
DEAL_RULES = deals.parse_rules(packaged(deals.RULES)).rules
CAPACITY_EXAMPLES = capacities.parse_rules(packaged(capacities.RULES)).examples


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_pipeline("en_core_web_sm", learned=False)


def made_by(nlp: Language, text: str, rule: str) -> tuple[set[tuple[str, str, str]], set]:
    """The deals `rule` made in `text`, and all the deals the text gave."""
    doc = nlp(text)
    mine = {(d.acquirer, d.target, d.deal_type) for name, d in doc._.ev_deal_rules
            if name == rule}
    return mine, {(d.acquirer, d.target, d.deal_type) for d in doc._.ev_deals}


@pytest.mark.parametrize("rule", DEAL_RULES, ids=lambda rule: rule.name)
def test_deal_rule_reads_its_examples(nlp: Language, rule: deals.Rule) -> None:
    for example in rule.examples:
        mine, found = made_by(nlp, example.text, rule.name)
        assert mine == set(example.deals), example.text
        assert mine <= found
    for text in rule.counter_examples:
        assert made_by(nlp, text, rule.name)[0] == set(), text


def gives(capacity: Capacity, expected: Expected) -> bool:
    return (capacity.company, capacity.units_per_year) == (expected.company, expected.units) \
        and expected.kind in ("", capacity.kind) \
        and expected.facility in (None, capacity.facility)


@pytest.mark.parametrize("name", list(CAPACITY_EXAMPLES))
def test_capacity_entry_reads_its_examples(nlp: Language, name: str) -> None:
    examples = CAPACITY_EXAMPLES[name]
    for example in examples.good:
        found = nlp(example.text)._.ev_capacities
        assert {(c.company, c.units_per_year) for c in found} == \
            {(e.company, e.units) for e in example.capacities}, example.text
        assert all(any(gives(c, e) for c in found) for e in example.capacities), found
    for example in examples.bad:
        found = nlp(example.text)._.ev_capacities
        wrong = [c for c in found if any(gives(c, e) for e in example.capacities)] \
            if example.capacities else found
        assert wrong == [], example.text


def listed(heading: str) -> set[str]:
    """The names a README section lists as "- `name`: ..."."""
    section = README.read_text(encoding="utf-8").split(f"\n{heading}\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    return set(re.findall(r"^- `(\w+)`", section, re.M))


def test_the_readme_lists_every_deal_rule() -> None:
    assert listed("## The deal rules") == {rule.name for rule in DEAL_RULES}


def test_the_readme_lists_every_capacity_entry() -> None:
    assert listed("## `capacities.json`") == set(CAPACITY_EXAMPLES)


# ---------------------------------------------------------------- the language


def deals_file() -> dict[str, Any]:
    return json.loads(packaged(deals.RULES).text)


def load_deals(data: dict[str, Any]) -> deals.DealRules:
    return deals.parse_rules(RuleText("test/deals.json", json.dumps(data)))


def rule_named(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(rule for rule in data["rules"] if rule["name"] == name)


def broken(change: str) -> dict[str, Any]:
    """The packaged deals.json with one mistake."""
    data = deals_file()
    jv_with = rule_named(data, "jv_with")
    if change == "unknown key":
        jv_with["regexp"] = jv_with.pop("regex")
    elif change == "missing key":
        del jv_with["roles"]
    elif change == "unknown fragment":
        jv_with["regex"] = r"\b{joint_venture}s?\s+with\b"
    elif change == "empty fragment":
        data["fragments"]["jv"] = []
    elif change == "wrong type":
        jv_with["once"] = "yes"
    elif change == "unknown role":
        jv_with["roles"] = {"before": "buyer", "after": "target"}
    elif change == "bad regex":
        jv_with["regex"] = r"\b(?:{jv}s?"
    elif change == "example without deals":
        jv_with["examples"][0].pop("deals")
    elif change == "rule twice":
        data["rules"].append(copy.deepcopy(jv_with))
    return data


MISTAKES = {
    "unknown key": r"test/deals.json: rule 'jv_with': unknown key 'regexp'",
    "missing key": r"test/deals.json: rule 'jv_with': missing key 'roles'",
    "unknown fragment":
        r"test/deals.json: rule 'jv_with', key 'regex': unknown fragment \{joint_venture\}",
    "empty fragment": r"test/deals.json: key 'fragments': fragment 'jv' is empty",
    "wrong type": r"rule 'jv_with', key 'once': expected true or false",
    "unknown role": r"rule 'jv_with', key 'roles': expected .*values: acquirer, target",
    "bad regex": r"rule 'jv_with', key 'regex': bad regex",
    "example without deals": r"rule 'jv_with', example #1: missing key 'deals'",
    "rule twice": r"test/deals.json: key 'rules': rule 'jv_with' given twice",
}


@pytest.mark.parametrize("change", list(MISTAKES))
def test_a_bad_rule_file_says_where(change: str) -> None:
    with pytest.raises(PipelineError, match=MISTAKES[change]):
        load_deals(broken(change))


def test_the_packaged_file_loads_as_it_is() -> None:
    assert [rule.name for rule in load_deals(deals_file()).rules] == \
        [rule.name for rule in DEAL_RULES]


def test_fragments_and_lists_expand_to_one_regex() -> None:
    text = json.dumps({
        "fragments": {"verb": ["buys?", "bought"], "deal": r"{verb}\s+(?:a|the)\s+stake"},
        "probe": {"regex": [r"\b{deal}\b", r"\b{verb}\s+\d{1,3}%"]},
    })
    entry = load(RuleText("probe.json", text), {
        "probe": Field("object", required=True, schema=REGEX_ENTRY, item="pattern")})
    regex = entry.entry("probe").pattern("regex")
    assert regex.pattern == (r"(?:\b(?:buys?|bought)\s+(?:a|the)\s+stake\b"
                             r"|\b(?:buys?|bought)\s+\d{1,3}%)")
    assert regex.flags & re.IGNORECASE
    assert regex.search("Geely Bought 49% of Proton")


def test_a_fragment_may_not_contain_itself() -> None:
    text = json.dumps({"fragments": {"a": "x{b}", "b": "{a}"}, "probe": {"regex": "{a}"}})
    with pytest.raises(PipelineError, match=r"fragment \{a\} contains itself"):
        load(RuleText("probe.json", text), {"probe": Field("object", schema=REGEX_ENTRY)})


def test_a_capacity_entry_without_examples_does_not_load() -> None:
    data = json.loads(packaged(capacities.RULES).text)
    del data["patterns"]["unit"]["examples"]
    with pytest.raises(PipelineError, match=r"pattern 'unit': missing key 'examples'"):
        capacities.parse_rules(RuleText("test/capacities.json", json.dumps(data)))

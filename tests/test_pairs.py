"""The learned deal layer (`ev_deal_pairs`): where it sits, when it speaks, what it records."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from spacy.language import Language

from extract.errors import PipelineError
from extract.nlp.pairs import DealPairs, Marking, examples
from extract.nlp.pipeline import LEARNED, load_pipeline

ACQUIRED = "Li Auto acquired Lifan in 2018."
# Two companies, no production deal between them, and no rule fires.
SILENT = "BYD and Tesla both reported higher sales in March 2024, analysts said."


@pytest.fixture(scope="module")
def rules() -> Language:
    return load_pipeline("en_core_web_sm", learned=False)


def layer(t_add: float, t_veto: float, add_where: str = "newpair") -> DealPairs:
    pairs = DealPairs("test_pairs", t_add, t_veto, add_where)
    pairs.initialize()
    return pairs


def test_the_learned_layer_follows_the_rules_and_can_be_left_out(rules: Language) -> None:
    full = load_pipeline("en_core_web_sm")
    assert LEARNED == ("ev_deal_pairs",)
    assert full.pipe_names.index("ev_deal_pairs") == full.pipe_names.index("ev_deals") + 1
    assert "ev_deal_pairs" not in rules.pipe_names
    assert [d.method for d in full(ACQUIRED)._.ev_deals] == ["rule"]


def test_examples_mark_the_pair_and_crop_around_it(rules: Language) -> None:
    doc = rules(ACQUIRED)
    made = {(e.a, e.b): e.text for e in examples(doc, Marking(crop=1, kinds=True))}
    assert set(made) == {("Li Auto", "Lifan"), ("Lifan", "Li Auto")}
    assert made[("Li Auto", "Lifan")].endswith("ENTA acquired ENTB in")
    assert made[("Lifan", "Li Auto")].endswith("ENTB acquired ENTA in")
    assert made[("Li Auto", "Lifan")].startswith("AKIND_")


def test_the_model_adds_only_where_the_rules_found_nothing(rules: Language) -> None:
    eager = layer(t_add=0.0, t_veto=0.0)  # adds whatever it sees, vetoes nothing
    silent = eager(rules(SILENT))
    assert silent._.ev_deals, "with t_add 0 every pair the model sees becomes a deal"
    for deal in silent._.ev_deals:
        assert deal.method == "model"
        assert {deal.acquirer, deal.target} == {"BYD", "Tesla"}
        assert deal.evidence == SILENT and deal.year == 2024
        assert deal.status in ("completed", "agreed", "planned", "rumored", "dissolved")
    # one direction per pair and type
    assert len({d.deal_type for d in silent._.ev_deals}) == len(silent._.ev_deals)
    spoken = eager(rules(ACQUIRED))
    assert [(d.acquirer, d.target, d.method) for d in spoken._.ev_deals] == [
        ("Li Auto", "Lifan", "rule")]


def test_newpair_adds_beside_rule_deals_and_silent_does_not(rules: Language) -> None:
    text = f"{ACQUIRED} {SILENT}"
    beside = layer(t_add=0.0, t_veto=0.0)(rules(text))._.ev_deals
    assert {(d.acquirer, d.target, d.method) for d in beside if d.method == "rule"} == {
        ("Li Auto", "Lifan", "rule")}
    assert {frozenset((d.acquirer, d.target)) for d in beside if d.method == "model"} == {
        frozenset(("BYD", "Tesla"))}
    alone = layer(t_add=0.0, t_veto=0.0, add_where="silent")(rules(text))._.ev_deals
    assert [d.method for d in alone] == ["rule"]
    # union: beside the rule deal, the model's other types for the same pair too
    union = layer(t_add=0.0, t_veto=0.0, add_where="union")(rules(ACQUIRED))._.ev_deals
    assert [(d.acquirer, d.target, d.deal_type) for d in union if d.method == "rule"] == [
        ("Li Auto", "Lifan", "acquisition")]
    assert any(frozenset((d.acquirer, d.target)) == frozenset(("Li Auto", "Lifan"))
               for d in union if d.method == "model")
    assert not any(d.method == "model" for d in layer(t_add=0.0, t_veto=0.0)(
        rules(ACQUIRED))._.ev_deals)  # newpair: never on a pair the rules read
    with pytest.raises(PipelineError, match="add_where"):
        DealPairs("bad", 0.5, 0.05, "everywhere")


def test_a_sure_model_vetoes_a_rule_deal_and_the_rules_own_output_stays(
        rules: Language) -> None:
    doc = layer(t_add=1.0, t_veto=1.01)(rules(ACQUIRED))  # p < 1.01 always: veto all
    assert doc._.ev_deals == []
    assert [d.acquirer for _, d in doc._.ev_deal_rules] == ["Li Auto"]
    kept = layer(t_add=1.0, t_veto=0.0)(rules(ACQUIRED))
    assert [d.deal_type for d in kept._.ev_deals] == ["acquisition"]


def test_the_default_thresholds_keep_a_plain_rule_deal(rules: Language) -> None:
    doc = load_pipeline("en_core_web_sm")(ACQUIRED)
    assert [(d.acquirer, d.target, d.deal_type) for d in doc._.ev_deals] == [
        ("Li Auto", "Lifan", "acquisition")]


def test_a_saved_pipeline_carries_the_models(tmp_path: Path) -> None:
    full = load_pipeline("en_core_web_sm")
    full.get_pipe("ev_deal_pairs").to_disk(tmp_path / "pairs")
    moved = DealPairs("moved", 0.0, 0.0).from_disk(tmp_path / "pairs")
    doc = moved(load_pipeline("en_core_web_sm", learned=False)(SILENT))
    assert {d.method for d in doc._.ev_deals} == {"model"}
    (tmp_path / "pairs" / "deals_pairs" / "pairs.json").unlink()
    with pytest.raises(PipelineError, match="cannot load the pair model"):
        DealPairs("broken", 0.3, 0.03).from_disk(tmp_path / "pairs")


def test_an_uninitialized_layer_says_so(rules: Language) -> None:
    with pytest.raises(PipelineError, match="no models loaded"):
        DealPairs("bare", 0.3, 0.03)(rules(SILENT))


def test_spacy_load_of_a_saved_pipeline_keeps_the_layer(tmp_path: Path) -> None:
    full = load_pipeline("en_core_web_sm")
    full.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert loaded.pipe_names == full.pipe_names
    assert loaded.get_pipe("ev_deal_pairs").t_add == full.get_pipe("ev_deal_pairs").t_add
    for text in (ACQUIRED, SILENT):
        assert loaded(text)._.ev_deals == full(text)._.ev_deals


class SureStatus:
    """A status model stand-in that always answers `rumored`, to see whose status stands."""

    how = Marking()

    def cats(self, texts: list[str]) -> list[dict[str, float]]:
        return [{"rumored": 0.9, "completed": 0.1} for _ in texts]


@pytest.mark.parametrize(("text", "rules_status", "given"), [
    (ACQUIRED, "completed", "rumored"),  # the rules' default: the model decides
    ("Li Auto will acquire Lifan under the partnership.", "planned", "rumored"),
    ("Li Auto plans to acquire Lifan.", "planned", "planned"),  # no agreement: planned
    ("Li Auto agreed to acquire Lifan.", "agreed", "agreed"),  # explicit words stand
])
def test_the_status_model_decides_only_where_the_rules_read_no_status_words(
        rules: Language, text: str, rules_status: str, given: str) -> None:
    doc = rules(text)
    assert [d.status for d in doc._.ev_deals] == [rules_status]
    ours = layer(t_add=1.0, t_veto=0.0)
    ours.status_model = SureStatus()  # type: ignore[assignment]
    deal, = ours(doc)._.ev_deals
    assert (deal.status, deal.method) == (given, "rule" if given == rules_status
                                          else "rule+model")
    kept = DealPairs("rules_status", 1.0, 0.0, status_from="rules")
    kept.initialize()
    kept.status_model = SureStatus()  # type: ignore[assignment]
    assert [(d.status, d.method) for d in kept(rules(text))._.ev_deals] == [
        (rules_status, "rule")]
    with pytest.raises(PipelineError, match="status_from"):
        DealPairs("bad", 0.5, 0.05, status_from="coin")


def test_a_preliminary_agreement_stays_planned_whatever_the_status_model_says(
        rules: Language) -> None:
    text = "Li Auto signed a memorandum of understanding to acquire Lifan."
    assert [d.status for d in rules(text)._.ev_deals] == ["planned"]
    ours = layer(t_add=1.0, t_veto=0.0)
    ours.status_model = SureStatus()  # type: ignore[assignment]
    assert [(d.status, d.method) for d in ours(rules(text))._.ev_deals] == [
        ("planned", "rule")]

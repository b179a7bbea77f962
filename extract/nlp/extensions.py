"""The Doc attributes our components read and write, declared in one place.

Components pass what they know to each other through these (and declare them in their
factories' `requires` and `assigns`), never through `doc.user_data`. `ev_title` is set by
whoever makes the Doc (`facts.make_doc`): the headline, which says what the text is about.
"""

from __future__ import annotations

from spacy.tokens import Doc

TITLE = "ev_title"  # the article's headline, set before the pipeline runs
TITLE_COMPANIES = "ev_title_companies"  # the known companies the headline names
KNOWN = "ev_known"  # the gazetteer's matches: (start, end, canonical name)
COMPANIES = "ev_companies"  # list[companies.Mention]
DEALS = "ev_deals"  # list[records.Deal]
DEAL_RULES = "ev_deal_rules"  # list[(rule name, Deal)]: which rule made each deal
CAPACITIES = "ev_capacities"  # list[records.Capacity]

for _name in (TITLE, TITLE_COMPANIES, KNOWN, COMPANIES, DEALS, DEAL_RULES, CAPACITIES):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)


def doc_attr(name: str) -> str:
    """The name of an extension as a factory's `requires`/`assigns` spell it."""
    return f"doc._.{name}"

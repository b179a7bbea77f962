"""What the deal and capacity finders' code does for the ways real news tells a fact
(issue 10), beyond any one rule's examples: a venture's partners named as a pair, a list of
partners, a company that only names another's role standing where the parse puts the
subject, a holding named in passing, a company named as an example."""

from __future__ import annotations

import pytest
from spacy.language import Language

from extract.nlp.pipeline import load_pipeline


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_pipeline("en_core_web_sm", learned=False)


def deals(nlp: Language, text: str) -> set[tuple[str, str, str]]:
    return {(d.acquirer, d.target, d.deal_type) for d in nlp(text)._.ev_deals}


def test_a_pair_of_partners_stays_a_pair_when_one_owns_the_other(nlp: Language) -> None:
    # Volvo Cars is Geely's child, which would otherwise make it the venture itself.
    text = "Lynk & Co began in 2017 as a joint venture of Geely and Volvo Cars."
    assert ("Geely", "Volvo Cars", "joint_venture") in deals(nlp, text)


def test_a_list_of_partners_gives_the_first_with_each_other(nlp: Language) -> None:
    text = "Stellantis, Mercedes-Benz and TotalEnergies signed a joint venture agreement in 2020."
    found = {d for d in deals(nlp, text) if d[2] == "joint_venture"}
    assert found == {("Stellantis", "Mercedes-Benz", "joint_venture"),
                     ("Stellantis", "TotalEnergies", "joint_venture")}


def test_the_subject_s_listed_partner_is_the_other_side(nlp: Language) -> None:
    # The nearest company before the trigger is SAIC, which only owns MG.
    text = "JSW and MG Motor, which SAIC owns, launched their joint venture in India."
    assert deals(nlp, text) == {("JSW", "MG", "joint_venture")}


def test_a_company_naming_a_role_is_not_the_buyer(nlp: Language) -> None:
    text = "Geely, Polestar's largest shareholder, also holds a third of Renault Korea."
    assert deals(nlp, text) == {("Geely", "Renault Korea", "acquisition")}


@pytest.mark.parametrize(("text", "status"), [
    ("Honda signed a non-binding agreement to buy 20% of Nissan.", "planned"),
    ("Honda signed a framework agreement to buy 20% of Nissan.", "agreed"),
    ("Honda's offer to buy 20% of Nissan was turned down.", "dissolved"),
])
def test_the_status_of_a_preliminary_or_refused_deal(nlp: Language, text: str,
                                                     status: str) -> None:
    found = [d for d in nlp(text)._.ev_deals if (d.acquirer, d.target) == ("Honda", "Nissan")]
    assert [d.status for d in found] == [status]


@pytest.mark.parametrize(("text", "pair"), [
    # The venture itself (Novo Energy) and the owner named in passing (Geely) are no partner.
    ("Volvo Cars, which is controlled by Geely, will buy out Northvolt's stake in Novo "
     "Energy, the battery joint venture the two set up in 2021.", ("Volvo Cars", "Northvolt")),
    ("Foxconn and Geely will offer contract manufacturing through a venture owned equally by "
     "the two.", ("Foxconn", "Geely")),
    ("Chery and Ebro met in Barcelona. The two signed a joint venture agreement in April.",
     ("Chery", "Ebro")),
])
def test_the_two_are_a_venture_s_partners(nlp: Language, text: str,
                                          pair: tuple[str, str]) -> None:
    assert {(d[0], d[1]) for d in deals(nlp, text) if d[2] == "joint_venture"} == {pair}


def test_the_two_need_a_venture_word(nlp: Language) -> None:
    text = "XPeng will buy Didi's car unit. The two companies also plan to launch a new brand."
    assert {d for d in deals(nlp, text) if d[2] == "joint_venture"} == set()


@pytest.mark.parametrize(("text", "statuses"), [
    ("Honda and Nissan called off their merger in 2025, and Honda will not take over Nissan.",
     ["dissolved"]),
    ("Honda did not take over Nissan.", []),
])
def test_a_negated_deal_is_none_unless_it_ended(nlp: Language, text: str,
                                                statuses: list[str]) -> None:
    assert [d.status for d in nlp(text)._.ev_deals] == statuses


def test_a_plural_possessive_is_no_part_of_a_company_s_name(nlp: Language) -> None:
    # the lexicon's `trim`: "Condor Motors' chief" names Condor Motors, not "Condor Motors'"
    text = ("The Hidalgo factory builds trucks for FAW. Condor Motors' Elias Massri expects "
            "output of 1,000 vehicles in the first year.")
    names = {m.company for m in nlp(text)._.ev_companies}
    assert "Condor Motors" in names
    assert not any(n.endswith(("'", "’")) for n in names)


@pytest.mark.parametrize(("text", "status"), [
    # `held`: a holding named in passing is held now, whatever the clause plans
    ("SAIC, owner of MG Motor, will put 5 billion yuan into a plant in Spain.", "completed"),
    ("Proton, in which Geely holds a 49.9% stake, will build the engines.", "completed"),
    # ... unless its own words end it
    ("Proton, in which Mitsubishi Motors no longer holds a stake, will build the engines.",
     "dissolved"),
])
def test_a_holding_named_in_passing_is_completed(nlp: Language, text: str,
                                                 status: str) -> None:
    found = [d for d in nlp(text)._.ev_deals if d.deal_type == "acquisition"]
    assert len(found) == 1 and found[0].status == status


def test_a_company_named_as_an_example_owns_no_figure(nlp: Language) -> None:
    # `example_prepositions`: "including X" names one site among others, not the owner
    text = ("Maruti Suzuki began production at its new Kharkhoda plant. Together with its "
            "other sites, including Suzuki Motor Gujarat, the company plans capacity of "
            "about 4 million vehicles a year by 2030.")
    owners = {c.company for c in nlp(text)._.ev_capacities if c.units_per_year == 4_000_000}
    assert owners == {"Suzuki"}

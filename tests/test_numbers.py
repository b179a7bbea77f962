from __future__ import annotations

import pytest

from extract.nlp.numbers import quantities


@pytest.mark.parametrize("text, value", [
    ("150,000 units", 150_000),
    ("a 150,000-unit plant", 150_000),
    ("another 150.000", 150_000),
    ("150 000 cars", 150_000),
    ("150k vehicles", 150_000),
    ("1.5 million", 1_500_000),
    ("1.5m units", 1_500_000),
    ("one million cars", 1_000_000),
    ("half a million", 500_000),
    ("two hundred thousand", 200_000),
    ("1,200,000 vehicles", 1_200_000),
    ("3.5 mln units", 3_500_000),
    ("over 1 Million units", 1_000_000),
    # Indian English: lakh (100,000), crore (10 million), digits grouped in twos
    ("three lakh SUVs", 300_000),
    ("1.5 lakh units", 150_000),
    ("10 lakhs of scooters", 1_000_000),
    ("2,00,000 scooters", 200_000),
    ("12,50,000 cars", 1_250_000),
    ("one crore", 10_000_000),
])
def test_quantity_forms(text: str, value: int) -> None:
    assert [v for _, _, v in quantities(text)] == [value]


def test_a_bare_word_number_is_not_a_quantity() -> None:
    assert quantities("one of the plants") == []


def test_indian_grouping_needs_a_last_group_of_three() -> None:
    assert [v for _, _, v in quantities("2,00,00 cars")] != [200_000]
    assert [v for _, _, v in quantities("1,500,000 cars")] == [1_500_000]

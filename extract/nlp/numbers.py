"""Quantities as news writes them -> plain integers.

"150,000", "150.000" (a European thousands separator), "150 000", "150k", "1.5 million",
"1.5m", "one million", "half a million", "two hundred thousand", and Indian English's lakh
(100,000) and crore (10 million): "three lakh", "1.5 lakh", "2,00,000" (digits grouped in
twos above the thousands).
"""

from __future__ import annotations

import re

WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "half a": 0.5, "a half": 0.5,
    "a quarter of a": 0.25, "quarter of a": 0.25, "three quarters of a": 0.75,
}
SCALES = {"thousand": 1_000, "k": 1_000, "million": 1_000_000, "mn": 1_000_000, "m": 1_000_000,
          "mln": 1_000_000, "hundred thousand": 100_000, "lakh": 100_000, "lakhs": 100_000,
          "lac": 100_000, "crore": 10_000_000, "crores": 10_000_000}
# The pattern is verbose (re.X), so the spaces inside words are written as \s+.
WORD_NUM = "|".join(sorted((w.replace(" ", r"\s+") for w in WORDS), key=len, reverse=True))
SCALE = r"hundred\s+thousand|thousand|million|mln|mn|m|k|lakhs?|lac|crores?"

# Digits grouped by commas, dots, spaces or thin spaces, or a plain/decimal number; then an
# optional scale word. A lone "m"/"k" must touch the number or follow one space and end a
# word ("1.5m units", "150k").
QUANTITY = re.compile(
    rf"""(?<![\w.,])
    (?:
      (?P<indian>\d{{1,2}}(?:,\d\d)+,\d{{3}})(?![\d,])
      |(?P<digits>\d{{1,3}}(?:(?P<sep>[,.\u00a0\u202f ])\d{{3}})(?:(?P=sep)\d{{3}})*(?!\d)
        |\d+(?:\.\d+)?)
      |(?P<word>{WORD_NUM})
    )
    (?:[\s-]?(?P<scale>{SCALE})\b)?
    """,
    re.I | re.X,
)


def value(match: re.Match[str]) -> int | None:
    """The integer a QUANTITY match stands for, or None for a bare word with no scale."""
    scale = " ".join((match.group("scale") or "").lower().split())
    if match.group("word"):
        if not scale:
            return None
        base = WORDS[" ".join(match.group("word").lower().split())]
    elif match.group("indian"):
        base = int(match.group("indian").replace(",", ""))
    else:
        digits = match.group("digits")
        sep = match.group("sep")
        if sep:
            # A group separator followed by exactly three digits: "150.000" is 150000,
            # "1,5" never reaches here. But "1.5 million" is a decimal with a scale.
            if sep == "." and scale and digits.count(".") == 1:
                base = float(digits)
            else:
                base = int(re.sub(r"\D", "", digits))
        else:
            base = float(digits)
    return int(round(base * SCALES.get(scale, 1)))


def quantities(text: str) -> list[tuple[int, int, int]]:
    """(start, end, value) of every quantity in `text`."""
    found = []
    for m in QUANTITY.finditer(text):
        v = value(m)
        if v is not None:
            found.append((m.start(), m.end(), v))
    return found

"""The article text of report.html with its facts marked, displaCy-like: company names,
the sentences deals and capacities were read from, and capacity figures. The marks come
from what the extraction recorded (surface forms, evidence sentences, figures), so the
model is not run again; the text in between is escaped character for character.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from extract.nlp.numbers import QUANTITY, value
from extract.records import Capacity, Deal, Facts


def esc(text: object) -> str:
    """Text for HTML content or a quoted attribute."""
    return html.escape("" if text is None else str(text), quote=True)


def locate(text: str, phrase: str) -> tuple[int, int] | None:
    """Where `phrase` stands in `text`, whatever whitespace lies between its words."""
    words = phrase.split()
    if not words:
        return None
    found = re.search(r"\s+".join(re.escape(w) for w in words), text)
    return found.span() if found else None


def sentence_spans(text: str, facts: Facts) -> list[tuple[int, int, set[str], list[str]]]:
    """The evidence sentences of deals and capacities, overlapping ones merged."""
    spans = []
    for kind, items in (("deal", facts.deals), ("capacity", facts.capacities)):
        for item in items:
            # Evidence may join two sentences that are apart in the text ("it" resolved
            # from an earlier one): then each sentence is found on its own.
            pieces = [item.evidence, *re.split(r"(?<=[.!?])\s+", item.evidence)]
            whole = locate(text, pieces[0])
            for where in [whole] if whole else [locate(text, p) for p in pieces[1:]]:
                if where:
                    spans.append((*where, kind, describe(item)))
    merged: list[tuple[int, int, set[str], list[str]]] = []
    for start, end, kind, note in sorted(spans, key=lambda s: (s[0], -s[1])):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2] | {kind}, [*last[3], note])
        else:
            merged.append((start, end, {kind}, [note]))
    return merged


def describe(item: Deal | Capacity) -> str:
    """A fact in a few words, for a highlight's tooltip."""
    if isinstance(item, Deal):
        return f"{item.acquirer} → {item.target}: {item.deal_type}, {item.status}"
    return f"{item.company}: {item.units_per_year:,} a year ({item.kind})"


def word_spans(text: str, facts: Facts,
               sentences: Sequence[tuple[int, int, set[str], list[str]]],
               ) -> list[tuple[int, int, str, str]]:
    """Company surface forms anywhere, capacity figures inside their evidence sentences."""
    spans: list[tuple[int, int, str, str]] = []
    forms = {f: c.company for c in facts.companies for f in c.surface_forms if f.strip()}
    if forms:
        names = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
        for m in re.finditer(rf"(?<!\w)(?:{names})(?!\w)", text):
            spans.append((m.start(), m.end(), "org", forms[m.group()]))
    units = {c.units_per_year for c in facts.capacities}
    for start, end, kinds, _ in sentences:
        if "capacity" not in kinds:
            continue
        for m in QUANTITY.finditer(text, start, end):
            if value(m) in units:
                spans.append((m.start(), m.end(), "qty", f"{value(m):,} units a year"))
    chosen: list[tuple[int, int, str, str]] = []
    for span in sorted(spans, key=lambda s: (s[0], -s[1])):
        inside_one = all(not (s < span[1] and span[0] < e) or (s <= span[0] and span[1] <= e)
                         for s, e, _, _ in sentences)
        if inside_one and (not chosen or span[0] >= chosen[-1][1]):
            chosen.append(span)
    return chosen


def highlight(text: str, facts: Facts) -> str:
    """The article text as escaped HTML with its facts marked (nested, displaCy-like)."""
    sentences = sentence_spans(text, facts)
    words = iter(word_spans(text, facts, sentences))
    pending = next(words, None)
    out: list[str] = []

    def plain(start: int, end: int) -> None:
        nonlocal pending
        pos = start
        while pending and pending[0] < end:
            s, e, kind, note = pending
            tag = "org" if kind == "org" else "units/yr"
            out.append(f'{esc(text[pos:s])}<mark class="ent {kind}" title="{esc(note)}">'
                       f'{esc(text[s:e])}<span class="tag">{tag}</span></mark>')
            pos = e
            pending = next(words, None)
        out.append(esc(text[pos:end]))

    pos = 0
    for start, end, kinds, notes in sentences:
        plain(pos, start)
        classes = " ".join(sorted(kinds))
        out.append(f'<mark class="sent {classes}" title="{esc("; ".join(notes))}">')
        plain(start, end)
        out.append(f'<span class="tag">{esc(" + ".join(sorted(kinds)))}</span></mark>')
        pos = end
    plain(pos, len(text))
    return "".join(out)


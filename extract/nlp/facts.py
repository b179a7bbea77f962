"""Extract stage: `Article` -> `Facts`, through the spaCy pipeline."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator

from spacy.language import Language
from spacy.tokens import Doc

from extract.errors import ExtractError
from extract.nlp import extensions  # noqa: F401  (declares doc._.ev_title)
from extract.nlp.relevance import relevance
from extract.records import Article, CompanyMention, Facts

# spaCy's tokenizer splits a long run without spaces one affix at a time, searching the
# rest again each time: 16,000 emoji in a row cost half a minute. No fact lives in such a
# run, so the model reads only its start (the article's own text is left as it is).
MAX_RUN = 100
LONG_RUN = re.compile(rf"\S{{{MAX_RUN + 1},}}")
# Longer texts are refused as too_complex: a long feature is about 60,000 characters.
MAX_CHARS = 500_000


def facts_from_doc(doc: Doc) -> Facts:
    """A pure function from an annotated Doc to the facts it holds."""
    counts: dict[str, int] = defaultdict(int)
    forms: dict[str, set[str]] = defaultdict(set)
    for m in doc._.ev_companies or []:
        counts[m.company] += 1
        forms[m.company].add(m.text)
    companies = tuple(CompanyMention(c, counts[c], tuple(sorted(forms[c]))) for c in counts)
    return Facts(companies=companies, deals=tuple(doc._.ev_deals or ()),
                 capacities=tuple(doc._.ev_capacities or ()), relevance=relevance(doc))


def extract_many(nlp: Language, articles: Iterable[Article],
                 batch_size: int = 32) -> Iterator[tuple[Article, Facts]]:
    """Facts for each article, in order, with the model run in batches."""
    pairs = ((make_doc(nlp, a), a) for a in articles)
    for doc, article in nlp.pipe(pairs, as_tuples=True, batch_size=batch_size):
        yield article, facts_from_doc(doc)


def make_doc(nlp: Language, article: Article) -> Doc:
    """The article's text as a Doc that carries its headline for the components."""
    doc = nlp.make_doc(LONG_RUN.sub(lambda m: m.group()[:MAX_RUN], article.text))
    doc._.ev_title = article.title
    return doc


def extract(nlp: Language, article: Article) -> Facts:
    return facts_from_doc(nlp(make_doc(nlp, article)))


def extract_all(nlp: Language, articles: list[Article], batch_size: int = 32,
                max_chars: int = MAX_CHARS
                ) -> tuple[list[tuple[Article, Facts]], list[tuple[Article, ExtractError]]]:
    """Facts for each article, batched; an article the pipeline fails on is an
    ExtractError of its own instead of the end of the batch, and one over `max_chars` is
    refused as too_complex before the model sees it."""
    too_long = [(a, ExtractError(f"{len(a.text):,} characters of text, over the "
                                 f"{max_chars:,} the extraction takes", code="too_complex"))
                for a in articles if len(a.text) > max_chars]
    articles = [a for a in articles if len(a.text) <= max_chars]
    results, failed = extract_each(nlp, articles, batch_size)
    return results, too_long + failed


def extract_each(nlp: Language, articles: list[Article], batch_size: int
                 ) -> tuple[list[tuple[Article, Facts]], list[tuple[Article, ExtractError]]]:
    try:
        return list(extract_many(nlp, articles, batch_size)), []
    except Exception:  # noqa: BLE001 (any failure inside spaCy or a rule: find the article)
        results, failed = [], []
        for article in articles:
            try:
                results.append((article, extract(nlp, article)))
            except Exception as exc:  # noqa: BLE001 (recorded as this article's failure)
                failed.append((article, ExtractError(
                    f"extraction failed ({type(exc).__name__}: {exc})")))
        return results, failed

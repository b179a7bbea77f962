"""The learned deal layer: a second opinion on deals from classifiers over company pairs.

For every sentence naming two or more companies, each ordered pair (A, B) becomes one
example: the sentence, lower-cased, with A's mentions as `ENTA`, B's as `ENTB`, the others'
as `ENTX`, cut to a few tokens around the pair, prefixed by the companies' gazetteer kinds
and the rules' verdict on the pair. A `textcat_multilabel` pipeline gives p(type) with A as
acquirer; a `textcat` pipeline gives a deal's status (see below). Both are trained
with `spacy train` (`scripts/train_pairs.py`, configs in `training/`) and shipped in
`models/`.

`ev_deal_pairs` combines them with the rules as measured best on the real-text dev split
(`training/README.md`): the model adds a deal (p >= `t_add`) only where the rules are
silent: on a pair of companies the rules gave no deal (`add_where = "newpair"`), in a text
where they found none at all (`"silent"`), or wherever the rules did not give that very
deal (`"union"`: also another type for a pair the rules read); it removes a rule deal only
when it is nearly sure the pair has no such deal (p < `t_veto`). The status model gives the
status of the deals the model adds and, with `status_from = "model_on_default"`, of the
rule deals whose status the rules read from no explicit wording (their default
`completed`, or `planned` from a future in a sentence that also reports an agreement that
is not preliminary); the rules' `agreed`, `rumored` and `dissolved` stand. Every deal
records which part made it (`Deal.method`: `rule`, `model`, or `rule+model` for a rule
deal whose status the model changed). `doc._.ev_deal_rules` keeps the rules' own output,
vetoed deals included.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Self

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span

from extract.errors import PipelineError
from extract.nlp.deals import year_near
from extract.nlp.extensions import COMPANIES, DEALS, doc_attr
from extract.records import Deal

LABELS = ("acquisition", "contract_manufacturing", "joint_venture", "license")
STATUSES = ("completed", "agreed", "planned", "rumored", "dissolved")
SYMMETRIC = frozenset({"joint_venture"})
META = "pairs.json"  # how a model's examples are made, beside its pipeline
MODELS = "models"  # the shipped models, in this package
DEAL_MODEL, STATUS_MODEL = "deals_pairs", "status_pairs"
ADD_WHERE = ("newpair", "silent", "union")  # where the model may add: the module's docstring
# Whose status a rule deal gets: the rules' ("rules"), or the status model's when the rules
# read no explicit wording ("model_on_default": their status is one of RESTATUS).
STATUS_FROM = ("rules", "model_on_default")
# A bare future ("will build") is `planned` by the conventions when no agreement is
# mentioned; when the sentence reports one, the status model decides.
REPORTED_DEAL = re.compile(r"\b(?:agree(?:d|ment)s?|deals?|contracts?|signed|signs|pacts?|"
                           r"partnership|alliance|tie-?up|under\s+which)\b", re.I)
# ... but not a preliminary one: a memorandum, a letter of intent, a term sheet stay
# `planned` (the conventions; the words of `preliminary` in patterns/deals.json).
PRELIMINARY = re.compile(r"\b(?:non-?binding|memorand\w*|MoUs?|letters?\s+of\s+intent|"
                         r"term\s+sheets?)\b", re.I)
Key = tuple[str, str]
Triple = tuple[str, str, str]


@dataclass(frozen=True)
class Marking:
    """How examples are made: the window, a crop around the pair (tokens kept on each side
    of the pair's mentions; 0: none), whether the companies' kinds and the dependency path
    between them are a prefix, and whether the rules' verdict is (`hint`)."""

    context: str = "sent"  # "sent", or "window": the previous sentence and this one
    crop: int = 0
    kinds: bool = False
    path: bool = False
    hint: str = "none"  # "none" | "rules"

    @classmethod
    def of(cls, meta: dict[str, Any]) -> Marking:
        return cls(**{k: meta[k] for k in cls.__dataclass_fields__ if k in meta})


@dataclass(frozen=True)
class Example:
    a: str
    b: str
    text: str  # the marked window, without the rules' hint
    window: Span = field(compare=False, repr=False)


def mention_tokens(doc: Doc, m: Any) -> tuple[int, int] | None:
    """A mention's token range, whether it holds token or char offsets."""
    start, end = m.start, m.end
    if 0 <= start < end <= len(doc) and doc[start:end].text == m.text:
        return start, end
    span = doc.char_span(start, end, alignment_mode="expand")
    return (span.start, span.end) if span is not None else None


def windows(doc: Doc, context: str) -> list[Span]:
    sents = list(doc.sents)
    if context == "sent":
        return sents
    return [doc[(sents[i - 1] if i else s).start:s.end] for i, s in enumerate(sents)]


def examples(doc: Doc, how: Marking) -> list[Example]:
    """One example per ordered pair of distinct companies named in a window."""
    mentions = doc._.ev_companies or []
    spans = [(r, m.company) for m in mentions if (r := mention_tokens(doc, m)) is not None]
    kind = {m.company: getattr(m, "kind", "") or "other" for m in mentions}
    out = []
    for win in windows(doc, how.context):
        inside = [(r, c) for r, c in spans if win.start <= r[0] and r[1] <= win.end]
        names = list(dict.fromkeys(c for _, c in inside))
        for a in names:
            for b in names:
                if a != b:
                    text = marked(win, inside, a, b, how.crop)
                    if how.path:
                        text = f"{dep_path(doc, inside, a, b)} {text}"
                    if how.kinds:
                        text = f"AKIND_{kind[a]} BKIND_{kind[b]} {text}"
                    out.append(Example(a, b, text, win))
    return out


def dep_path(doc: Doc, inside: list[tuple[tuple[int, int], str]], a: str, b: str) -> str:
    """Words for the parse path between the closest mentions of a and b: its full shape,
    the word where the two branches meet, the first dependency on each side."""
    ra, rb = min(((doc[x[0]:x[1]].root, doc[y[0]:y[1]].root)
                  for x, ca in inside if ca == a for y, cb in inside if cb == b),
                 key=lambda p: abs(p[0].i - p[1].i))
    up_a, up_b = [ra, *ra.ancestors], [rb, *rb.ancestors]
    on_b = {t.i: n for n, t in enumerate(up_b)}
    meet = next((n for n, t in enumerate(up_a) if t.i in on_b), None)
    if meet is None:
        return "PATH_none"
    top = up_a[meet]
    deps_a = [t.dep_ for t in up_a[:meet]]
    deps_b = [t.dep_ for t in up_b[:on_b[top.i]]]
    word = ("enta" if top == ra else "entb" if top == rb
            else re.sub(r"\W", "", top.lower_) or "x")
    words = [f"PW_{w}" for t in [*up_a[1:meet], *up_b[1:on_b[top.i]]]
             if (w := re.sub(r"\W", "", t.lower_))]
    shape = "_".join([*deps_a, "UP", word, "DOWN", *reversed(deps_b)])
    return " ".join([f"PATH_{shape}", f"PTOP_{word}", f"PA_{'_'.join(deps_a[:1]) or 'top'}",
                     f"PB_{'_'.join(deps_b[:1]) or 'top'}", *words])


def marked(win: Span, inside: list[tuple[tuple[int, int], str]], a: str, b: str,
           crop: int) -> str:
    """The window's text, lower-cased, with the companies' mentions replaced by marks."""
    starts = {r[0]: (r[1], c) for r, c in inside}
    lo, hi = win.start, win.end
    if crop:
        ends = [r for r, c in inside if c in (a, b)]
        lo = max(lo, min(r[0] for r in ends) - crop)
        hi = min(hi, max(r[1] for r in ends) + crop)
    parts, i = [], lo
    doc = win.doc
    while i < hi:
        if i in starts:
            end, company = starts[i]
            mark = "ENTA" if company == a else "ENTB" if company == b else "ENTX"
            parts.append(mark + doc[end - 1].whitespace_)
            i = end
        else:
            parts.append(doc[i].lower_ + doc[i].whitespace_)
            i += 1
    return "".join(parts).strip()


def rule_verdicts(deals: Iterable[Deal]) -> dict[Key, dict[str, str]]:
    """The rules' deals: (acquirer, target) -> {deal type: status}."""
    found: dict[Key, dict[str, str]] = defaultdict(dict)
    for d in deals:
        found[(d.acquirer, d.target)].setdefault(d.deal_type, d.status)
    return found


def deal_text(ex: Example, rules: dict[Key, dict[str, str]], how: Marking) -> str:
    if how.hint != "rules":
        return ex.text
    words = [f"RULE_{t}" for t in sorted(rules.get((ex.a, ex.b), {}))]
    words += [f"RULEREV_{t}" for t in sorted(rules.get((ex.b, ex.a), {}))]
    return f"{' '.join(words) or 'RULE_none'} {ex.text}"


def status_text(ex: Example, deal_type: str, rules: dict[Key, dict[str, str]],
                how: Marking) -> str:
    prefix = f"TYPE_{deal_type}"
    if how.hint == "rules":
        prefix += f" RSTAT_{rules.get((ex.a, ex.b), {}).get(deal_type, 'none')}"
    return f"{prefix} {ex.text}"


@dataclass
class PairModel:
    """One trained pair classifier: its spaCy pipeline and how its examples are made."""

    nlp: Language
    meta: dict[str, Any]

    @property
    def how(self) -> Marking:
        return Marking.of(self.meta)

    @classmethod
    def load(cls, folder: Path | Any) -> PairModel:
        """A model's folder as `scripts/train_pairs.py` writes it: `model-best` + META."""
        try:
            meta = json.loads(folder.joinpath(META).read_text(encoding="utf-8"))
            return cls(spacy.load(Path(str(folder.joinpath("model-best")))), meta)
        except (OSError, ValueError) as exc:
            raise PipelineError(f"{folder}: cannot load the pair model ({exc})") from None

    def to_disk(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.nlp.to_disk(folder / "model-best")
        (folder / META).write_text(json.dumps(self.meta, indent=1) + "\n", encoding="utf-8")

    def cats(self, texts: list[str]) -> list[dict[str, float]]:
        return [d.cats for d in self.nlp.pipe(texts, batch_size=256)]


@dataclass
class Opinion:
    """What the deal model says of one text: p per (acquirer, target, type), with the
    window where it was most sure, and the one direction per pair and type it may add."""

    probs: dict[Triple, float]
    where: dict[Triple, Span]
    best: list[Triple]


def opinion(doc: Doc, rules: dict[Key, dict[str, str]], model: PairModel) -> Opinion:
    exs = examples(doc, model.how)
    raw: dict[Triple, float] = {}
    where: dict[Triple, Span] = {}
    for ex, cats in zip(exs, model.cats([deal_text(e, rules, model.how) for e in exs]),
                        strict=True):
        for label, p in cats.items():
            key = (ex.a, ex.b, label)
            if p > raw.get(key, -1.0):
                raw[key], where[key] = p, ex.window
    order: dict[str, int] = {}
    for m in doc._.ev_companies or []:
        order.setdefault(m.company, m.start)
    probs = {(a, b, t): max(p, raw.get((b, a, t), 0.0)) if t in SYMMETRIC else p
             for (a, b, t), p in raw.items()}
    best = []
    for (a, b, t), p in probs.items():
        other = probs.get((b, a, t), 0.0)
        if t in SYMMETRIC:  # a venture's direction: the order of first mention
            if order.get(a, 0) < order.get(b, 0):
                best.append((a, b, t))
        elif p > other or (p == other and a < b):
            best.append((a, b, t))
    return Opinion(probs, where, best)


@Language.factory(
    "ev_deal_pairs_v1",
    default_config={"t_add": 0.7, "t_veto": 0.05, "add_where": "union",
                    "status_from": "model_on_default"},
    requires=[doc_attr(COMPANIES), doc_attr(DEALS), "doc.sents"],
    assigns=[doc_attr(DEALS)],
)
def make_deal_pairs(nlp: Language, name: str, t_add: float, t_veto: float,
                    add_where: str, status_from: str) -> DealPairs:
    return DealPairs(name, t_add, t_veto, add_where, status_from)


class DealPairs:
    """Pipeline component after `ev_deals`: the learned second opinion on its deals."""

    def __init__(self, name: str, t_add: float, t_veto: float,
                 add_where: str = "newpair", status_from: str = "model_on_default") -> None:
        for key, value, allowed in (("add_where", add_where, ADD_WHERE),
                                    ("status_from", status_from, STATUS_FROM)):
            if value not in allowed:
                raise PipelineError(f"{name}: {key} must be one of {', '.join(allowed)}, "
                                    f"not {value!r}")
        self.name = name
        self.t_add, self.t_veto, self.add_where = t_add, t_veto, add_where
        self.status_from = status_from
        self.deal_model: PairModel | None = None
        self.status_model: PairModel | None = None

    def initialize(self, get_examples: Callable[[], Iterable[object]] | None = None, *,
                   nlp: object = None, models: str | None = None) -> None:
        """Read the models: the packaged ones, or those of the folder `models`."""
        root: Any = Path(models) if models else resources.files("extract.nlp").joinpath(MODELS)
        self.deal_model = PairModel.load(root.joinpath(DEAL_MODEL))
        self.status_model = PairModel.load(root.joinpath(STATUS_MODEL))

    def models(self) -> tuple[PairModel, PairModel]:
        if self.deal_model is None or self.status_model is None:
            raise PipelineError(f"{self.name}: no models loaded (call initialize(), or load "
                                "a saved pipeline)")
        return self.deal_model, self.status_model

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        deal, status = self.models()
        deal.to_disk(Path(path) / DEAL_MODEL)
        status.to_disk(Path(path) / STATUS_MODEL)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> Self:
        self.initialize(models=str(path))
        return self

    def __call__(self, doc: Doc) -> Doc:
        found = list(doc._.ev_deals or [])
        if len({m.company for m in doc._.ev_companies or []}) < 2:
            return doc
        deal_model, status_model = self.models()
        rules = rule_verdicts(found)
        said = opinion(doc, rules, deal_model)
        kept = [d for d in found
                if said.probs.get((d.acquirer, d.target, d.deal_type), 1.0) >= self.t_veto]
        ruled = {frozenset((d.acquirer, d.target)) for d in found}
        have = {(d.acquirer, d.target, d.deal_type) for d in kept}
        added = [k for k in said.best if said.probs[k] >= self.t_add
                 and not (found and self.add_where == "silent")
                 and (k not in have if self.add_where == "union"
                      else frozenset(k[:2]) not in ruled)]
        asked = [(d.acquirer, d.target, d.deal_type) for d in kept
                 if self.status_from == "model_on_default" and by_default(d)]
        status = statuses(doc, [*asked, *added], rules, status_model)
        kept = [restatus(d, status.get((d.acquirer, d.target, d.deal_type))) for d in kept]
        doc._.ev_deals = kept + self.deals(doc, added, said, status)
        return doc

    def deals(self, doc: Doc, added: list[Triple], said: Opinion,
              status: dict[Triple, str]) -> list[Deal]:
        """The model's deals, each with the status the status model gives, the year
        nearest the pair in its best window, and that window as evidence."""
        out = []
        for key in sorted(added, key=lambda k: (said.where[k].start, k)):
            a, b, t = key
            window = said.where[key]
            text = window.text.strip()
            names = [m for m in doc._.ev_companies or []
                     if m.company in (a, b) and window.start <= m.start < window.end]
            lo = min((m.start for m in names), default=window.start)
            hi = max((m.end for m in names), default=window.end)
            start = doc[lo].idx - window.start_char
            end = doc[hi - 1].idx + len(doc[hi - 1]) - window.start_char
            out.append(Deal(a, b, t, status.get(key, "agreed"),
                            year_near(window.text, start, end), text, method="model"))
        return out


def statuses(doc: Doc, keys: list[Triple], rules: dict[Key, dict[str, str]],
             model: PairModel) -> dict[Triple, str]:
    """The status model's answer for each deal: its p summed over the windows naming the
    pair (either order), the largest sum winning."""
    if not keys:
        return {}
    by_pair: dict[Key, list[Example]] = defaultdict(list)
    for ex in examples(doc, model.how):
        by_pair[(ex.a, ex.b)].append(ex)
    asked, texts = [], []
    for a, b, t in keys:
        for ex in by_pair.get((a, b), []) or by_pair.get((b, a), []):
            asked.append((a, b, t))
            texts.append(status_text(ex, t, rules, model.how))
    summed: dict[Triple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for key, cats in zip(asked, model.cats(texts), strict=True):
        for s, p in cats.items():
            summed[key][s] += p
    return {key: max(ps, key=ps.__getitem__) for key, ps in summed.items()}


def by_default(deal: Deal) -> bool:
    """Whether the rules read a deal's status from no explicit wording: their default
    `completed`, or `planned` from a future in a sentence that reports an agreement that
    is not preliminary."""
    return deal.status == "completed" or (deal.status == "planned"
                                          and REPORTED_DEAL.search(deal.evidence) is not None
                                          and PRELIMINARY.search(deal.evidence) is None)


def restatus(deal: Deal, status: str | None) -> Deal:
    """A rule deal with the status model's status; `method` says the model changed it."""
    if status is None or status == deal.status:
        return deal
    return replace(deal, status=status, method="rule+model")

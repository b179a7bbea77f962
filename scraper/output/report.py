"""report.html: one self-contained page to look at after a run.

It shows the run's summary, the deals and capacities tables of the output folder, a chart
of announced capacity by company and year (inline SVG), and each article of the run with
its companies, deals and capacity phrases highlighted. The highlights come from what the
extraction recorded (surface forms, evidence sentences); the model is not run again.
Everything from a page is untrusted: it is escaped, links are http(s) only, and a
Content-Security-Policy forbids scripts and any network request.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from extract.nlp.numbers import QUANTITY, value
from extract.records import Article, Capacity, Deal, Facts
from scraper.core.records import Failure
from scraper.output.store import write_atomic

REPORT_NAME = "report.html"
MAX_ARTICLES = 200  # a crawl of thousands would make a page no browser wants to open
MAX_COMPANIES = 25
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
DEAL_COLUMNS = ("published", "acquirer", "target", "deal_type", "status", "year", "evidence")
CAPACITY_COLUMNS = ("published", "company", "facility", "units_per_year", "kind", "year",
                    "evidence")
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;
 color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.evidence{max-width:40em;color:#444}
.summary td:first-child{font-weight:600;width:12em}
.text{white-space:pre-wrap;max-width:60em}
mark{border-radius:.3em;padding:0 .15em;color:inherit}
mark.sent{background:#e8f0fe}mark.sent.capacity{background:#e6f4ea}
mark.sent.deal.capacity{background:#fdf3d8}
mark.ent{background:#ffe08a;font-weight:600}mark.ent.qty{background:#9fe0b0}
.tag{font-size:.7em;font-weight:700;text-transform:uppercase;margin-left:.3em;
 vertical-align:middle;color:#555}
.chips span{display:inline-block;background:#eee;border-radius:1em;padding:0 .6em;
 margin:.1em}
.legend mark{margin-right:1em}.muted{color:#777}
article{border-top:1px solid #ddd;padding-top:.5em}
"""


def esc(value: object) -> str:
    """Text for HTML content or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def read_csv(path: Path) -> list[dict[str, str]]:
    """A table of the output folder as dicts (empty when missing)."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def link(url: str, label: str) -> str:
    """A link for http(s) URLs only; anything else (javascript:, data:) is plain text."""
    if re.match(r"https?://", url, re.I):
        return f'<a href="{esc(url)}" rel="noreferrer noopener">{esc(label)}</a>'
    return esc(label)


def table(table_id: str, rows: Sequence[dict[str, str]], columns: Sequence[str],
          first: str = "article") -> str:
    """An HTML table of `columns`, each row's article_id first, linked through its url."""
    if not rows:
        return f'<p class="muted" id="{table_id}-empty">No rows yet.</p>'
    head = "".join(f"<th>{esc(c)}</th>" for c in (first, *columns))
    body = []
    for row in rows:
        cells = [f"<td>{link(row.get('url', ''), row.get('article_id', ''))}</td>"]
        for c in columns:
            value = row.get(c, "")
            if c in ("units_per_year", "year") and value.isdigit():
                shown = f"{int(value):,}" if c == "units_per_year" else value
                cells.append(f'<td class="num">{esc(shown)}</td>')
            else:
                cells.append(f'<td class="{esc(c)}">{esc(value)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table id="{table_id}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def capacity_points(rows: Iterable[dict[str, str]]) -> dict[str, dict[str, int]]:
    """company -> year -> the largest capacity announced for it (units per year).

    The largest, not the sum: the same plant is reported by many articles, and a phase
    and the plant's total often appear side by side.
    """
    points: dict[str, dict[str, int]] = {}
    for row in rows:
        units = row.get("units_per_year", "")
        if not units.isdigit():
            continue
        year = row.get("year") or "no year"
        by_year = points.setdefault(row.get("company", "") or "?", {})
        by_year[year] = max(by_year.get(year, 0), int(units))
    return points


def chart(rows: Iterable[dict[str, str]]) -> str:
    """A horizontal grouped bar chart (inline SVG) of capacity by company and year."""
    points = capacity_points(rows)
    if not points:
        return '<p class="muted" id="chart-empty">No capacities yet.</p>'
    companies = sorted(points, key=lambda c: (-max(points[c].values()), c))[:MAX_COMPANIES]
    years = sorted({y for c in companies for y in points[c]})
    colour = {y: PALETTE[i % len(PALETTE)] for i, y in enumerate(years)}
    top = max(max(points[c].values()) for c in companies)
    label_w, bar_w, bar_h, gap = 150, 520, 14, 10
    parts, y = [], 30
    for company in companies:
        group_top = y
        for year in years:
            if year not in points[company]:
                continue
            units = points[company][year]
            w = max(1, round(bar_w * units / top))
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" '
                f'fill="{colour[year]}"><title>{esc(company)} {esc(year)}: {units:,}'
                f'</title></rect>'
                f'<text x="{label_w + w + 4}" y="{y + bar_h - 3}" font-size="11">'
                f'{units:,} ({esc(year)})</text>')
            y += bar_h + 2
        parts.append(f'<text x="{label_w - 6}" y="{(group_top + y) / 2 + 4:.0f}" '
                     f'font-size="12" text-anchor="end">{esc(company)}</text>')
        y += gap
    legend = "".join(
        f'<rect x="{label_w + i * 90}" y="6" width="12" height="12" fill="{colour[yr]}"/>'
        f'<text x="{label_w + i * 90 + 16}" y="16" font-size="12">{esc(yr)}</text>'
        for i, yr in enumerate(years))
    width = label_w + bar_w + 140
    return (f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{y + 4}" viewBox="0 0 {width} {y + 4}" role="img" '
            f'aria-label="Announced capacity by company and year">'
            f'<title>Announced capacity by company and year</title>{legend}'
            f'{"".join(parts)}</svg>')


def summary_block(results: Sequence[tuple[Article, Facts]], failures: Sequence[Failure],
                  seconds: float, out_dir: Path, generated_at: str) -> str:
    """The run's numbers and its failures."""
    totals = (("generated", generated_at), ("output folder", str(out_dir)),
              ("inputs", len(results) + len(failures)), ("articles", len(results)),
              ("companies", sum(len(f.companies) for _, f in results)),
              ("deals", sum(len(f.deals) for _, f in results)),
              ("capacities", sum(len(f.capacities) for _, f in results)),
              ("failed", len(failures)), ("seconds", f"{seconds:.1f}"))
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in totals)
    out = f'<table class="summary" id="summary"><tbody>{rows}</tbody></table>'
    if failures:
        fail_rows = [{"url": "", "article_id": f.input, **vars(f)} for f in failures]
        out += "<h3>Failed inputs</h3>" + table(
            "failures", fail_rows, ("url", "stage", "error", "message", "at"), first="input")
    return out


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


def article_block(article: Article, facts: Facts) -> str:
    """One article: its facts as lists, then its text with the facts highlighted."""
    chips = "".join(f"<span>{esc(c.company)} ×{c.mentions}</span>" for c in facts.companies)
    deals = "".join(
        f"<li>{esc(d.acquirer)} → {esc(d.target)}: {esc(d.deal_type)}, {esc(d.status)}"
        f"{', ' + esc(d.year) if d.year else ''}</li>" for d in facts.deals)
    caps = "".join(
        f"<li>{esc(c.company)}{' · ' + esc(c.facility) if c.facility else ''}: "
        f"{c.units_per_year:,} a year, {esc(c.kind)}{', ' + esc(c.year) if c.year else ''}"
        f"</li>" for c in facts.capacities)
    meta = " · ".join(esc(v) for v in (article.site, article.author, article.published) if v)
    return (f'<article id="a-{esc(article.article_id)}">'
            f"<h3>{link(article.url, article.title or article.url)}</h3>"
            f'<p class="muted">{meta}</p>'
            f'<p class="chips">{chips or "<i>no companies</i>"}</p>'
            f"{'<ul class=deals>' + deals + '</ul>' if deals else ''}"
            f"{'<ul class=capacities>' + caps + '</ul>' if caps else ''}"
            f'<div class="text">{highlight(article.text, facts)}</div></article>')


def render(out_dir: Path, results: Sequence[tuple[Article, Facts]],
           failures: Sequence[Failure], seconds: float, generated_at: str) -> str:
    """The whole page as a string."""
    deals = read_csv(out_dir / "deals.csv")
    capacities = read_csv(out_dir / "capacities.csv")
    shown = results[:MAX_ARTICLES]
    more = (f'<p class="muted">and {len(results) - len(shown)} more articles '
            f"(see articles.csv)</p>" if len(results) > len(shown) else "")
    articles = "".join(article_block(a, f) for a, f in shown) or '<p class="muted">None.</p>'
    legend = ('<p class="legend"><mark class="ent">company<span class="tag">org</span></mark>'
              '<mark class="sent deal">deal sentence</mark>'
              '<mark class="sent capacity">capacity sentence</mark>'
              '<mark class="ent qty">capacity<span class="tag">units/yr</span></mark></p>')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EV news report</title><style>{STYLE}</style></head>
<body>
<h1>EV news report</h1>
<h2 id="run">This run</h2>
{summary_block(results, failures, seconds, out_dir, generated_at)}
<h2>Deals <span class="muted">({len(deals)}, all articles in the folder)</span></h2>
{table("deals", deals, DEAL_COLUMNS)}
<h2>Capacities <span class="muted">({len(capacities)}, all articles in the folder)</span></h2>
{table("capacities", capacities, CAPACITY_COLUMNS)}
<h2>Announced capacity by company and year</h2>
<p class="muted">Units per year; for each company and year the largest figure announced.</p>
{chart(capacities)}
<h2>Articles of this run</h2>
{legend}
{articles}
{more}
</body></html>
"""


def write_report(out_dir: Path, results: Sequence[tuple[Article, Facts]],
                 failures: Sequence[Failure], seconds: float,
                 generated_at: str | None = None) -> Path:
    """Write `out_dir/report.html` for this run (atomically) and return its path."""
    when = generated_at or datetime.now(UTC).replace(microsecond=0).isoformat()
    path = out_dir / REPORT_NAME
    write_atomic(path, render(out_dir, results, failures, seconds, when).encode("utf-8"))
    return path

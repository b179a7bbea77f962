"""The charts of report.html, as inline SVG drawn from table rows: deals by month and
announced capacity by company and year. Every bar carries a <title> (the browser shows it
on hover) naming the articles its figure comes from. All text is escaped; no scripts.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

Row = Mapping[str, str]
# A row's article in a few words ("Headline — Site, 2024-03-15"), for a bar's tooltip.
Source = Callable[[Row], str]

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
DEAL_TYPES = ("acquisition", "contract_manufacturing", "joint_venture", "license")
MAX_COMPANIES = 25
MAX_MONTHS = 120  # ten years of bars; older months are counted in a note
MAX_SOURCES = 3  # articles named in one bar's tooltip
MAX_DEALS_IN_TITLE = 8


def esc(value: object) -> str:
    """Text for SVG content or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def svg(svg_id: str, width: int, height: int, label: str, body: str) -> str:
    return (f'<svg id="{svg_id}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{esc(label)}"><title>{esc(label)}</title>{body}</svg>')


def listed(lines: Sequence[str], limit: int, noun: str) -> list[str]:
    """The first `limit` lines, and how many more there are."""
    more = len(lines) - limit
    return [*lines[:limit], *([f"and {more} more {noun}"] if more > 0 else [])]


# Deals by month.

def month_of(published: str) -> str | None:
    """"2024-03" of an ISO date, None when there is none."""
    found = re.match(r"(\d{4})-(\d{2})", published or "")
    return found.group() if found else None


def months_between(first: str, last: str) -> list[str]:
    """Every month from `first` to `last`, both "YYYY-MM", in order."""
    year, month = int(first[:4]), int(first[5:])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def deal_months(rows: Iterable[Row]) -> tuple[dict[str, dict[str, list[Row]]], int]:
    """month -> deal type -> its deals, and how many deals have no date."""
    months: dict[str, dict[str, list[Row]]] = {}
    undated = 0
    for row in rows:
        month = month_of(row.get("published", ""))
        if month is None:
            undated += 1
            continue
        months.setdefault(month, {}).setdefault(row.get("deal_type", "") or "?", []).append(row)
    return months, undated


def deal_timeline(rows: Iterable[Row], source: Source) -> str:
    """Stacked bars of deals per month (by the article's date), one colour per deal type."""
    months, undated = deal_months(rows)
    if not months:
        return '<p class="muted" id="timeline-empty">No dated deals yet.</p>'
    span = months_between(min(months), max(months))
    older = sum(len(d) for m in span[:-MAX_MONTHS] for d in months.get(m, {}).values())
    span = span[-MAX_MONTHS:]
    types = [*DEAL_TYPES, *sorted({t for m in months.values() for t in m} - set(DEAL_TYPES))]
    colour = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(types)}
    top = max(sum(len(d) for d in months.get(m, {}).values()) for m in span)
    left, legend_h, plot_h, step, bar_w = 30, 44, 140, 24, 18
    base = legend_h + plot_h
    parts = [f'<line x1="{left - 4}" y1="{base}" x2="{left + step * len(span)}" y2="{base}" '
             f'stroke="#999"/>',
             f'<text x="{left - 6}" y="{legend_h + 10}" font-size="11" text-anchor="end">'
             f"{top}</text>"]
    for i, month in enumerate(span):
        x, y = left + i * step, float(base)
        for deal_type in types:
            deals = months.get(month, {}).get(deal_type, [])
            if not deals:
                continue
            h = plot_h * len(deals) / top
            lines = [f"{month} · {deal_type}: {len(deals)}",
                     *listed([f"{d.get('acquirer', '')} → {d.get('target', '')} "
                              f"({d.get('status', '')}) — {source(d)}" for d in deals],
                             MAX_DEALS_IN_TITLE, "deals")]
            y -= h
            parts.append(f'<rect class="bar" x="{x}" y="{y:.1f}" width="{bar_w}" '
                         f'height="{h:.1f}" fill="{colour[deal_type]}">'
                         f'<title>{esc(chr(10).join(lines))}</title></rect>')
        total = sum(len(d) for d in months.get(month, {}).values())
        if total:
            parts.append(f'<text x="{x + bar_w / 2}" y="{y - 3:.1f}" font-size="10" '
                         f'text-anchor="middle">{total}</text>')
        parts.append(f'<text x="{x + bar_w / 2}" y="{base + 8}" font-size="10" '
                     f'text-anchor="end" transform="rotate(-60 {x + bar_w / 2} {base + 8})">'
                     f"{esc(month)}</text>")
    legend, x = [], left
    for deal_type in types:
        legend.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour[deal_type]}"/>'
                      f'<text x="{x + 16}" y="16" font-size="12">{esc(deal_type)}</text>')
        x += 16 + 7 * len(deal_type) + 20  # about 7 px a character at 12 px
    width = max(left + step * len(span) + 20, x)
    chart = svg("timeline", width, base + 56, "Deals by month of the article's date",
                "".join(legend + parts))
    notes = [f"{n} {what}" for n, what in ((undated, "deals whose article has no date"),
                                           (older, "deals of earlier months")) if n]
    note = f'<p class="muted">Not drawn: {esc(", ".join(notes))}.</p>' if notes else ""
    return f'<div class="chart">{chart}</div>{note}'


# Capacity by company and year.

@dataclass(frozen=True)
class Point:
    """The largest capacity announced for one company and year, and the rows saying so."""

    units: int
    sources: tuple[Row, ...]


def capacity_points(rows: Iterable[Row]) -> dict[str, dict[str, Point]]:
    """company -> year -> the largest capacity announced for it (units per year).

    The largest, not the sum: the same plant is reported by many articles, and a phase
    and the plant's total often appear side by side.
    """
    points: dict[str, dict[str, Point]] = {}
    for row in rows:
        units = row.get("units_per_year", "")
        if not units.isdigit():
            continue
        year = row.get("year") or "no year"
        by_year = points.setdefault(row.get("company", "") or "?", {})
        old = by_year.get(year)
        if old is None or int(units) > old.units:
            by_year[year] = Point(int(units), (row,))
        elif int(units) == old.units:
            by_year[year] = Point(old.units, (*old.sources, row))
    return points


def capacity_title(company: str, year: str, point: Point, source: Source) -> str:
    """A bar's tooltip: the figure, then each article that announced it."""
    lines = [f"{company} {year}: {point.units:,} units a year"]
    for row in point.sources:
        what = ", ".join(v for v in (row.get("kind", ""), row.get("facility", "")) if v)
        lines.append(f"{what}: {source(row)}" if what else source(row))
    return "\n".join([lines[0], *listed(list(dict.fromkeys(lines[1:])), MAX_SOURCES,
                                         "articles")])


def capacity_chart(rows: Iterable[Row], source: Source) -> str:
    """Horizontal bars, grouped by company, one per year: the largest figure announced."""
    points = capacity_points(rows)
    if not points:
        return '<p class="muted" id="chart-empty">No capacities yet.</p>'

    def largest(company: str) -> int:
        return max(p.units for p in points[company].values())

    companies = sorted(points, key=lambda c: (-largest(c), c))[:MAX_COMPANIES]
    years = sorted({y for c in companies for y in points[c]})
    colour = {y: PALETTE[i % len(PALETTE)] for i, y in enumerate(years)}
    top = max(largest(c) for c in companies)
    label_w, bar_w, bar_h, gap = 150, 520, 14, 10
    parts, y = [], 30
    for company in companies:
        group_top = y
        for year in years:
            point = points[company].get(year)
            if point is None:
                continue
            w = max(1, round(bar_w * point.units / top))
            parts.append(
                f'<rect class="bar" x="{label_w}" y="{y}" width="{w}" height="{bar_h}" '
                f'fill="{colour[year]}"><title>'
                f"{esc(capacity_title(company, year, point, source))}</title></rect>"
                f'<text x="{label_w + w + 4}" y="{y + bar_h - 3}" font-size="11">'
                f"{point.units:,} ({esc(year)})</text>")
            y += bar_h + 2
        parts.append(f'<text x="{label_w - 6}" y="{(group_top + y) / 2 + 4:.0f}" '
                     f'font-size="12" text-anchor="end">{esc(company)}</text>')
        y += gap
    legend = "".join(
        f'<rect x="{label_w + i * 90}" y="6" width="12" height="12" fill="{colour[yr]}"/>'
        f'<text x="{label_w + i * 90 + 16}" y="16" font-size="12">{esc(yr)}</text>'
        for i, yr in enumerate(years))
    width = max(label_w + bar_w + 140, label_w + 90 * len(years))
    more = len(points) - len(companies)
    note = (f'<p class="muted">and {more} more companies with smaller figures</p>'
            if more > 0 else "")
    chart = svg("chart", width, y + 4, "Announced capacity by company and year",
                legend + "".join(parts))
    return f'<div class="chart">{chart}</div>{note}'

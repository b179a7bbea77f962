"""report.html: one self-contained page over the whole output folder, rewritten after
each run.

It is a function of the tables (plus what the last run did): the most recent
MAX_ARTICLES articles, by published date, else fetch time, with every fact of theirs in
sortable, filterable tables (headline, site and a link on every row); counts for the
older ones, which stay in the CSVs only; charts of deals by month and capacity by company
drawn from every row; the last run's numbers and articles; and the texts of the articles
written last with their facts highlighted. The page size is bounded however large the
folder grows.

Everything from a page is untrusted: it is escaped, links are http(s) only, and the
Content-Security-Policy lets no script run but the one inline script below, named by its
sha256, and allows no network request at all.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from extract.records import Article, Capacity, CompanyMention, Deal, Facts
from scraper.core.records import Failure
from scraper.output.charts import capacity_chart, deal_timeline
from scraper.output.highlight import highlight
from scraper.output.tables import FORMULA_START, write_atomic

REPORT_NAME = "report.html"
TABLES = ("articles", "companies", "deals", "capacities", "failures", "ledger_deals",
          "ledger_plants")
MAX_LEDGER = 500  # ledger rows a table shows, latest reported first
# The page lists this many articles with all their facts, and counts the rest: a folder
# of years of crawls stays a page a browser opens in a moment (a few MB at most).
MAX_ARTICLES = 500
MAX_TEXTS = 30  # articles shown with their highlighted text: the ones written last
MAX_FAILURES = 200  # of the last run; the others are in failures.csv

Row = Mapping[str, str]
Tables = Mapping[str, Sequence[Row]]

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1300px;padding:1em 2em;
 color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}
nav a{margin-right:1em}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3;white-space:nowrap}td.num,th.num{text-align:right}
td.num{font-variant-numeric:tabular-nums}
td.evidence{max-width:36em;color:#444}td.date{white-space:nowrap}
th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer}
th[aria-sort=ascending] button::after{content:" \\25B2"}
th[aria-sort=descending] button::after{content:" \\25BC"}
.filter-bar{display:none;margin:.5em 0}.js .filter-bar{display:block}
.filter-bar input{width:24em;font:inherit;padding:2px 6px}
.summary{width:auto}.summary td:first-child{font-weight:600;min-width:16em}
.status{font-size:.75em;font-weight:700;text-transform:uppercase;border-radius:.3em;
 padding:0 .3em;margin-right:.4em;background:#eee}
.status.new{background:#c8ecd2}.status.changed{background:#fde7b0}
.chart{overflow-x:auto}.chart rect.bar:hover{opacity:.75}
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

# Sorting (a click on a column's header; again for the other direction) and filtering
# (every word typed must appear in the row). It reads and moves the page's own nodes and
# never parses markup, so no text of an article can become code.
SCRIPT = """
"use strict";
(() => {
  document.documentElement.classList.add("js");
  const key = (cell) => cell.dataset.sort ?? cell.textContent.trim();
  const collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  function sortBy(th) {
    const body = th.closest("table").tBodies[0];
    const numeric = th.classList.contains("num");
    const sign = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    const rows = Array.from(body.rows, (row, i) => [key(row.cells[th.cellIndex]), i, row]);
    rows.sort(([a, i], [b, j]) => {
      if ((a === "") !== (b === "")) return a === "" ? 1 : -1;  // empty cells last
      const order = numeric ? Number(a) - Number(b) : collator.compare(a, b);
      return sign * order || i - j;
    });
    for (const cell of th.parentNode.cells) cell.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", sign > 0 ? "ascending" : "descending");
    const sorted = document.createDocumentFragment();
    for (const [, , row] of rows) sorted.append(row);
    body.append(sorted);
  }
  function filter(input) {
    const table = document.getElementById(input.dataset.table);
    const words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    let shown = 0;
    for (const row of table.tBodies[0].rows) {
      const text = row.textContent.toLowerCase();
      row.hidden = !words.every((word) => text.includes(word));
      shown += row.hidden ? 0 : 1;
    }
    const total = table.tBodies[0].rows.length;
    document.getElementById(input.dataset.table + "-count").textContent =
      words.length ? `${shown} of ${total} rows` : "";
  }
  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element && event.target.closest("th > button");
    if (button) sortBy(button.parentNode);
  });
  document.addEventListener("input", (event) => {
    if (event.target instanceof HTMLInputElement && event.target.matches("input.filter")) {
      filter(event.target);
    }
  });
})();
"""


def script_hash(script: str) -> str:
    """The CSP source that allows exactly this inline script's text."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def csp(script: str) -> str:
    """No request of any kind; inline styles; the one script whose hash is given. (Our
    own text, base64 and quotes: it goes into the page's attribute as it is.)"""
    return (f"default-src 'none'; script-src {script_hash(script)}; "
            "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")


@dataclass(frozen=True)
class RunCounts:
    """The last run's counters (the names of `scraper.app.run.RunSummary`'s fields)."""

    discovered: int = 0
    old: int = 0
    fetched: int = 0
    not_modified: int = 0
    skipped: int = 0
    disallowed: int = 0
    capped: int = 0
    resumed: int = 0
    revisited: int = 0  # asked again by the revisit policy (due by age, or a newer lastmod)
    left_alone: int = 0  # extracted before and not due: not asked
    # the run's article_ids the store held before it (None: not known), to tell new from
    # changed
    known: frozenset[str] | None = None


@dataclass(frozen=True)
class LastRun:
    """What the run that writes the report did."""

    written: tuple[tuple[str, str], ...] = ()  # (article_id, fetched_at) it extracted
    failures: tuple[Failure, ...] = ()
    seconds: float = 0.0
    counts: RunCounts = RunCounts()


def esc(value: object) -> str:
    """Text for HTML content or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def shown(value: str | None) -> str:
    """A cell as the page shows it: without the `'` the tables put before a cell that a
    spreadsheet would run as a formula (a web page runs nothing)."""
    value = value or ""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def read_csv(path: Path) -> list[dict[str, str]]:
    """A table of the output folder as dicts (empty when missing)."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        return list(csv.DictReader(handle))


def read_tables(out_dir: Path) -> dict[str, list[dict[str, str]]]:
    """Every table the report reads."""
    return {t: read_csv(out_dir / f"{t}.csv") for t in TABLES}


def link(url: str, label: str) -> str:
    """A link for http(s) URLs only; anything else (javascript:, data:) is plain text."""
    if re.match(r"https?://", url, re.I):
        return f'<a href="{esc(url)}" rel="noreferrer noopener">{esc(label)}</a>'
    return esc(label)


# The folder as the page shows it.

def recency(row: Row) -> tuple[str, str]:
    return (row.get("published") or row.get("fetched_at") or "", row.get("url") or "")


@dataclass(frozen=True)
class Folder:
    """The tables, indexed: the most recent articles are shown in full, the rest counted."""

    tables: Tables
    by_id: dict[str, Row]  # every article
    shown: list[Row]  # the most recent `limit` articles, newest first
    facts: dict[str, dict[str, list[Row]]]  # table -> article_id -> its rows

    @classmethod
    def of(cls, tables: Tables, limit: int = MAX_ARTICLES) -> Folder:
        articles = sorted(tables.get("articles", ()), key=recency, reverse=True)
        facts: dict[str, dict[str, list[Row]]] = {}
        for table in ("companies", "deals", "capacities"):
            by_article = facts[table] = {}
            for row in tables.get(table, ()):
                by_article.setdefault(row.get("article_id", ""), []).append(row)
        return cls(tables, {r.get("article_id", ""): r for r in articles}, articles[:limit],
                   facts)

    def rows(self, table: str, articles: Iterable[Row]) -> list[Row]:
        """The rows of `table` of these articles, in the articles' order."""
        return [r for a in articles for r in self.facts[table].get(a.get("article_id", ""), [])]

    def source(self, row: Row) -> str:
        """A fact row's article in a few words, for a chart's tooltip."""
        article = self.by_id.get(row.get("article_id", ""), {})
        headline = shown(article.get("title")) or row.get("url", "")
        where = ", ".join(v for v in (shown(article.get("site")),
                                      (row.get("published") or "")[:10]) if v)
        return f"{headline} ({where})" if where else headline


# Sortable, filterable tables.

@dataclass(frozen=True)
class Column:
    label: str
    numeric: bool = False


def td(text: str, sort: str | None = None, cls: str = "", inner: str | None = None) -> str:
    """A cell: `text` escaped (or `inner`, HTML already safe), `sort` when the script
    should sort by something else than the text."""
    attrs = (f' class="{cls}"' if cls else "") + (
        f' data-sort="{esc(sort)}"' if sort is not None else "")
    return f"<td{attrs}>{esc(text) if inner is None else inner}</td>"


def date_td(iso: str) -> str:
    return td(iso[:10], iso, "date")


def number_td(value: str, grouped: bool = False) -> str:
    if not value.isdigit():
        return td(value, "", "num")
    return td(f"{int(value):,}" if grouped else value, value, "num")


def article_tds(folder: Folder, row: Row) -> list[str]:
    """published, site and the headline linked to the article, for any row of a table."""
    article = folder.by_id.get(row.get("article_id", ""), {})
    url = row.get("url") or article.get("url") or ""
    headline = shown(article.get("title")) or url
    return [date_td(row.get("published") or article.get("published") or ""),
            td(shown(article.get("site"))), td(headline, inner=link(url, headline))]


def sortable(table_id: str, columns: Sequence[Column], rows: Sequence[Sequence[str]],
             noun: str, newest_first: bool = True) -> str:
    """A table whose headers sort it and whose filter box hides the rows that do not
    match; `newest_first`: its rows come sorted by their first column (a date), newest
    first, and the header says so."""
    if not rows:
        return f'<p class="muted" id="{table_id}-empty">No {esc(noun)} yet.</p>'
    head = "".join(
        f'<th{" class=num" if c.numeric else ""}'
        f'{" aria-sort=descending" if i == 0 and newest_first else ""}><button type="button">'
        f"{esc(c.label)}</button></th>" for i, c in enumerate(columns))
    body = "".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return (f'<div class="filter-bar"><input type="search" class="filter" '
            f'data-table="{table_id}" placeholder="Filter {esc(noun)}: words in any column" '
            f'aria-label="Filter {esc(noun)}"> <span class="muted" id="{table_id}-count" '
            f'aria-live="polite"></span></div>'
            f'<table id="{table_id}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


ARTICLE_HEAD = (Column("published"), Column("site"), Column("headline"))


def articles_table(folder: Folder) -> str:
    rows = []
    for article in folder.shown:
        aid = article.get("article_id", "")
        companies = ", ".join(shown(c.get("company"))
                              for c in folder.facts["companies"].get(aid, []))
        counts = (len(folder.facts[t].get(aid, [])) for t in ("deals", "capacities"))
        rows.append([*article_tds(folder, article), td(companies),
                     *(number_td(str(n)) for n in counts),
                     number_td(article.get("word_count", ""), grouped=True)])
    columns = (*ARTICLE_HEAD, Column("companies"), Column("deals", True),
               Column("capacities", True), Column("words", True))
    return sortable("articles", columns, rows, "articles")


def deals_table(folder: Folder) -> str:
    rows = [[*article_tds(folder, d), *(td(shown(d.get(c))) for c in
                                        ("acquirer", "target", "deal_type", "status")),
             number_td(d.get("year", "")), td(shown(d.get("evidence")), cls="evidence")]
            for d in folder.rows("deals", folder.shown)]
    columns = (*ARTICLE_HEAD, Column("acquirer"), Column("target"), Column("deal type"),
               Column("status"), Column("year", True), Column("evidence"))
    return sortable("deals", columns, rows, "deals")


def capacities_table(folder: Folder) -> str:
    rows = [[*article_tds(folder, c), td(shown(c.get("company"))), td(shown(c.get("facility"))),
             number_td(c.get("units_per_year", ""), grouped=True), td(shown(c.get("kind"))),
             number_td(c.get("year", "")), td(shown(c.get("evidence")), cls="evidence")]
            for c in folder.rows("capacities", folder.shown)]
    columns = (*ARTICLE_HEAD, Column("company"), Column("facility"),
               Column("units a year", True), Column("kind"), Column("year", True),
               Column("evidence"))
    return sortable("capacities", columns, rows, "capacities")


def folder_block(folder: Folder, out_dir: str, generated_at: str,
                 stored: int | None = None) -> str:
    """What the folder holds, and what the page leaves out of its tables."""
    n = {t: len(folder.tables.get(t, ())) for t in TABLES}
    text = (f"{n['articles']:,} articles, {n['companies']:,} company mentions, "
            f"{n['deals']:,} deals and {n['capacities']:,} capacities in {out_dir}; "
            f"failures.csv has {n['failures']:,} rows. Generated {generated_at}.")
    if stored is not None and stored > n["articles"]:
        text += (f" The store (state.sqlite) holds {stored:,} articles: the tables show the "
                 f"newest {n['articles']:,} (--window), and `export` writes any period.")
    out = f'<p id="folder">{esc(text)}</p>'
    rest = list(folder.by_id.values())[len(folder.shown):]
    if rest:
        counts = {t: len(folder.rows(t, rest)) for t in ("deals", "capacities")}
        out += (f'<p id="bound">The tables list the {len(folder.shown):,} most recent '
                f"articles (by published date, else by fetch time) with all their facts. "
                f"The {len(rest):,} older articles, with {counts['deals']:,} deals and "
                f"{counts['capacities']:,} capacities, are counted here only: they are in "
                f"the CSV files. The charts draw every row.</p>")
    return out


# The last run.

def run_statuses(run: LastRun, folder: Folder) -> list[tuple[str, Row]]:
    """Each article the run wrote, as its row, and whether it was new, changed or
    unchanged (rewritten as it was: the table kept its earlier fetched_at)."""
    out = []
    for aid, fetched_at in run.written:
        row = folder.by_id.get(aid)
        if row is None:
            continue
        if run.counts.known is None:
            status = "written"
        elif aid not in run.counts.known:
            status = "new"
        else:
            status = "changed" if row.get("fetched_at") == fetched_at else "unchanged"
        out.append((status, row))
    return out


def run_block(run: LastRun, folder: Folder) -> str:
    """The last run's numbers, the articles it wrote and its failed inputs."""
    statuses = run_statuses(run, folder)
    c = run.counts
    written = [(s, sum(1 for t, _ in statuses if t == s))
               for s in ("new", "changed", "unchanged", "written")]
    lines = [*((f"articles {s}", n) for s, n in written if n or s in ("new", "changed")),
             ("not modified since it was fetched (304, or the same page)", c.not_modified),
             ("left alone: read before, not due for a revisit", c.left_alone),
             ("failed", len(run.failures)),
             ("skipped: given up on in an earlier run", c.skipped),
             ("disallowed by robots.txt", c.disallowed),
             ("left for a later run by --max-articles", c.capped),
             *((k, v) for k, v in (("discovered", c.discovered),
                                   ("too old for --since", c.old),
                                   ("resumed from earlier runs", c.resumed)) if v),
             ("seconds", f"{run.seconds:.1f}")]
    cells = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in lines)
    out = f'<table class="summary" id="summary"><tbody>{cells}</tbody></table>'
    items = "".join(
        f'<li><span class="status {esc(s)}">{esc(s)}</span>'
        f"{link(row.get('url', ''), shown(row.get('title')) or row.get('url', ''))} "
        f'<span class="muted">{esc(shown(row.get("site")))}</span></li>'
        for s, row in statuses[:MAX_ARTICLES])
    more = len(statuses) - MAX_ARTICLES
    out += (f'<h3>Articles it wrote</h3><ul id="run-articles">{items}</ul>'
            + (f'<p class="muted">and {more:,} more</p>' if more > 0 else "")
            if items else '<p class="muted" id="run-articles">It wrote no article.</p>')
    if run.failures:
        columns = [Column(c) for c in ("input", "stage", "error", "message", "at")]
        rows = [[td(f.input), td(f.stage), td(f.error), td(f.message), date_td(f.at)]
                for f in run.failures[:MAX_FAILURES]]
        more = len(run.failures) - MAX_FAILURES
        out += "<h3>Failed inputs</h3>" + sortable("failures", columns, rows, "failures",
                                                   newest_first=False)
        if more > 0:
            out += f'<p class="muted">and {more:,} more in failures.csv</p>'
    return out


# Texts with their facts highlighted.

def number(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def facts_of(folder: Folder, aid: str) -> Facts:
    """An article's facts, read back from the tables."""
    return Facts(
        companies=tuple(CompanyMention(shown(r.get("company")), number(r.get("mentions")) or 0,
                                       tuple(f for f in shown(r.get("surface_forms")).split("; ")
                                             if f))
                        for r in folder.facts["companies"].get(aid, [])),
        deals=tuple(Deal(shown(r.get("acquirer")), shown(r.get("target")),
                         r.get("deal_type", ""), r.get("status", ""), number(r.get("year")),
                         shown(r.get("evidence")))
                    for r in folder.facts["deals"].get(aid, [])),
        capacities=tuple(Capacity(shown(r.get("company")), shown(r.get("facility")), units,
                                  r.get("kind", ""), number(r.get("year")),
                                  shown(r.get("evidence")))
                         for r in folder.facts["capacities"].get(aid, [])
                         if (units := number(r.get("units_per_year"))) is not None))


def article_block(row: Row, facts: Facts) -> str:
    """One article: its facts as lists, then its text with the facts highlighted."""
    chips = "".join(f"<span>{esc(c.company)} ×{c.mentions}</span>" for c in facts.companies)
    deals = "".join(
        f"<li>{esc(d.acquirer)} → {esc(d.target)}: {esc(d.deal_type)}, {esc(d.status)}"
        f"{', ' + esc(d.year) if d.year else ''}</li>" for d in facts.deals)
    caps = "".join(
        f"<li>{esc(c.company)}{' · ' + esc(c.facility) if c.facility else ''}: "
        f"{c.units_per_year:,} a year, {esc(c.kind)}{', ' + esc(c.year) if c.year else ''}"
        f"</li>" for c in facts.capacities)
    meta = " · ".join(esc(shown(row.get(k))) for k in ("site", "author", "published")
                      if row.get(k))
    url = row.get("url", "")
    cut = (f'<p class="muted">The text is cut here; {esc(row.get("text_file"))} holds all '
           f"of it.</p>" if row.get("text_file") else "")
    return (f'<article id="a-{esc(row.get("article_id"))}">'
            f"<h3>{link(url, shown(row.get('title')) or url)}</h3>"
            f'<p class="muted">{meta}</p>'
            f'<p class="chips">{chips or "<i>no companies</i>"}</p>'
            f"{'<ul class=deals>' + deals + '</ul>' if deals else ''}"
            f"{'<ul class=capacities>' + caps + '</ul>' if caps else ''}"
            f'<div class="text">{highlight(shown(row.get("text")), facts)}</div>{cut}'
            f"</article>")


def texts_block(folder: Folder) -> str:
    latest = sorted(folder.by_id.values(),
                    key=lambda r: (r.get("fetched_at") or "", *recency(r)), reverse=True)
    return "".join(article_block(r, facts_of(folder, r.get("article_id", "")))
                   for r in latest[:MAX_TEXTS]) or '<p class="muted">None yet.</p>'


# The ledger: one row per deal and per plant across the articles.

def sources_td(folder: Folder, row: Row) -> str:
    """The row's articles, each its date linked to the article."""
    links = []
    for aid in (row.get("article_ids") or "").split("; "):
        article = folder.by_id.get(aid)
        if article:
            when = (article.get("published") or "")[:10] or "undated"
            links.append(link(article.get("url", ""), when))
    return td("", inner=", ".join(links))


def ledger_block(folder: Folder) -> str:
    """Live deals by status, each deal's timeline, and each plant's figures over time."""
    deals = sorted(folder.tables.get("ledger_deals", ()),
                   key=lambda r: r.get("last_reported", ""), reverse=True)
    counts: dict[str, int] = {}
    for d in deals:
        counts[d.get("status", "")] = counts.get(d.get("status", ""), 0) + 1
    live = ", ".join(f"{counts.get(s, 0):,} {s}" for s in
                     ("rumored", "planned", "agreed", "completed"))
    out = (f'<p id="ledger-counts">Live deals by status: {esc(live)}; '
           f'{counts.get("dissolved", 0):,} dissolved.</p>')
    rows = [[date_td(d.get("last_reported", "")),
             *(td(shown(d.get(c))) for c in ("acquirer", "target", "deal_type", "status",
                                             "status_history", "signal")),
             number_td(d.get("articles", "")), sources_td(folder, d)]
            for d in deals[:MAX_LEDGER]]
    columns = (Column("last reported"), Column("acquirer"), Column("target"),
               Column("deal type"), Column("status"), Column("timeline"), Column("signal"),
               Column("articles", True), Column("reports"))
    out += sortable("ledger-deals", columns, rows, "ledger deals")
    plants = sorted(folder.tables.get("ledger_plants", ()),
                    key=lambda r: r.get("last_reported", ""), reverse=True)
    rows = [[date_td(p.get("last_reported", "")),
             *(td(shown(p.get(c))) for c in ("company", "plant", "location")),
             number_td(p.get("units_per_year", ""), grouped=True), td(shown(p.get("kind"))),
             td(shown(p.get("history"))), td(shown(p.get("signal"))),
             number_td(p.get("articles", "")), sources_td(folder, p)]
            for p in plants[:MAX_LEDGER]]
    plant_columns = (Column("last reported"), Column("company"), Column("plant"),
               Column("location"), Column("units a year", True), Column("kind"),
               Column("figures over time"), Column("signal"), Column("articles", True),
               Column("reports"))
    return out + "<h3>Plants</h3>" + sortable("ledger-plants", plant_columns, rows,
                                              "ledger plants")


LEGEND = ('<p class="legend"><mark class="ent">company<span class="tag">org</span></mark>'
          '<mark class="sent deal">deal sentence</mark>'
          '<mark class="sent capacity">capacity sentence</mark>'
          '<mark class="ent qty">capacity<span class="tag">units/yr</span></mark></p>')


def render(tables: Tables, run: LastRun, generated_at: str, out_dir: str = "",
           stored: int | None = None) -> str:
    """The whole page, from the tables and what the last run did."""
    folder = Folder.of(tables)
    deals = list(folder.rows("deals", folder.shown))
    capacities = list(folder.rows("capacities", folder.shown))
    all_deals = tables.get("deals", ())
    all_capacities = tables.get("capacities", ())
    script = SCRIPT
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp(script)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EV news report</title><style>{STYLE}</style></head>
<body>
<h1>EV news report</h1>
<nav><a href="#run">Last run</a><a href="#timeline-h">Deals by month</a>
<a href="#chart-h">Capacity by company</a><a href="#deals-h">Deals</a>
<a href="#capacities-h">Capacities</a><a href="#ledger-h">Ledger</a>
<a href="#articles-h">Articles</a>
<a href="#texts">Texts</a></nav>
{folder_block(folder, out_dir, generated_at, stored)}
<h2 id="run">Last run</h2>
{run_block(run, folder)}
<h2 id="timeline-h">Deals by month <span class="muted">({len(all_deals):,}, every article
in the tables)</span></h2>
<p class="muted">By the month of the article's date; hover over a bar for its deals.</p>
{deal_timeline(all_deals, folder.source)}
<h2 id="chart-h">Announced capacity by company and year <span class="muted">(every article
in the tables)</span></h2>
<p class="muted">Units per year; for each company and year the largest figure announced.
Hover over a bar for the articles it comes from.</p>
{capacity_chart(all_capacities, folder.source)}
<h2 id="deals-h">Deals <span class="muted">({len(deals):,} of the articles listed)</span></h2>
{deals_table(folder)}
<h2 id="capacities-h">Capacities <span class="muted">({len(capacities):,} of the articles
listed)</span></h2>
{capacities_table(folder)}
<h2 id="ledger-h">Ledger <span class="muted">(one row per deal and per plant, across every
article in the store)</span></h2>
{ledger_block(folder)}
<h2 id="articles-h">Articles <span class="muted">({len(folder.shown):,} most recent of
{len(folder.by_id):,})</span></h2>
{articles_table(folder)}
<h2 id="texts">Texts <span class="muted">(of the {MAX_TEXTS} articles written last)</span></h2>
{LEGEND}
{texts_block(folder)}
<script>{script}</script>
</body></html>
"""


def write_report(out_dir: Path, results: Sequence[tuple[Article, Facts]],
                 failures: Sequence[Failure], seconds: float,
                 generated_at: str | None = None, *, counts: RunCounts | None = None,
                 stored: int | None = None) -> Path:
    """Write `out_dir/report.html` (atomically) from the tables in `out_dir` and what the
    last run did: the articles it wrote (`results`), its `failures`, its `counts`;
    `stored`: how many articles the folder's store holds (more than the tables show)."""
    when = generated_at or datetime.now(UTC).replace(microsecond=0).isoformat()
    run = LastRun(written=tuple((a.article_id, a.fetched_at) for a, _ in results),
                  failures=tuple(failures), seconds=seconds, counts=counts or RunCounts())
    page = render(read_tables(out_dir), run, when, str(out_dir), stored)
    path = out_dir / REPORT_NAME
    write_atomic(path, page.encode("utf-8"))
    return path

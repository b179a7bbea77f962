"""Page metadata: canonical URL, title, author, publication time, site name.

Each value is read from the most reliable place first. Publication time in particular:
`article:published_time` (CnEVPost gives it in UTC while its visible <time> is +08:00),
then JSON-LD `datePublished`, other date metas, a <time datetime>, and only as a last
resort a date in the URL.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlparse

from dateutil import parser as dateparser
from lxml import html as lxml_html

DATE_METAS = ("article:published_time", "og:published_time", "datePublished",
              "publish-date", "pubdate", "parsely-pub-date", "sailthru.date", "dc.date",
              "dc.date.issued", "date", "article.published")
URL_DATE = re.compile(r"/(20\d\d|19\d\d)[/-](\d{1,2})[/-](\d{1,2})(?:/|$|-)")


def meta(tree: lxml_html.HtmlElement, *names: str) -> str:
    """The content of the first <meta> with one of these property/name/itemprop values."""
    wanted = {n.lower() for n in names}
    found: dict[str, str] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").lower()
        if key in wanted and key not in found and (el.get("content") or "").strip():
            found[key] = el.get("content").strip()
    for name in names:
        if name.lower() in found:
            return found[name.lower()]
    return ""


def json_ld(tree: lxml_html.HtmlElement) -> list[dict]:
    """Every JSON-LD object on the page, flattened out of lists and @graph."""
    objects: list[dict] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                objects.append(item)
                if isinstance(item.get("@graph"), list):
                    stack.extend(item["@graph"])
    return objects


def to_utc(value: str, assume: timezone | None = None) -> str:
    """ISO 8601 in UTC, or "" when the value is not a date. Naive times take `assume`."""
    value = (value or "").strip()
    if not value:
        return ""
    dt: datetime | None = None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            dt = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            try:
                dt = dateparser.parse(value)
            except (ValueError, OverflowError):
                return ""
    if dt is None or not 1990 <= dt.year <= 2100:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=assume or UTC)
    return dt.astimezone(UTC).replace(microsecond=0).isoformat()


def published(tree: lxml_html.HtmlElement, url: str, objects: list[dict],
              assume: timezone | None = None) -> str:
    for candidate in (meta(tree, *DATE_METAS),
                      *(str(o.get("datePublished", "")) for o in objects)):
        if stamp := to_utc(candidate, assume):
            return stamp
    for el in tree.iter("time"):
        if stamp := to_utc(el.get("datetime") or "", assume):
            return stamp
    m = URL_DATE.search(urlparse(url).path)
    if m:
        try:
            return datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC).isoformat()
        except ValueError:
            return ""
    return ""


def canonical(tree: lxml_html.HtmlElement, final_url: str) -> str:
    for el in tree.iter("link"):
        if "canonical" in (el.get("rel") or "").lower().split() and el.get("href"):
            return absolute(final_url, el.get("href"))
    og = meta(tree, "og:url")
    return absolute(final_url, og) if og else final_url


def absolute(base: str, href: str) -> str:
    href = href.strip()
    url = urljoin(base, href)
    return url if urlparse(url).scheme in ("http", "https", "file") else base


def author(tree: lxml_html.HtmlElement, objects: list[dict]) -> str:
    value = meta(tree, "author", "article:author", "parsely-author", "dc.creator")
    if value and not value.startswith("http"):
        return value
    for obj in objects:
        who = obj.get("author")
        if isinstance(who, list) and who:
            who = who[0]
        if isinstance(who, dict) and who.get("name"):
            return str(who["name"]).strip()
        if isinstance(who, str) and who.strip():
            return who.strip()
    return ""


def site_name(tree: lxml_html.HtmlElement, url: str) -> str:
    name = meta(tree, "og:site_name", "application-name")
    if name:
        return name
    host = urlparse(url).hostname or ""
    return host.removeprefix("www.")


def offset(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))

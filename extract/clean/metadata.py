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
from typing import Any
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


def json_ld(tree: lxml_html.HtmlElement) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page, flattened out of lists and @graph."""
    objects: list[dict[str, Any]] = []
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


def published(tree: lxml_html.HtmlElement, url: str, objects: list[dict[str, Any]],
              assume: timezone | None = None) -> str:
    for candidate in (meta(tree, *DATE_METAS),
                      *(str(o.get("datePublished", "")) for o in objects)):
        if stamp := to_utc(candidate, assume):
            return stamp
    # Microdata and Blogger's <abbr class="published" title="...">.
    for el in tree.xpath("//*[@itemprop='datePublished'] | //abbr[contains(@class, 'published')]"):
        for value in (el.get("content"), el.get("datetime"), el.get("title")):
            if stamp := to_utc(value or "", assume):
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


AUTHOR_METAS = ("author", "article:author", "parsely-author", "dc.creator", "dcterms.creator",
                "sailthru.author", "byl")
BYLINE_PREFIX = re.compile(r"^(?:by|posted by|written by|reporter|author)\s*[:：]?\s+", re.I)
BYLINE_XPATH = ("//*[@itemprop='author'] | //*[@rel='author'] | //*[@rel='schema:author']"
                " | //*[contains(concat(' ', normalize-space(@class), ' '), ' author ')]"
                " | //*[contains(@class, 'byline__name') or contains(@class, '_author')]")


def author(tree: lxml_html.HtmlElement, objects: list[dict[str, Any]]) -> str:
    """The byline: author metas, then JSON-LD (following @id references), then the page's
    visible byline element, outside any comment section."""
    value = meta(tree, *AUTHOR_METAS)
    if value and not value.startswith("http"):
        return clean_byline(value)
    by_id = {o.get("@id"): o for o in objects if o.get("@id")}
    for obj in objects:
        who = obj.get("author")
        if isinstance(who, list) and who:
            who = who[0]
        if isinstance(who, dict) and not who.get("name") and who.get("@id") in by_id:
            who = by_id[who["@id"]]
        if isinstance(who, dict) and who.get("name"):
            return clean_byline(str(who["name"]))
        if isinstance(who, str) and who.strip() and not who.startswith("http"):
            return clean_byline(who)
    for el in tree.xpath(BYLINE_XPATH):
        if any("comment" in (anc.get("class") or "") + (anc.get("id") or "")
               for anc in el.iterancestors()):
            continue
        names = el.xpath(".//*[@itemprop='name']")
        text = " ".join((names[0] if names else el).text_content().split())
        text = clean_byline(text)
        if 2 < len(text) <= 60 and not any(ch.isdigit() for ch in text):
            return text
    return ""


def clean_byline(text: str) -> str:
    return BYLINE_PREFIX.sub("", " ".join(text.split())).strip(" ,|·")


def site_name(tree: lxml_html.HtmlElement, url: str) -> str:
    name = meta(tree, "og:site_name", "application-name")
    if name:
        return name
    host = urlparse(url).hostname or ""
    return host.removeprefix("www.")


def offset(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))


TITLE_SUFFIX = re.compile(r"\s+[|–—-]\s+[^|–—-]{2,60}$")


def title(tree: lxml_html.HtmlElement, objects: list[dict[str, Any]], selector: str = "") -> str:
    """The headline as shown: the site's selector, else the <h1> that the page's metadata
    titles agree with, else an <h1> inside the article, else the metadata title without
    its " | Site" suffix."""
    if selector:
        found = tree.cssselect(selector)
        if found:
            return " ".join(found[0].text_content().split())
    heads = tree.xpath("//h1 | //*[contains(@class, 'headline') or contains(@class, 'title')]"
                       "[not(self::title or self::meta or self::a or self::body)]")
    h1s = [" ".join(h.text_content().split()) for h in heads]
    h1s = [h for h in h1s if 10 < len(h) < 300]
    tag = tree.find(".//title")
    named = [meta(tree, "og:title", "twitter:title"),
             *(str(o.get("headline", "")) for o in objects if isinstance(o, dict)),
             " ".join(tag.text_content().split()) if tag is not None else ""]
    named = [n.strip() for n in named if n and n.strip()]
    for name in named:
        # The visible headline that the metadata title contains ("Site :: Headline").
        shown = [h for h in h1s if h in name]
        if shown:
            return max(shown, key=len)
    for h1 in tree.xpath("//article//h1 | //main//h1"):
        text = " ".join(h1.text_content().split())
        if len(text) > 10:
            return text
    for name in named:
        stripped = TITLE_SUFFIX.sub("", name)
        return stripped if len(stripped) > 10 else name
    return h1s[0] if h1s else ""

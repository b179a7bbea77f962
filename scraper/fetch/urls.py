"""URL normalisation for the crawl: one key per page, however a link spelled it.

courlan lower-cases scheme and host, drops default ports and tracking parameters
(utm_*, fbclid, ...) and sorts the query; on top of that we drop the fragment, a leading
``www.`` and a trailing slash. The key is for deduplication only: requests go to the URL
as the site spelled it, so WordPress does not answer every request with a redirect.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

from courlan import normalize_url

URL_DATE = re.compile(r"/(20\d\d)/(\d\d)/(\d\d)/")


def url_key(url: str) -> str:
    """The normalised form of `url` under which the crawl state stores it."""
    try:
        normal = normalize_url(url)
    except ValueError:
        normal = url
    parts = urlsplit(normal)
    host = (parts.hostname or "").lower().removeprefix("www.")
    try:
        port = parts.port
    except ValueError:  # an out-of-range port: keep it as written, the fetch will fail
        port = parts.netloc.rpartition(":")[2]
    if port:
        host = f"{host}:{port}"
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), host, path, parts.query, ""))


def absolute(base: str, href: str) -> str | None:
    """`href` resolved against `base`, without its fragment; None unless it is http(s)."""
    href = href.strip()
    if not href or href.startswith(("javascript:", "mailto:", "tel:", "#")):
        return None
    try:
        url = urljoin(base, href).split("#", 1)[0]
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in parts.netloc:
        return None
    return url


def host_of(url: str) -> str:
    """host[:port] of a URL, lower-cased: the unit of politeness."""
    return urlsplit(url).netloc.lower()


def date_in_url(url: str) -> datetime | None:
    """The /YYYY/MM/DD/ date in an article path (midnight UTC), when there is one."""
    match = URL_DATE.search(urlsplit(url).path)
    if not match:
        return None
    try:
        return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
    except ValueError:
        return None

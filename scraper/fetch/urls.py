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

# Longer URLs are refused by most servers and proxies (and would fill a spreadsheet cell).
MAX_URL = 8192
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
        port: int | str | None = parts.port
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
    return url if valid_host(parts.hostname) and len(url) <= MAX_URL else None


def valid_host(host: str) -> bool:
    """A host name DNS can carry: labels of 1-63 characters once IDNA-encoded, 253 in all
    (a longer one, or one the IDNA rules reject, makes the resolver raise, not fail)."""
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return len(ascii_host) <= 253 and all(0 < len(label) <= 63 for label in labels)


def redact(target: str) -> str:
    """`target` without a user name or password (http://user:pass@host/ -> http://host/):
    they may be needed to fetch, never to be written in a table, a report or a log line."""
    try:
        parts = urlsplit(target)
    except ValueError:
        return target
    if "@" not in parts.netloc or not parts.scheme:
        return target
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


USERINFO = re.compile(r"(?<=//)[^/@\s]+@")


def redact_text(text: str) -> str:
    """A message with the user names and passwords of the URLs in it removed."""
    return USERINFO.sub("", text)


def host_of(url: str) -> str:
    """host[:port] of a URL, lower-cased: the unit of politeness."""
    return urlsplit(url).netloc.rpartition("@")[2].lower()


def date_in_url(url: str) -> datetime | None:
    """The /YYYY/MM/DD/ date in an article path (midnight UTC), when there is one."""
    match = URL_DATE.search(urlsplit(url).path)
    if not match:
        return None
    try:
        return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
    except ValueError:
        return None

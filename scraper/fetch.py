"""Fetch stage: a URL or a local file -> `FetchedPage`.

httpx does the HTTP; every httpx and OS error is translated here into a `FetchError`.
The body is read as a stream of *decoded* bytes, so the size cap also stops a small
compressed body that inflates to gigabytes.
"""

from __future__ import annotations

import mimetypes
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from scraper.errors import (
    FetchError,
    HTTPStatusError,
    InputNotFound,
    NetworkError,
    NotHTMLError,
    TooLargeError,
)
from scraper.records import FetchedPage
from scraper.settings import Settings

HTML_TYPES = ("text/html", "application/xhtml+xml")
# Served for HTML often enough by misconfigured servers; the body sniff decides.
SNIFF_TYPES = ("", "text/plain", "application/octet-stream")
HTML_SNIFF = re.compile(rb"<(?:!doctype\s+html|html|head|body|title|meta|article|div|p)\b", re.I)
BINARY_MAGIC = {b"%PDF": "a PDF document", b"\x89PNG": "a PNG image",
                b"\xff\xd8\xff": "a JPEG image", b"PK\x03\x04": "a ZIP archive",
                b"GIF8": "a GIF image"}


def now_utc() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def make_client(settings: Settings) -> httpx.Client:
    """An httpx client configured from the settings (timeouts, redirects, User-Agent)."""
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    return httpx.Client(
        timeout=timeout,
        follow_redirects=True,
        max_redirects=settings.max_redirects,
        headers={"User-Agent": settings.agent,
                 "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"},
    )


def is_url(target: str) -> bool:
    return urlparse(target).scheme in ("http", "https")


def fetch(target: str, settings: Settings, client: httpx.Client | None = None) -> FetchedPage:
    """Fetch an http(s) URL, or read a local path or file:// URL."""
    scheme = urlparse(target).scheme
    if scheme in ("http", "https"):
        if client is None:
            with make_client(settings) as own:
                return fetch_http(target, settings, own)
        return fetch_http(target, settings, client)
    if scheme == "file":
        return read_file(target, Path(unquote(urlparse(target).path)), settings)
    if scheme and len(scheme) > 1:  # a one-letter "scheme" is a Windows drive
        raise FetchError(f"unsupported URL scheme {scheme!r}", code="bad_scheme")
    return read_file(target, Path(target), settings)


def read_file(target: str, path: Path, settings: Settings) -> FetchedPage:
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InputNotFound(f"{path} is not a file")
        if size > settings.max_bytes:
            raise TooLargeError(f"{path} is {size:,} bytes, over the {settings.max_bytes:,} cap")
        content = path.read_bytes()
    except FileNotFoundError:
        raise InputNotFound(f"no such file: {path}") from None
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror or exc}", code="os_error") from None
    check_html(content, mimetypes.guess_type(path.name)[0] or "", str(path))
    return FetchedPage(input=target, url=path.resolve().as_uri(), status=200, headers=(),
                       content=content, fetched_at=now_utc())


def fetch_http(url: str, settings: Settings, client: httpx.Client) -> FetchedPage:
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise HTTPStatusError(
                    f"HTTP {response.status_code} {response.reason_phrase} for {url}",
                    status=response.status_code)
            ctype = response.headers.get("content-type", "")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > settings.max_bytes:
                raise TooLargeError(f"{url} declares {int(declared):,} bytes, "
                                    f"over the {settings.max_bytes:,} cap")
            content = read_capped(response, settings.max_bytes, url)
            page = FetchedPage(
                input=url, url=str(response.url), status=response.status_code,
                headers=tuple(response.headers.multi_items()), content=content,
                fetched_at=now_utc(),
                redirects=tuple(str(r.url) for r in response.history))
    except httpx.TooManyRedirects:
        raise NetworkError(f"more than {settings.max_redirects} redirects from {url}",
                           code="too_many_redirects") from None
    except httpx.TimeoutException as exc:
        raise NetworkError(f"timed out fetching {url} ({type(exc).__name__})",
                           code="timeout") from None
    except httpx.ConnectError as exc:
        raise NetworkError(f"cannot connect to {urlparse(url).netloc}: {reason(exc)}",
                           code="connect") from None
    except httpx.HTTPError as exc:
        raise NetworkError(f"{type(exc).__name__} fetching {url}: {reason(exc)}") from None
    check_html(page.content, ctype, url)
    return page


def read_capped(response: httpx.Response, cap: int, url: str) -> bytes:
    chunks, total = [], 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > cap:
            raise TooLargeError(f"{url} is over the {cap:,}-byte cap")
        chunks.append(chunk)
    return b"".join(chunks)


def check_html(content: bytes, content_type: str, where: str) -> None:
    """Refuse bodies that are not HTML: by declared type first, then by a sniff."""
    mime = content_type.split(";")[0].strip().lower()
    head = content[:8]
    for magic, what in BINARY_MAGIC.items():
        if head.startswith(magic):
            raise NotHTMLError(f"{where} is {what}, not an HTML page")
    if mime in HTML_TYPES:
        return
    if mime in SNIFF_TYPES and HTML_SNIFF.search(content[:4096]):
        return
    if not content.strip():
        raise NotHTMLError(f"{where} is empty")
    raise NotHTMLError(f"{where} is {mime or 'not declared'} content, not an HTML page")


def reason(exc: Exception) -> str:
    """The innermost readable reason of a transport error, on one line."""
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]

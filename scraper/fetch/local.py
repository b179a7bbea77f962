"""What the fetch stage knows of bodies and local files: reading a path or file:// URL
into a `Page`, and refusing bodies that are not HTML (by type, then by a sniff)."""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from extract.records import Page
from scraper.core.errors import BadURL, FetchError, InputNotFound, NotHTMLError, TooLargeError
from scraper.core.records import now_utc

HTML_TYPES = ("text/html", "application/xhtml+xml")
# Served for HTML often enough by misconfigured servers; the body sniff decides.
SNIFF_TYPES = ("", "text/plain", "application/octet-stream")
HTML_SNIFF = re.compile(rb"<(?:!doctype\s+html|html|head|body|title|meta|article|div|p)\b", re.I)
BINARY_MAGIC = {b"%PDF": "a PDF document", b"\x89PNG": "a PNG image",
                b"\xff\xd8\xff": "a JPEG image", b"PK\x03\x04": "a ZIP archive",
                b"GIF8": "a GIF image"}


def is_url(target: str) -> bool:
    """An http(s) URL (anything else is a local path or a file:// URL)."""
    return urlparse(target).scheme in ("http", "https")


def local_path(target: str) -> Path:
    """The path a local input names: a path as given, or a file:// URL's path."""
    scheme = urlparse(target).scheme
    if scheme == "file":
        return Path(unquote(urlparse(target).path))
    if scheme and len(scheme) > 1:  # a one-letter "scheme" is a Windows drive
        raise BadURL(f"unsupported URL scheme {scheme!r}", code="bad_scheme")
    return Path(target)


def read_file(target: str, max_bytes: int) -> Page:
    """Read a local path or file:// URL as a page (status 200, no headers)."""
    path = local_path(target)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InputNotFound(f"{path} is not a file")
        if size > max_bytes:
            raise TooLargeError(f"{path} is {size:,} bytes, over the {max_bytes:,} cap")
        content = path.read_bytes()
    except FileNotFoundError:
        raise InputNotFound(f"no such file: {path}") from None
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror or exc}", code="os_error") from None
    check_html(content, mimetypes.guess_type(path.name)[0] or "", str(path))
    return Page(input=target, url=path.resolve().as_uri(), status=200, headers=(),
                content=content, fetched_at=now_utc())


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

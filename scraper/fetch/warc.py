"""WARC files (Common Crawl's CC-NEWS, any crawler's archive): their HTML responses as
`Page`s, read a byte range at a time.

In a `.warc.gz` every record is a gzip member of its own, so a reader may start at any
record; an uncompressed `.warc` may be read from any record too. A file is split into byte
ranges (`Chunk`s) and each range's reader takes the records that *start* inside it, so
every record is read exactly once whatever the split, and no index of the file is needed
first. A range's first record is found by resynchronising: the next gzip member that
inflates to a WARC header (uncompressed, the next "WARC/1.x" line after a blank line).
The same search steps over a damaged record (a corrupt gzip member, a garbled header, a
file cut off): it becomes a `Damaged` item, a failures.csv row, and reading goes on at the
next record that is whole.

A WARC given as an http(s) URL is downloaded first, streamed to a temporary file.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zlib
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException

from extract.records import Page
from scraper.core.errors import FetchError, InputNotFound, NotHTMLError, status_error
from scraper.core.settings import Settings
from scraper.fetch.fetcher import transport_error
from scraper.fetch.local import check_html, is_url, local_path, reason

GZIP_MAGIC = b"\x1f\x8b\x08"
RECORD_LINE = re.compile(rb"WARC/1\.[01]\r?\n")
SCAN_BLOCK = 1 << 20
# What warcio and zlib raise on a record they cannot read.
UNREADABLE = (ArchiveLoadFailed, StatusAndHeadersParserException, zlib.error, EOFError,
              ValueError, IndexError, KeyError, UnicodeDecodeError)


@dataclass(frozen=True)
class Chunk:
    """A byte range of one WARC file: the records that start in [start, stop)."""

    source: str  # as given: a path, a file:// URL or an http(s) URL
    start: int = 0
    stop: int | None = None  # None: to the end of the file

    @property
    def name(self) -> str:
        whole = self.start == 0 and self.stop is None
        return self.source if whole else f"{self.source}[{self.start}:{self.stop or ''}]"


@dataclass(frozen=True)
class Record:
    """An HTML response of status 200, as a page; its input names the file and offset."""

    offset: int
    page: Page


@dataclass(frozen=True)
class Damaged:
    """A record that cannot be read whole: a failures.csv row."""

    offset: int
    message: str
    code: str = "bad_warc"
    url: str = ""


@dataclass(frozen=True)
class Skipped:
    """A record that is no HTML page to read: another record type (request, metadata,
    warcinfo), an answer other than 200, or a body that is not HTML."""

    offset: int
    why: str  # "record", "status" or "not_html"


Item = Record | Damaged | Skipped


def chunks_of(source: str, size: int | None, chunk_bytes: int) -> list[Chunk]:
    """The byte ranges of a file of `size` bytes (None: unknown, one range), each about
    `chunk_bytes` long (0: one range for the file)."""
    if size is None or chunk_bytes <= 0 or size <= chunk_bytes:
        return [Chunk(source)]
    starts = range(0, size, chunk_bytes)
    return [Chunk(source, start, None if start + chunk_bytes >= size else start + chunk_bytes)
            for start in starts]


def is_gzip(fh: IO[bytes]) -> bool:
    fh.seek(0)
    return fh.read(3) == GZIP_MAGIC


def starts_a_record(fh: IO[bytes], pos: int, gz: bool) -> bool:
    """Whether a WARC record starts at `pos`: a gzip member that inflates to a WARC
    header line, or (uncompressed) such a line at the start of the file or after the blank
    line that ends a record."""
    if gz:
        fh.seek(pos)
        try:
            head = zlib.decompressobj(31).decompress(fh.read(1 << 16), 16)
        except zlib.error:
            return False
        return RECORD_LINE.match(head) is not None
    fh.seek(max(0, pos - 4))
    before = fh.read(min(pos, 4))
    return (pos == 0 or before.endswith(b"\n\r\n") or before.endswith(b"\n\n")) \
        and RECORD_LINE.match(fh.read(16)) is not None


def next_record(fh: IO[bytes], pos: int, gz: bool, limit: int) -> int | None:
    """The offset of the first record starting in [pos, limit), or None."""
    magic = GZIP_MAGIC if gz else b"WARC/1."
    while pos < limit:
        fh.seek(pos)
        block = fh.read(min(SCAN_BLOCK, limit - pos) + len(magic) - 1)
        if not block:
            return None
        at = block.find(magic)
        while at != -1 and pos + at < limit:
            if starts_a_record(fh, pos + at, gz):
                return pos + at
            at = block.find(magic, at + 1)
        pos += SCAN_BLOCK
    return None


def read_chunk(path: Path, chunk: Chunk, max_bytes: int) -> Iterator[Item]:
    """Every record that starts in `chunk`'s range of the WARC file at `path`, in order:
    pages, records skipped, and damaged records (after each, reading goes on at the next
    whole record)."""
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        stop = size if chunk.stop is None else min(chunk.stop, size)
        gz = is_gzip(fh)
        pos: int | None = chunk.start if chunk.start == 0 else next_record(
            fh, chunk.start, gz, stop)
        while pos is not None and pos < stop:
            pos = yield from read_from(fh, pos, stop, size, chunk.source, gz, max_bytes)


def read_from(fh: IO[bytes], pos: int, stop: int, size: int, source: str, gz: bool,
              max_bytes: int) -> Generator[Item, None, int | None]:
    """Read records from `pos` until one starts at or after `stop`; returns where reading
    should go on after a damaged record (None when the range is done)."""
    fh.seek(pos)
    records = ArchiveIterator(fh)
    offset = pos
    try:
        for record in records:
            offset = records.offset
            if offset >= stop:
                return None
            yield item_of(record, offset, source, max_bytes)
        end = records.offset
        fh.seek(end)
        rest = fh.read(min(size - end, 4096))
        if end < stop and rest.strip():
            yield Damaged(end, f"{source}: the {size - end:,} bytes from byte {end:,} are no "
                               "whole record (the file is cut off?)")
        return None
    except UNREADABLE as exc:
        offset = records.offset
        if offset >= stop:
            return None
        yield Damaged(offset, f"{source}: the record at byte {offset:,} cannot be read "
                              f"({type(exc).__name__}: {why(exc)}); skipped to the next "
                              "whole record")
        return next_record(fh, offset + 1, gz, stop)


def why(exc: Exception) -> str:
    """An error of warcio or zlib on one short printable line: warcio quotes the bytes it
    could not read ("first line: ..."), which are binary when a gzip member is garbled."""
    text = str(exc).split("first line:")[0].strip(" :,")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())[:160] or type(exc).__name__


def item_of(record: Any, offset: int, source: str, max_bytes: int) -> Item:
    """One record as a page, a skip or a damaged record."""
    http = record.http_headers
    if record.rec_type != "response" or http is None:
        return Skipped(offset, "record")
    url = record.rec_headers.get_header("WARC-Target-URI") or ""
    if (http.get_statuscode() or "") != "200":
        return Skipped(offset, "status")
    raw = record.raw_stream.read(max_bytes + 1)
    where = f"{source}: the record at byte {offset:,} ({url})"
    if len(raw) > max_bytes:
        return Damaged(offset, f"{where} is over the {max_bytes:,} bytes cap", "too_large",
                       url)
    expected = record.length - (http.total_len or 0)
    if len(raw) < expected:
        return Damaged(offset, f"{where} is cut off: {len(raw):,} of its {expected:,} bytes",
                       url=url)
    record.raw_stream = io.BytesIO(raw)
    try:
        body = record.content_stream().read()
    except (OSError, zlib.error, ValueError) as exc:
        return Damaged(offset, f"{where}: its body cannot be decoded ({reason(exc)})",
                       "bad_encoding", url)
    content_type = http.get_header("Content-Type") or ""
    try:
        check_html(body, content_type, url)
    except NotHTMLError:
        return Skipped(offset, "not_html")
    page = Page(input=f"{source}#{offset}", url=url, status=200,
                headers=tuple((str(k), str(v)) for k, v in http.headers), content=body,
                fetched_at=warc_date(record.rec_headers.get_header("WARC-Date")))
    return Record(offset, page)


def warc_date(value: str | None) -> str:
    """WARC-Date as the tables write times (ISO 8601 UTC, to the second); empty when
    missing or unreadable."""
    try:
        when = datetime.fromisoformat((value or "").strip())
    except ValueError:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0).isoformat()


def file_size(source: str) -> int | None:
    """The size of a local WARC file (None for a URL: read as one range)."""
    if is_url(source):
        return None
    try:
        return local_path(source).stat().st_size
    except OSError:
        return None


@contextmanager
def local_copy(source: str, settings: Settings, folder: str | None = None) -> Iterator[Path]:
    """The WARC file `source` names, on this machine: a local path or file:// URL as it
    is; an http(s) URL streamed to a temporary file in `folder`, removed afterwards."""
    if not is_url(source):
        path = local_path(source)
        if not path.is_file():
            raise InputNotFound(f"no such WARC file: {path}")
        yield path
        return
    fd, name = tempfile.mkstemp(prefix="bulk-", suffix=".warc", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            download(source, out, settings)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def download(url: str, out: IO[bytes], settings: Settings) -> None:
    """Stream `url` into `out`, with the run's timeouts and User-Agent; httpx's errors and
    an answer of 400 or more become ours."""
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True,
                          max_redirects=settings.max_redirects,
                          headers={"User-Agent": settings.agent}) as client, \
                client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise status_error(response.status_code,
                                   f"HTTP {response.status_code} "
                                   f"{response.reason_phrase} for {url}")
            for block in response.iter_bytes(SCAN_BLOCK):
                out.write(block)
    except httpx.TooManyRedirects:
        raise FetchError(f"too many redirects: {url}", code="too_many_redirects") from None
    except httpx.TransportError as exc:
        raise transport_error(exc, url, settings) from None
    except OSError as exc:
        raise FetchError(f"cannot write the download of {url}: {exc.strerror or exc}",
                         code="os_error") from None

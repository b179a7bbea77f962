"""Small WARC files for the bulk tests and bench/bulk.py, written with warcio as a crawler
writes them: a warcinfo record first, then for each page a request and its response."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

WARC_DATE = "2024-05-06T07:08:09Z"


@dataclass(frozen=True)
class Response:
    """One archived answer: the URL asked, its body, and how it was answered."""

    url: str
    body: bytes
    status: str = "200 OK"
    content_type: str = "text/html; charset=utf-8"
    date: str = WARC_DATE


def write_warc(path: Path, responses: Iterable[Response], gz: bool = True,
               requests: bool = True) -> list[int]:
    """Write the responses to `path` (one gzip member per record when `gz`), each after its
    request unless `requests` is false (CC-NEWS holds responses only); returns the byte
    offset of each response record."""
    offsets = []
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=gz)

        def write(record: ArcWarcRecord) -> None:
            writer.write_record(record)
            record.raw_stream.close()  # warcio spools a body it digests to a temp file

        write(writer.create_warcinfo_record(path.name, {"software": "tests"}))
        for r in responses:
            if requests:
                request = StatusAndHeaders(f"GET {r.url} HTTP/1.1", [("Host", "example.org")],
                                           is_http_request=True)
                write(writer.create_warc_record(r.url, "request", http_headers=request,
                                                warc_headers_dict={"WARC-Date": r.date}))
            headers = StatusAndHeaders(r.status, [("Content-Type", r.content_type),
                                                  ("Content-Length", str(len(r.body)))],
                                       protocol="HTTP/1.1")
            offsets.append(out.tell())
            write(writer.create_warc_record(r.url, "response", payload=io.BytesIO(r.body),
                                            http_headers=headers,
                                            warc_headers_dict={"WARC-Date": r.date}))
    return offsets

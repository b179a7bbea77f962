"""The fetch stage against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator

import pytest

from extract.clean.cleaner import decode
from scraper.core.errors import (
    FetchError,
    HTTPStatusError,
    InputNotFound,
    NotHTMLError,
    TooLargeError,
    TooManyRedirects,
)
from scraper.core.settings import Settings
from scraper.fetch.fetcher import fetch_page as fetch

PAGE = "pages/syndication/xiaomi-borgward-seed-shape.html"
# Quick to fail: no retries, short timeouts (the stalled server must time out).
SHORT = Settings(retries=0, connect_timeout=5, read_timeout=0.5, crawl_delay=0)


@pytest.fixture
def stalled_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def test_fetches_a_page_with_an_honest_user_agent(http_server) -> None:
    settings = Settings(contact_url="https://example.org/about")
    page = fetch(f"{http_server.base}/{PAGE}", settings)
    assert page.status == 200 and b"Xiaomi" in page.content
    assert page.header("content-type").startswith("text/html")
    sent = [headers for _, path, headers in http_server.log if path == f"/{PAGE}"][-1]
    assert sent["User-Agent"].startswith("evnews-scraper/")
    assert "https://example.org/about" in sent["User-Agent"]


def test_follows_redirects_up_to_the_limit(http_server) -> None:
    settings = Settings(max_redirects=3)
    page = fetch(f"{http_server.base}/redirect/3?to=/{PAGE}", settings)
    assert page.url.endswith(PAGE) and len(page.redirects) == 3
    with pytest.raises(TooManyRedirects) as err:
        fetch(f"{http_server.base}/redirect/4?to=/{PAGE}", settings)
    assert err.value.code == "too_many_redirects" and err.value.final


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_error_statuses(http_server, status: int) -> None:
    with pytest.raises(HTTPStatusError) as err:
        fetch(f"{http_server.base}/status/{status}", Settings(retries=1, backoff=0.01))
    assert err.value.code == f"http_{status}" and err.value.stage == "fetch"
    # 4xx will not change by asking again; 5xx may (the crawl retries it, then next run).
    assert (err.value.final, err.value.retryable) == (status < 500, status >= 500)


def test_refuses_a_pdf(http_server) -> None:
    with pytest.raises(NotHTMLError, match="PDF"):
        fetch(f"{http_server.base}/pdf", Settings())


def test_body_cap_on_a_streamed_body(http_server) -> None:
    with pytest.raises(TooLargeError):
        fetch(f"{http_server.base}/big", Settings(max_bytes=1_000_000))


def test_body_cap_counts_decoded_bytes(http_server) -> None:
    # The gzip body is about 20 KB on the wire and 20 MB once inflated.
    with pytest.raises(TooLargeError):
        fetch(f"{http_server.base}/gzip-bomb", Settings(max_bytes=5_000_000))


def test_unreachable_host(closed_port: int) -> None:
    # robots.txt is asked first; its connection failure gives up the host, and the
    # article's failure names that cause.
    with pytest.raises(FetchError) as err:
        fetch(f"http://127.0.0.1:{closed_port}/", Settings(connect_timeout=2, retries=1,
                                                           backoff=0.01))
    assert err.value.code == "connect"
    assert err.value.message.startswith(
        f"connection refused: nothing accepts connections on 127.0.0.1:{closed_port}; ")
    assert err.value.message.endswith("given up, request not sent")


@pytest.mark.parametrize(("where", "cause", "code"), [
    ("closed", "connection refused: ", "connect"),
    ("http://no-such-host.invalid/a", "DNS: cannot resolve no-such-host.invalid (", "connect"),
    ("stalled", "timeout: 127.0.0.1:", "timeout"),
    ("https", "TLS: handshake with 127.0.0.1:", "connect"),
    ("/status/503", "HTTP 503 Service Unavailable for ", "http_503"),
    ("/redirect/9?to=/", "too many redirects: more than 5 from ", "too_many_redirects"),
])
def test_a_failure_names_its_cause(http_server, site, closed_port: int, stalled_port: int,
                                   where: str, cause: str, code: str) -> None:
    # https:// to a plain-HTTP server: the site server takes the client's hang-up quietly.
    url = {"closed": f"http://127.0.0.1:{closed_port}/a",
           "stalled": f"http://127.0.0.1:{stalled_port}/a",
           "https": site.base.replace("http://", "https://") + "/a"}.get(where, where)
    if url.startswith("/"):
        url = http_server.base + url
    with pytest.raises(FetchError) as err:
        fetch(url, SHORT)
    assert err.value.message.startswith(cause), err.value.message
    assert err.value.code == code and "\n" not in err.value.message


def test_a_host_given_up_by_its_budget_names_the_last_error(http_server) -> None:
    """Its budget spent on robots.txt's own retries, the host is given up: the failure
    says why, not only how many errors there were."""
    settings = dataclasses.replace(SHORT, retries=3, host_budget=4, backoff=0.01)
    with pytest.raises(FetchError) as err:
        fetch("http://budget-spent.invalid/a", settings)
    assert err.value.message.startswith("DNS: cannot resolve budget-spent.invalid")
    assert "given up" in err.value.message and err.value.code == "connect"


def test_missing_local_file(tmp_path) -> None:
    with pytest.raises(InputNotFound):
        fetch(str(tmp_path / "nope.html"), Settings())


def test_html_without_content_type_is_sniffed(http_server) -> None:
    page = fetch(f"{http_server.base}/no-type/{PAGE}", Settings())
    assert b"<html" in page.content.lower()


def test_charset_from_header_wins_and_a_wrong_latin1_label_is_corrected(http_server,
                                                                       tmp_path) -> None:
    text = "<html><body><p>Grünheide – Tesla’s plant</p></body></html>"
    (tmp_path / "utf8.html").write_bytes(text.encode("utf-8"))
    (tmp_path / "cp1252.html").write_bytes(text.encode("cp1252"))
    page = fetch(str(tmp_path / "cp1252.html"), Settings())
    labelled = dataclasses.replace(page, headers=(("Content-Type",
                                                   "text/html; charset=windows-1252"),))
    assert "Grünheide – Tesla’s" in decode(labelled)
    # Served as ISO-8859-1 but really UTF-8: the bytes say which.
    page = fetch(str(tmp_path / "utf8.html"), Settings())
    mislabelled = dataclasses.replace(page, headers=(("Content-Type",
                                                      "text/html; charset=iso-8859-1"),))
    assert "Grünheide – Tesla’s" in decode(mislabelled)
    # No label anywhere, not UTF-8: detection.
    assert "Grünheide" in decode(fetch(str(tmp_path / "cp1252.html"), Settings()))

"""The bulk mode: WARC files built with warcio from the fixture pages, read on Dask (its
synchronous scheduler where the test is about results, a real LocalCluster once), with
the facts compared to the one-off run's on the same pages."""

from __future__ import annotations

import contextlib
import csv
import io
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from extract.records import Article, Capacity, CompanyMention, Deal, Facts, Page
from scraper.app.bulk import BulkOptions, BulkSummary, run_bulk
from scraper.app.cli import main
from scraper.core.settings import Settings
from scraper.fetch.prefilter import glance
from scraper.fetch.warc import Chunk, chunks_of, read_chunk
from scraper.output.parts import read_part, to_parquet
from tests.conftest import PAGES
from tests.server import Served, serve
from tests.warcs import Response, write_warc

NON_EV = PAGES / "generic" / "riverside-library-reopens.html"
FACT_TABLES = ("companies", "deals", "capacities")
TABLES = ("articles", *FACT_TABLES, "failures")


def fixture_pages() -> list[Path]:
    return sorted(PAGES.glob("*/*.html"))


def url_of(served: Served, page: Path) -> str:
    return f"{served.base}/pages/{page.relative_to(PAGES).as_posix()}"


def responses(served: Served, pages: list[Path]) -> list[Response]:
    """The pages as the archive holds them, with an image and a redirect among them."""
    out = [Response(url_of(served, page), page.read_bytes()) for page in pages]
    out.insert(3, Response(f"{served.base}/logo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64,
                           content_type="image/png"))
    out.insert(7, Response(f"{served.base}/old", b"", status="301 Moved Permanently"))
    return out


def bulk(out: Path, *sources: Path | str, **options: object) -> BulkSummary:
    settings = Settings(out_dir=out, quiet=True)
    given = {"scheduler": "synchronous", "dashboard": None, **options}
    return run_bulk(settings, BulkOptions(tuple(map(str, sources)), **given))


def rows(out: Path, table: str, leave_out: tuple[str, ...] = ()) -> list[dict[str, str]]:
    path = out / f"{table}.csv"
    if not path.exists():
        return []
    found = [{k: v for k, v in row.items() if k not in leave_out}
             for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))]
    return sorted(found, key=lambda row: list(row.values()))


def table_bytes(out: Path) -> dict[str, bytes]:
    """Every table of the folder (the derived ones too), by name."""
    return {path.stem: path.read_bytes() for path in sorted(out.glob("*.csv"))}


@pytest.fixture(scope="module")
def served() -> Served:
    with serve(PAGES.parent) as server:
        yield server


@pytest.fixture(scope="module")
def archive(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warc") / "fixtures.warc.gz"
    write_warc(path, responses(served, fixture_pages()))
    return path


def test_bulk_gives_the_facts_of_the_oneoff_run(archive: Path, served: Served,
                                                tmp_path: Path) -> None:
    summary = bulk(tmp_path / "bulk", archive)
    ev_pages = [p for p in fixture_pages() if p != NON_EV]
    code = main([*(url_of(served, p) for p in ev_pages), "-o", str(tmp_path / "oneoff"),
                 "--delay", "0", "-q"])
    assert code == 0 and summary.ok
    for table in FACT_TABLES:
        assert (tmp_path / "bulk" / f"{table}.csv").read_bytes() == \
            (tmp_path / "oneoff" / f"{table}.csv").read_bytes(), table
    when = ("input", "fetched_at")
    assert rows(tmp_path / "bulk", "articles", when) == rows(tmp_path / "oneoff", "articles",
                                                             when)
    bulk_articles = rows(tmp_path / "bulk", "articles")
    assert len(bulk_articles) == len(ev_pages) == summary.written
    assert {r["fetched_at"] for r in bulk_articles} == {"2024-05-06T07:08:09+00:00"}
    assert all(r["input"].startswith(f"{archive}#") for r in bulk_articles)
    # The library page is dropped by the glance, before the cleaner, and counted.
    c = summary.counts
    assert (c.pages, c.dropped, c.articles) == (len(ev_pages) + 1, 1, len(ev_pages))
    assert c.records == 1 + 2 * (len(ev_pages) + 3)  # warcinfo, request + response each
    assert not any("riverside" in r["url"] for r in bulk_articles)


def test_the_same_warc_twice_changes_nothing(archive: Path, tmp_path: Path) -> None:
    bulk(tmp_path, archive)
    first = table_bytes(tmp_path)
    again = bulk(tmp_path, archive)
    assert table_bytes(tmp_path) == first
    assert set(TABLES) <= set(first) and first["failures"].count(b"\n") == 1  # header only
    assert again.written == len(fixture_pages()) - 1 and again.older == 0


def test_a_backfill_then_the_crawl_gives_no_duplicates(archive: Path, served: Served,
                                                       tmp_path: Path) -> None:
    bulk(tmp_path, archive)
    backfilled = rows(tmp_path, "articles")
    ev_urls = [url_of(served, p) for p in fixture_pages() if p != NON_EV]
    assert main([*ev_urls, "-o", str(tmp_path), "--delay", "0", "-q"]) == 0
    articles = rows(tmp_path, "articles")
    assert len(articles) == len(backfilled)
    assert len({r["article_id"] for r in articles}) == len(articles)
    assert {r["input"] for r in articles} == set(ev_urls)  # the crawl's versions now
    for table in FACT_TABLES:
        found = rows(tmp_path, table)
        assert len(found) == len({tuple(r.values()) for r in found}), table
    # The archive's older captures do not overwrite the newer rows the crawl wrote.
    crawled = table_bytes(tmp_path)
    again = bulk(tmp_path, archive)
    assert again.older == len(ev_urls) and again.written == 0
    assert table_bytes(tmp_path) == crawled


@pytest.fixture
def dashboard_port_taken() -> Iterator[None]:
    """Port 8787 held, as another Dask cluster on the machine would: the cluster must
    not ask for it (a warning would fail the test)."""
    with socket.socket() as held:
        with contextlib.suppress(OSError):  # already taken by someone else: as good
            held.bind(("", 8787))
            held.listen()
        yield


@pytest.mark.usefixtures("dashboard_port_taken")
def test_a_local_cluster_gives_what_the_synchronous_scheduler_gives(
        archive: Path, tmp_path: Path) -> None:
    one = bulk(tmp_path / "sync", archive, chunk_mb=0)
    many = bulk(tmp_path / "cluster", archive, scheduler=None, workers=1, chunk_mb=0.02)
    assert one.tasks == 1 and many.tasks >= 4 and many.workers == 1
    assert many.counts == one.counts
    assert table_bytes(tmp_path / "cluster") == table_bytes(tmp_path / "sync")


def small_warc(path: Path, served: Served, gz: bool = True) -> tuple[list[int], list[str]]:
    pages = [p for p in fixture_pages() if p != NON_EV][:5]
    return (write_warc(path, [Response(url_of(served, p), p.read_bytes()) for p in pages],
                       gz=gz), [url_of(served, p) for p in pages])


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
def test_broken_records_are_failures_and_the_others_land(served: Served, tmp_path: Path,
                                                         gz: bool) -> None:
    path = tmp_path / ("broken.warc.gz" if gz else "broken.warc")
    offsets, urls = small_warc(path, served, gz)
    data = bytearray(path.read_bytes())
    # The third response garbled from its middle (gzip) or in its header line (plain),
    # and the file cut off inside the last response.
    garbled = offsets[2] + (300 if gz else 0)
    data[garbled:garbled + 40] = bytes(b ^ 0x5A for b in data[garbled:garbled + 40])
    cut = offsets[4] + 400
    path.write_bytes(bytes(data[:cut]))
    out = tmp_path / "out"
    assert main(["bulk", str(path), "-o", str(out), "--scheduler", "synchronous", "-q"]) == 1
    failures = rows(out, "failures")
    assert [(f["input"], f["stage"], f["error"]) for f in failures] == sorted(
        [(f"{path}#{offsets[2]}", "fetch", "bad_warc"),
         (f"{path}#{offsets[4]}", "fetch", "bad_warc")])
    assert any("cut off" in f["message"] or "no whole record" in f["message"]
               for f in failures)
    assert {r["input"] for r in rows(out, "articles")} == {
        f"{path}#{offsets[i]}" for i in (0, 1, 3)}


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
def test_byte_ranges_read_each_record_once(served: Served, tmp_path: Path, gz: bool) -> None:
    path = tmp_path / "ranges.warc"
    offsets, _ = small_warc(path, served, gz)
    size = path.stat().st_size

    def read(chunks: list[Chunk]) -> list[tuple[str, int]]:
        return [(type(item).__name__, item.offset) for chunk in chunks
                for item in read_chunk(path, chunk, 10_000_000)]

    whole = read(chunks_of(str(path), size, 0))
    assert [o for kind, o in whole if kind == "Record"] == offsets
    assert len(whole) == 1 + 2 * len(offsets) and not any(k == "Damaged" for k, _ in whole)
    for chunk_bytes in (997, 4096, 12_345, size // 2):
        chunks = chunks_of(str(path), size, chunk_bytes)
        assert len(chunks) >= 2
        assert read(chunks) == whole, chunk_bytes


def test_a_warc_url_is_downloaded_and_a_bad_one_is_a_failure(served: Served,
                                                             tmp_path: Path) -> None:
    folder = tmp_path / "served"
    folder.mkdir()
    offsets, _ = small_warc(folder / "small.warc.gz", served)
    with serve(folder) as archive_host:
        url = f"{archive_host.base}/small.warc.gz"
        summary = bulk(tmp_path / "out", url, f"{archive_host.base}/missing.warc.gz",
                       tmp_path / "nowhere.warc.gz")
    assert summary.counts.pages == len(offsets)
    assert {r["input"] for r in rows(tmp_path / "out", "articles")} == {
        f"{url}#{o}" for o in offsets}
    assert sorted((f["stage"], f["error"]) for f in rows(tmp_path / "out", "failures")) == [
        ("fetch", "http_404"), ("fetch", "not_found")]


def page(html: str) -> Page:
    return Page(input="x", url="https://news.example/a", status=200,
                headers=(("content-type", "text/html; charset=utf-8"),),
                content=html.encode(), fetched_at="")


FILLER = "<p>" + "The council met on Tuesday to discuss the new budget for the town. " * 3
LEAD = ("<p>The company said on Monday that the plant would start production next year, "
        "with room for later phases.</p>")


@pytest.mark.parametrize(("html", "keep"), [
    (f"<title>Nio opens a swap station</title><body>{FILLER}</p></body>", True),
    (f"<title>New electric SUV revealed</title><body>{FILLER}</p></body>", True),
    (f"<title>Budget news</title><body>{FILLER}</p><p>CATL said its battery cells plant "
     "in Hungary would be ready in 2026, the company told reporters.</p></body>", True),
    (f"<title>Plant news</title><body>{LEAD}<p>Huawei is a partner.</p>{FILLER}</p></body>",
     False),  # a short paragraph is chrome, not lead
    (f"<title>Plant news</title><body>{LEAD.replace('The company', 'Huawei')}</body>",
     True),  # a tech firm with a production word
    (f"<title>Town budget</title><body>{FILLER}</p><footer>Electric vehicles</footer></body>",
     False),
    ("", True),  # nothing to parse: kept, for the cleaner to judge and record
])
def test_the_glance_keeps_ev_pages_and_drops_the_rest(html: str, keep: bool) -> None:
    assert glance(page(html)).keep is keep, glance(page(html))


def test_the_glance_keeps_every_ev_fixture_page() -> None:
    for path in fixture_pages():
        found = glance(Page(input="x", url="https://news.example/a", status=200, headers=(),
                            content=path.read_bytes(), fetched_at=""))
        assert found.keep is (path != NON_EV), (path, found)


def test_bulk_usage_errors_exit_2(archive: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(["bulk", "-o", out])
    assert stop.value.code == 2
    assert main(["bulk", str(archive), "-o", out, "--workers", "0"]) == 2
    assert main(["bulk", str(archive), "-o", out, "--workers", "2", "--scheduler",
                 "synchronous"]) == 2
    assert main(["bulk", str(archive), "-o", out, "--chunk-size", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--workers 0: give 1 or more" in err and "--chunk-size -1" in err
    assert not (tmp_path / "articles.csv").exists()


def test_bulk_help_lists_its_options() -> None:
    from scraper.app.cli import build_parser

    text = build_parser("bulk").format_help()
    for option in ("WARC", "--scheduler ADDRESS", "--workers N", "--chunk-size MB",
                   "-o DIR, --out DIR", "--model NAME", "-q, --quiet", "--min-relevance"):
        assert option in text, option
    assert "--delay" not in text  # no politeness to keep: archives are read, not crawled



def test_a_parquet_partition_gives_back_the_records(tmp_path: Path) -> None:
    article = Article(url="https://news.example/a", input="a.warc.gz#12", site="Example",
                      title="T", author="", published="2024-01-02T00:00:00+00:00",
                      source_credit="CnEVPost", paragraphs=("One.", "Two."),
                      fetched_at="2024-05-06T07:08:09+00:00")
    facts = Facts(companies=(CompanyMention("Nio", 2, ("NIO", "Nio")),),
                  deals=(Deal("Nio", "JAC", "contract_manufacturing", "completed", None, "E.",
                              "model"),),
                  capacities=(Capacity("BYD", "Szeged plant", 150_000, "total", 2026, "E.",
                                       "Hungary"),),
                  relevance=0.87)
    path = tmp_path / "part.parquet"
    path.write_bytes(to_parquet([(article, facts), (article, Facts((), (), ()))]))
    assert list(read_part(path)) == [(article, facts), (article, Facts((), (), ()))]
    assert list(read_part(path, {1})) == [(article, Facts((), (), ()))]

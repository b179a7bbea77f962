# Two commands: `make demo` (set up, then run the scraper on a bundled page) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean-output lock install-check

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
	$(PY) bench/pairs.py
	$(PY) bench/relevance.py
	$(PY) bench/ledger.py
	$(PY) bench/e2e.py
	$(PY) bench/bulk.py
	$(PY) bench/store.py

# Re-pin requirements.lock from pyproject.toml's ranges, in a throwaway environment. The
# project is not in it, nor the model, which requirements-model.txt pins with its hash.
lock:
	rm -rf .lock-venv && $$(sh scripts/find-python) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet '.[test]'
	{ sed -n 1,2p requirements.lock; .lock-venv/bin/pip freeze --exclude-editable \
	  | grep -v -i -e '^evnews-scraper' -e '^en[-_]core[-_]web[-_]sm'; } \
	  > requirements.lock.new && mv requirements.lock.new requirements.lock
	rm -rf .lock-venv

# `pip install .` as a user does it, in a fresh venv in a temporary folder: a copy of the
# clone (the files git tracks or would track, so no .venv and no outputs), the lock's
# versions as constraints, the model from PyPI as the declared dependency. Then the
# `evnews` command, run outside the source tree, on a bundled page. CI runs it.
install-check:
	@set -eu; start=$$(date +%s); src=$$(pwd); tmp=$$(mktemp -d); \
	trap 'rm -rf "$$tmp"' EXIT; mkdir "$$tmp/clone"; \
	git ls-files -z --cached --others --exclude-standard \
	  | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$$tmp/clone"; \
	$$(sh scripts/find-python) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$tmp/venv/bin/python" -m pip install --quiet -c requirements.lock "$$tmp/clone"; \
	"$$tmp/venv/bin/python" -m pip check; \
	cd "$$tmp"; \
	venv/bin/python -c 'import scraper, sys; sys.exit("site-packages" not in scraper.__file__)' \
	  || { echo "install-check: scraper was not imported from the installed package" >&2; exit 1; }; \
	venv/bin/evnews --help > help.txt; grep -q -- '--out DIR' help.txt; grep -q '^usage: evnews' help.txt; \
	venv/bin/evnews "$$src/fixtures/pages/syndication/xiaomi-borgward-seed-shape.html" \
	  -o "$$tmp/out"; \
	rows=$$(($$(wc -l < "$$tmp/out/deals.csv") - 1)); \
	test "$$rows" -gt 0 || { echo "install-check: deals.csv has no rows" >&2; exit 1; }; \
	echo "install-check: pip install . and evnews ok ($$rows deals) in $$(($$(date +%s) - start))s"

clean-output:
	rm -rf output/*.csv output/text

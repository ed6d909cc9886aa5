# Linli: `make run` serves the demo street, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CHROMIUM ?= /usr/bin/chromium

.PHONY: install migrate seed run chat test lint pytest browser eval bench chaos loadgen clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/linli db upgrade

seed: migrate
	$(BIN)/linli seed

run: seed
	$(BIN)/linli serve

chat: seed
	$(BIN)/linli chat

# The web chat is tested in Debian's Chromium (Playwright drives it; it downloads no browser).
# A CJK font makes the desk's screenshots legible (the tests pass without one).
CJK_FONT ?= /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
browser:
	@test -x $(CHROMIUM) || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@test -f $(CJK_FONT) || { \
	  echo "installing a Chinese font for the browser tests' screenshots"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null \
	  || echo "no Chinese font: screenshots will show boxes (the tests do not depend on it)"; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The suite runs in four processes, one after another (about 600 to 1,000 tests each): in
# one, the apps 3,200 tests build (each with its engines, models and caches) grew the process
# past this machine's 24 GiB and the kernel killed it at 84% (2026-12-07).
PYTEST_PARTS = "tests/test_[a-c]*.py" "tests/test_[d-o]*.py" "tests/test_[p-r]*.py" \
	"tests/test_[s-z]*.py tests/security"

pytest: install browser
	@for part in $(PYTEST_PARTS); do echo "pytest $$part"; $(BIN)/pytest -q $$part || exit 1; done

test: lint pytest

eval: install
	$(BIN)/python -m bench.eval_understanding --part frozen

# wrk drives the side-by-side throughput runs (Debian's package).
loadgen:
	@command -v wrk >/dev/null || { \
	  echo "installing Debian's wrk for the benchmarks"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# Issue 22: Linli against a WeRoBot echo, then the scenario table (SQLite, PostgreSQL 1/2/4).
bench: install loadgen
	$(BIN)/python -m bench.wechat_peer
	$(BIN)/python -m bench.scenario

# Issue 22: every fault (kill, restarts, channel down, disk full, clock jumps); prints losses.
chaos: install
	$(BIN)/python -m bench.chaos

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

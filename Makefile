# The two commands of the README: `make demo` and `make test`. Both set up .venv from nothing,
# with the witness extra (aiohttp): the demo runs two witnesses.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test browser screenshots lint typecheck bench bench-quick bench-day bench-witness election-night bec2019 fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,witness]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m election_ledger_cli.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check ledger cli tests benchmarks
	$(VENV)/bin/mypy

test: $(STAMP) lint browser
	$(PY) -m pytest -q -n 2 tests

# The observer's page is tested in a real headless Chromium (Debian's chromium and
# chromium-driver; no browser download): installed here when missing and we are root (CI),
# otherwise we stop and say what to install.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	else \
		echo "make test needs Chromium and its driver: sudo apt-get install chromium chromium-driver" >&2; \
		exit 1; \
	fi

# Pictures of the observer's page (docs/observer.md), desktop and phone sizes.
screenshots: $(STAMP) browser
	$(PY) -m tests.observer_screenshots docs/images

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m benchmarks.run --full

bench-quick: $(BENCH_STAMP)
	$(PY) -m benchmarks.run --quick

# A whole election day of 16.8M records signed, ingested, published and audited, then the
# incremental audit (docs/performance.md): about an hour and 20 GB; rerun to resume.
DAY_SIZE ?= 16800000
DAY_DIR ?= bench-day-work
bench-day: $(BENCH_STAMP)
	$(PY) -m benchmarks.day --size $(DAY_SIZE) --workdir $(DAY_DIR)

# The real-operations runs of docs/publisher.md, "An election night, file by file", on the whole
# AEP files of the shared data folder (DATA=... to point elsewhere).
DATA ?= ../shared/data
election-night: $(STAMP)
	$(PY) -m benchmarks.election_night --data $(DATA)

# add-checkpoint requests/s against a real witness, from 10M-entry logs (docs/witness.md)
bench-witness: $(STAMP)
	$(PY) -m benchmarks.witness --size 10000000 --seconds 3

FUZZ_STAMP := $(VENV)/.installed-fuzz
#: Seconds of fuzzing per target (16 targets): `make fuzz FUZZ_SECONDS=300` for a longer run.
FUZZ_SECONDS ?= 30

# atheris (the `fuzz` extra) may not install everywhere: the runner then fuzzes with hypothesis.
$(FUZZ_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,fuzz]' || echo "atheris did not install: hypothesis will fuzz"
	touch $(FUZZ_STAMP)

fuzz: $(FUZZ_STAMP)
	$(PY) -m tests.fuzz_atheris --seconds $(FUZZ_SECONDS)

# The 2019 presidential round 1 and its mail file, whole, in the BEC 2019 form: imported,
# verified, each candidate's ledger total checked against the CSV's column sums.
bec2019: $(STAMP)
	$(PY) -m benchmarks.bec2019 --data $(DATA)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache fuzz-crashes

# The two commands a newcomer needs: `make demo` (the whole hall on this box)
# and `make test` (the suite). Both install what they need first.
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: install test check demo bench docs clean

install:
	@bash scripts/bootstrap.sh

# Lint and types first (rules in pyproject.toml), then the suite.
test: install check
	$(PY) -m pytest -q $(PYTEST_ARGS)

check: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

demo: install
	$(VENV)/bin/motcua demo $(DEMO_ARGS)

# Each benchmark prints its figures and ends with one JSON line.
bench: install
	$(PY) bench/dispatcher.py
	$(PY) bench/rating.py
	$(PY) bench/announce.py
	$(PY) bench/kiosk_ticket.py
	$(PY) bench/press_to_frame.py
	$(PY) bench/web.py
	$(PY) bench/signboard.py
	$(PY) bench/report.py
	$(PY) bench/screens.py
	$(PY) bench/province.py

# Regenerate the committed contract artefacts (JSON Schemas, AsyncAPI, protocol.md).
docs: install
	$(VENV)/bin/motcua schema export docs

clean:
	rm -rf $(VENV) demo-output .pytest_cache

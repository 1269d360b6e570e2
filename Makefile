# Prahari: the two commands a fresh machine needs are `make run` and `make test` (CONTRACT.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-requirements
CHROMIUM ?= /usr/bin/chromium
PGBOUNCER ?= /usr/sbin/pgbouncer
SIZE ?= full
PYTEST_ARGS ?= -n 2  # two pytest-xdist workers, one a core (docs/operations.md, "Tests and CI")

.PHONY: run serve load test bench install chromium lint format messages clean

$(BIN)/python:
	@echo "==> Creating the virtual environment $(VENV)"
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(BIN)/python
	@echo "==> Installing the packages of requirements.txt into $(VENV) (a minute or two the first time)"
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	cp requirements.txt $(STAMP)
	@echo "==> Packages installed"

install: $(STAMP)

# Web on http://127.0.0.1:8000/, a Celery worker and beat, in the foreground; Ctrl-C stops all three.
# Embedded defaults: PostgreSQL from the pgserver wheel with its data under var/postgres (started by the first
# process, stopped by the last: docs/database.md), the filesystem broker under var/broker (no server needed).
# Once the web answers, Procfile's `ready` prints a banner: where to go, who to sign in as, records to try.
run: install
	@mkdir -p var
	@export DJANGO_DEBUG=$${DJANGO_DEBUG-1} PATH="$(abspath $(BIN)):$$PATH"; \
	echo "==> Starting the database and applying migrations" && \
	$(BIN)/python manage.py migrate --noinput && \
	echo "==> Seeding the demo (accounts, records, 30 days of look-ups; kept from run to run)" && \
	$(BIN)/python manage.py seed_demo --credentials-out var/demo-credentials.json --banner-out var/demo-banner.txt && \
	echo "==> Starting web, worker and beat; a banner follows when the web answers" && \
	exec $(BIN)/honcho start -f Procfile

# The production profile, in the foreground: DEBUG off, the PostgreSQL of DATABASE_URL and the Redis of REDIS_URL
# (both required, as is DJANGO_SECRET_KEY); migrates, collects static files into var/static, runs
# `check --deploy`, then Procfile.production through honcho: gunicorn (WEB_CONCURRENCY workers, default 2, on
# PRAHARI_BIND, default 127.0.0.1:8000, behind a TLS proxy), a Celery worker per queue and one beat.
serve: install
	@exec $(BIN)/python -m portal.serve

# The load test (docs/operations.md, "Load test"): the production profile on a fresh database of its own
# (`<name>_load` on DATABASE_URL's server, dropped afterwards) and REDIS_URL, driven by locust (headless) with
# workers and supervisors signing in for real, the governed mix against the ungoverned baseline in interleaved
# rounds; writes bench/results/load.json and fails when any request failed. LOAD_SECONDS (per mix, default 60),
# LOAD_USERS (12), WEB_CONCURRENCY (2) and the rest: `python -m bench._load --help`.
load: install
	$(BIN)/python -m bench._load

# Installs what tests need (Debian's chromium for browser tests) and runs the whole suite.
# PostgreSQL and Redis are used when DATABASE_URL / REDIS_URL are set (.ci/run sets both); without DATABASE_URL,
# the embedded PostgreSQL under var/postgres.
test: install chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Debian's chromium, a Devanagari font so Hindi pages render in screenshots, gettext (the test
# that the Hindi catalogue holds every marked string runs makemessages on a copy of the sources), and
# pgbouncer (tests/integration/test_pgbouncer.py starts its own on a free port; the package's service is
# not used).
chromium:
	@if [ ! -x "$(CHROMIUM)" ] || [ ! -d /usr/share/fonts/truetype/noto ] || ! command -v xgettext >/dev/null \
	    || [ ! -x "$(PGBOUNCER)" ]; then \
	  echo "Installing Debian's chromium, fonts-noto-core, gettext and pgbouncer for the tests…"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-core gettext pgbouncer >/dev/null \
	    || { echo "Could not install chromium, fonts-noto-core, gettext and pgbouncer: the tests need them." >&2; exit 1; }; \
	fi

bench: install
	$(BIN)/python -m bench --size $(SIZE)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Refresh the Hindi catalogue after changing strings; the compiled .mo is committed (no gettext needed to run).
messages: install
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemessages -l hi --no-obsolete --ignore ".venv/*" --ignore "var/*" --ignore "tests/*" --ignore "bench/*"
	DJANGO_DEBUG=1 $(BIN)/python manage.py compilemessages -l hi --ignore ".venv"

clean:
	rm -rf var .pytest_cache

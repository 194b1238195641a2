# as-connection-service — `make run` and `make test` set themselves up (.venv) on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 3105
STAGE  ?= dev
TENANT ?= dev-tenant
# USER comes from the login environment; only a value given on the command line names the token's user.
ifeq ($(origin USER),command line)
TOKEN_USER := $(USER)
else
TOKEN_USER := dev-user
endif
ENV_FILE := $(wildcard .env)
# make run REDIS_MODE=cluster: an embedded Redis Cluster, unless REDIS_URL names one (the functions get REDIS_MODE).
REDIS_ARGS := $(if $(filter cluster,$(REDIS_MODE)),$(if $(REDIS_URL),,--redis cluster))

.PHONY: help run test test-js dashboard token lint typecheck check bench clean venv

help:
	@echo "make run    start the local gateway on :$(PORT) (embedded Redis unless REDIS_URL is set; REDIS_MODE=cluster: a cluster)"
	@echo "make test   run the whole test suite (starts its own Redis)"
	@echo "make token  print a development JWT (TENANT=... USER=...)"
	@echo "make dashboard  serve the dashboard page on :3000 and print its URL with a token (TENANT=... USER=...)"
	@echo "make test-js    the dashboard client's suites (unit, integration, browser)"
	@echo "make check  same as make test (lint, typecheck, tests)"
	@echo "make bench  measure the performance figures (README, Performance) (BENCH_ARGS=--quick; see python -m bench -h)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python >= 3.10 is required, found " + sys.version.split()[0]) if sys.version_info < (3, 10) else None'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[local,dev]'
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	@echo "as-connection-service local gateway"
	@echo "  development token:  make -s token TENANT=t1 USER=u1"
	@echo "  connect:            npx wscat -c \"ws://localhost:$(PORT)/$(STAGE)?token=\$$(make -s token)\""
	@echo "  internal API key:   \$$INTERNAL_SERVICE_KEY, else the local development key local-development-internal-service-key"
	@$(BIN)/python -m local --template template.yaml --port $(PORT) --stage $(STAGE) $(if $(ENV_FILE),--env-file $(ENV_FILE)) $(REDIS_ARGS)

token: $(STAMP)
	@$(BIN)/python -m connection_service.dev_token --tenant "$(TENANT)" --user "$(TOKEN_USER)"

test: lint typecheck test-js
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The dashboard client (clients/js): its unit, integration (real gateway and Redis) and browser (Chromium) suites.
JS := clients/js
$(JS)/node_modules/.package-lock.json: $(JS)/package-lock.json
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' || (echo "Node >= 20 is required" && false)
	cd $(JS) && npm ci --no-audit --no-fund

test-js: $(STAMP) $(JS)/node_modules/.package-lock.json
	cd $(JS) && npm test

dashboard: $(STAMP)
	@echo "open http://localhost:3000/examples/dashboard.html#token=$$($(BIN)/python -m connection_service.dev_token --tenant "$(TENANT)" --user "$(TOKEN_USER)")"
	$(PYTHON) -m http.server 3000 --bind 127.0.0.1 --directory $(JS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: test

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

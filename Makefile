# as-connection-service — `make run` and `make test` set themselves up (.venv) on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ENV_FILE := $(wildcard .env)
# $(call dotenv,NAME): NAME's value in .env (the last KEY=value line; quotes and a trailing comment removed).
dotenv = $(if $(ENV_FILE),$(shell sed -n -e 's/^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}$(1)[[:space:]]*=//p' \
  $(ENV_FILE) | tail -n 1 | sed -e 's/[[:space:]]\{1,\}\#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$$//' \
  -e 's/^"\(.*\)"$$/\1/' -e "s/^'\(.*\)'$$/\1/"))
# The command line, then the environment, then .env, then the default (as the gateway reads .env: existing wins).
PORT   ?= $(or $(call dotenv,PORT),3105)
STAGE  ?= $(or $(call dotenv,STAGE),dev)
TENANT ?= t1
# USER comes from the login environment; only a value given on the command line names the token's user.
ifeq ($(origin USER),command line)
TOKEN_USER := $(USER)
else
TOKEN_USER := u1
endif
# The internal service key the functions will use, named (its value is shown only when it is the development one).
DEV_SERVICE_KEY := local-development-internal-service-key
ifneq ($(INTERNAL_SERVICE_KEY),)
SERVICE_KEY_SOURCE := $(if $(filter command line,$(origin INTERNAL_SERVICE_KEY)),the command line,the environment)
SERVICE_KEY_VALUE := $(INTERNAL_SERVICE_KEY)
else
SERVICE_KEY_SOURCE := .env
SERVICE_KEY_VALUE := $(call dotenv,INTERNAL_SERVICE_KEY)
endif
ifeq ($(SERVICE_KEY_VALUE),)
SERVICE_KEY_NOTE := $(DEV_SERVICE_KEY) (the development default; set INTERNAL_SERVICE_KEY for your own)
SERVICE_KEY_HEADER := $(DEV_SERVICE_KEY)
else ifeq ($(SERVICE_KEY_VALUE),$(DEV_SERVICE_KEY))
SERVICE_KEY_NOTE := $(DEV_SERVICE_KEY) (the development default, from $(SERVICE_KEY_SOURCE))
SERVICE_KEY_HEADER := $(DEV_SERVICE_KEY)
else
SERVICE_KEY_NOTE := INTERNAL_SERVICE_KEY from $(SERVICE_KEY_SOURCE) (value not shown)
SERVICE_KEY_HEADER := <your INTERNAL_SERVICE_KEY>
endif
# make run REDIS_MODE=cluster: an embedded Redis Cluster, unless REDIS_URL names one (the functions get REDIS_MODE).
REDIS_ARGS := $(if $(filter cluster,$(REDIS_MODE)),$(if $(REDIS_URL),,--redis cluster))

.PHONY: help run test test-js dashboard token lint typecheck check bench clean venv

help:
	@echo "make run        start the local gateway on :$(PORT), stage $(STAGE) (PORT, STAGE from .env too; embedded Redis unless REDIS_URL is set; REDIS_MODE=cluster: a cluster)"
	@echo "make test       ruff, mypy, then pytest and the JavaScript suites side by side (starts its own Redis; PYTEST_ARGS=... narrows pytest)"
	@echo "make token      print a development JWT (TENANT=$(TENANT) USER=$(TOKEN_USER) by default)"
	@echo "make dashboard  serve the dashboard page on :3000 and print its URL with a token (TENANT=... USER=...)"
	@echo "make test-js    the dashboard client's suites (unit, integration, browser; Node >= 20)"
	@echo "make lint       ruff;  make typecheck: mypy;  make check: the same as make test"
	@echo "make bench      measure the performance figures (docs/performance.md) (BENCH_ARGS=--quick; see python -m bench -h)"
	@echo "make package    one deployable artifact per function in dist/ (arm64, Python 3.12) and dist/template.json (docs/deploy.md)"
	@echo "make clean      remove the venv and the tool caches"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python >= 3.10 is required, found " + sys.version.split()[0]) if sys.version_info < (3, 10) else None'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[local,dev]'
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	@echo "as-connection-service local gateway on port $(PORT), stage $(STAGE)"
	@echo "  WebSocket API:     ws://localhost:$(PORT)/$(STAGE)?token=<JWT>"
	@echo "  HTTP API:          http://localhost:$(PORT)  (OpenAPI: http://localhost:$(PORT)/docs)"
	@echo "  token:             TOKEN=\$$(make -s token TENANT=$(TENANT) USER=$(TOKEN_USER))"
	@echo "  connect (Node):    npx --yes wscat -c \"ws://localhost:$(PORT)/$(STAGE)?token=\$$TOKEN\""
	@echo "  connect (Python):  .venv/bin/python -m websockets \"ws://localhost:$(PORT)/$(STAGE)?token=\$$TOKEN\""
	@echo "  internal API key:  $(SERVICE_KEY_NOTE)"
	@echo "  broadcast:         curl -sS --fail-with-body -X POST http://localhost:$(PORT)/broadcast/tenant/$(TENANT) -H 'X-Internal-Service-Key: $(SERVICE_KEY_HEADER)' -H 'Content-Type: application/json' -d '{\"event\": \"call_incoming\", \"data\": {\"callId\": \"c1\", \"from\": \"+15550001111\", \"to\": \"+15550002222\"}}'"
	@$(BIN)/python -m local --template template.yaml --port $(PORT) --stage $(STAGE) $(if $(ENV_FILE),--env-file $(ENV_FILE)) $(REDIS_ARGS)

# Order-only: a missing venv is made, a stale one is left for make run / make test to refresh.
token: | $(STAMP)
	@$(BIN)/python -m connection_service.dev_token --tenant "$(TENANT)" --user "$(TOKEN_USER)"

# The dashboard client (clients/js): its unit, integration (real gateway and Redis) and browser (Chromium) suites.
JS := clients/js
$(JS)/node_modules/.package-lock.json: $(JS)/package-lock.json
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' || (echo "Node >= 20 is required" && false)
	cd $(JS) && npm ci --no-audit --no-fund

test-js: $(STAMP) $(JS)/node_modules/.package-lock.json
	cd $(JS) && npm test

# pytest runs in PYTEST_WORKERS processes (pytest-xdist), the JavaScript suites alongside it (their output follows
# pytest's). PYTEST_WORKERS=0 runs pytest in one process (for --pdb).
PYTEST_WORKERS ?= 2
test: lint typecheck $(JS)/node_modules/.package-lock.json
	@js_log=$$(mktemp); trap 'rm -f "$$js_log"' EXIT; \
	(cd $(JS) && npm test) >"$$js_log" 2>&1 & js=$$!; \
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS); py_status=$$?; \
	wait $$js; js_status=$$?; \
	echo "--- make test-js (run alongside pytest) ---"; cat "$$js_log"; \
	echo "make test: pytest exited $$py_status, the JavaScript suites $$js_status"; \
	[ $$py_status -eq 0 ] && [ $$js_status -eq 0 ]

dashboard: $(STAMP)
	@echo "open http://localhost:3000/examples/dashboard.html#url=ws://localhost:$(PORT)/$(STAGE)&token=$$($(BIN)/python -m connection_service.dev_token --tenant "$(TENANT)" --user "$(TOKEN_USER)")"
	$(PYTHON) -m http.server 3000 --bind 127.0.0.1 --directory $(JS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: test

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

.PHONY: package
# Each function's artifact for the template's architecture and runtime, checked (imports, machine, size budget).
package: $(STAMP)
	$(BIN)/python -m infra.package $(PACKAGE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

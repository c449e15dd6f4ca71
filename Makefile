# Set-up and checks. `make demo` and `make test` do everything on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
DEMO_DIR := build/demo
export SCAFFOLD_TEST_CACHE ?= $(HOME)/.cache/scaffold-tests
export CHECKOV := $(CURDIR)/$(CHECKOV_VENV)/bin/checkov
PYTEST_JOBS ?= 2

.PHONY: demo test test-fast test-e2e standin-images bench-images lint typecheck install validators system-packages bench bench-all examples vendor-assets locks constraints clean

## install: .venv with scaffold (editable), the validators and the dev tools
install: $(BIN)/.installed
$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[validate,dev,delivery,cruft]"
	touch $@

## validators: checkov in its own environment (it pins packaging<24, which clashes with pytest)
validators: $(CHECKOV)
$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check "checkov==$(CHECKOV_VERSION)"

## system-packages: servers and tools the tests run for real (PostgreSQL, RabbitMQ, Redis, nginx, promtool, Alertmanager, jq,
## shellcheck, Chromium, graphviz, tmux, wrk; the image tests' engines and registry: Podman with runc (crun does not
## run here), Docker Engine and a BuildKit docker CLI (docker.io), docker-registry, debootstrap for the stand-in images)
system-packages:
	@missing=""; \
	for tool in /usr/lib/postgresql/15/bin/initdb:postgresql /usr/sbin/nginx:nginx-light /usr/bin/promtool:prometheus /usr/bin/prometheus-alertmanager:prometheus-alertmanager /usr/bin/shellcheck:shellcheck /usr/bin/jq:jq /usr/sbin/rabbitmq-server:rabbitmq-server /usr/bin/chromium:chromium /usr/bin/dot:graphviz /usr/bin/tmux:tmux /usr/bin/wrk:wrk /usr/bin/podman:podman /usr/sbin/runc:runc /usr/sbin/dockerd:docker.io /usr/bin/docker-registry:docker-registry /usr/sbin/debootstrap:debootstrap /usr/bin/redis-server:redis-server; do \
	  [ -x "$${tool%%:*}" ] || missing="$$missing $${tool##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

demo: install
	rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	cd $(DEMO_DIR) && ../../$(BIN)/scaffold init shop --defaults
	$(BIN)/scaffold new backend orders --defaults -C $(DEMO_DIR)/shop
	$(BIN)/scaffold new backend inventory --defaults -C $(DEMO_DIR)/shop
	$(BIN)/scaffold new worker fulfilment --defaults -C $(DEMO_DIR)/shop
	$(BIN)/scaffold new frontend storefront --defaults --data api_service=orders -C $(DEMO_DIR)/shop
	$(BIN)/scaffold list -C $(DEMO_DIR)/shop
	$(BIN)/python -m tests.check_ecosystem $(DEMO_DIR)/shop

lint: install
	$(BIN)/ruff check scaffold tests bench
	$(BIN)/ruff format --check scaffold tests bench

typecheck: install
	$(BIN)/mypy

## test-fast: everything but the end-to-end tier (no servers, no generated-service suites)
test-fast: install validators system-packages
	$(BIN)/pytest -m "not e2e" -n $(PYTEST_JOBS) --dist loadgroup

## test-e2e: the slow tier alone
test-e2e: install validators system-packages
	$(BIN)/pytest -m e2e

test: install validators system-packages lint typecheck
	$(BIN)/pytest -n $(PYTEST_JOBS) --dist loadgroup --durations=15

## bench: start-up and `scaffold new` against `copier copy` (about 1 minute); docs/benchmarks.md
bench: install
	@command -v hyperfine >/dev/null || (apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null)
	bash bench/run.sh

## bench-all: also throughput of backend and worker, fleet update, check (about 20 minutes)
bench-all: bench system-packages validators
	$(BIN)/python -m bench.backend_throughput
	$(BIN)/python -m bench.telemetry_layer
	$(BIN)/python -m bench.worker_throughput
	bash bench/update.sh
	bash bench/check.sh
	bash bench/delivery.sh

## bench-images: `scaffold build` per kind, cold against a warm rebuild after a one-line change (hyperfine), and
## image sizes over their base (about 30 minutes; Podman, the stand-in images)
bench-images: install system-packages
	@command -v hyperfine >/dev/null || (apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null)
	$(BIN)/python -m bench.images

## docs: regenerate the lists in docs/ that come from the code (kinds, --data keys)
docs: install
	$(BIN)/python -m tests.make_docs

## standin-images: the base and infrastructure image stand-ins the image tests push into a local registry
## (debootstrap + Podman, a few minutes; cached in $$SCAFFOLD_TEST_CACHE/standins, keyed by tests/standins)
standin-images: install system-packages
	$(BIN)/python -m tests.standins

## examples: regenerate examples/ from the templates (tests/test_examples.py compares them)
examples: install
	$(BIN)/python -m tests.make_examples examples

## vendor-assets: re-vendor Swagger UI (every backend's /docs and the gateway's /api/docs) from npm at
## the version and integrity of templates/backend/src/{{ package }}/swagger_ui/PIN.json
## (ARGS="VERSION INTEGRITY" moves the pin); then `make examples`
vendor-assets: install
	$(BIN)/python -m tests.vendor_assets $(ARGS)

## locks: regenerate the Python templates' hashed requirements locks with uv (asks the package index;
## add ARGS=--upgrade to move every pin); then `make examples`
locks: install
	$(BIN)/python -m tests.lock_templates $(ARGS)

constraints: install
	{ sed -n '1,2p' constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.new && mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) build .pytest_cache .mypy_cache .ruff_cache

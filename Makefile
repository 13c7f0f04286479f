# Two entry points on a fresh Debian 12 / Raspberry Pi OS Bookworm machine:
#   make demo   run the system on the embedded default (simulated reader)
#   make test   lint and run the whole test suite
# Both create .venv and install what is missing (Debian packages only when root).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-ha unit-costs lint bench lock clean system-packages deb lint-deb test-package test-update test-arm64

$(STAMP): pyproject.toml requirements.lock deploy/ensure-debian-packages.sh
	@sh deploy/ensure-debian-packages.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[central,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/anju demo

# The suite in parallel, two pytest-xdist workers per CPU (TEST_WORKERS=0: in this process):
# many tests wait on a browser, a server process or a pty, so one per CPU left the CPUs ~40 %
# idle (2 cores: 496 s with 2 workers, 399 s with 4). tests/scheduling.py says how work is shared.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# The order in which workers get the suite's units, longest first (tests/scheduling.py): record
# it again on a quiet machine after tests move a lot.
unit-costs: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -q --record-unit-costs tests/unit_costs.json

# The central server beyond one machine (tests/ha/, also part of `make test`): a PostgreSQL
# pair with a synchronous standby, nginx in front of two servers, hung-database bounds and the
# failover drills (docs/operations.md).
test-ha: $(STAMP)
	$(BIN)/python -m pytest tests/ha

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The Debian packages (docs/install.md): anju-terminal and anju-central, amd64 and arm64, in
# dist/. Needs the packaging tools (installed here when root) and the package index.
deb: $(STAMP)
	@ANJU_PACKAGE_TOOLS=1 sh deploy/ensure-debian-packages.sh
	$(BIN)/python deploy/build_deb.py --arch amd64 --arch arm64 \
	    --package anju-terminal --package anju-central
	lintian --fail-on error,warning dist/*.deb

# Install the package into a fresh Debian 12 root filesystem and use it (deploy/test/).
# Not in `make test`: they need root, debootstrap (cached in var/cache/rootfs) and minutes.
test-package: $(STAMP)
	@ANJU_PACKAGE_TOOLS=1 sh deploy/ensure-debian-packages.sh
	$(BIN)/python deploy/test/install_test.py --arch amd64
	$(BIN)/python deploy/test/update_test.py --deb dist/anju-terminal_$$($(BIN)/python -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')_amd64.deb

# Updates end to end (docs/updates.md): signed repository, rollout, health gate, rollback, in the
# booted root filesystem. Part of test-package; alone: make test-update.
test-update: $(STAMP)
	@ANJU_PACKAGE_TOOLS=1 sh deploy/ensure-debian-packages.sh
	$(BIN)/python deploy/test/update_test.py

test-arm64: $(STAMP)
	@ANJU_PACKAGE_TOOLS=1 sh deploy/ensure-debian-packages.sh
	$(BIN)/python deploy/test/install_test.py --arch arm64

# Re-resolve the newest versions and pin them (needs the package registry).
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -e '.[central,dev]'
	( echo '# Pinned versions of every dependency (terminal, central and dev), used as pip constraints.'; \
	  echo '# Regenerate: make lock'; .venv-lock/bin/pip freeze --exclude-editable ) > requirements.lock
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist

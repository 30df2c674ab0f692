# The one entry point. `make demo` and `make test` work on a fresh machine: both run setup first.
PY := .venv/bin/python
.DEFAULT_GOAL := help

.PHONY: help setup demo test test-unit test-oldest lint generate ipk apk bench fuzz screenshots clean

help:
	@echo "make demo    set up, then bring up a live demo tunnel (strongSwan phone -> ikev2d -> LAN host)"
	@echo "make test    set up, then run every test tier (unit, interop, packaging, LuCI views, router, system in an ESP kernel, whole router + real LuCI under qemu) and print line coverage per room"
	@echo "make lint    ruff over the Python code, mypy (strict) over the core, shellcheck over shipped shell scripts"
	@echo "make generate  rewrite the files made from the code (LuCI schema.js and .pot, docs/configuration.md)"
	@echo "make ipk     build the OpenWrt 24.10 packages (.ipk, opkg)"
	@echo "make apk     build the OpenWrt 25.12 packages (.apk, apk-tools)"
	@echo "make bench   benchmarks against strongSwan (prints figures, never fails on time)"
	@echo "make fuzz    1,000,000 mutated inputs against the responder (FUZZ_ARGS=--inputs N ...)"
	@echo "make screenshots  the LuCI pages in real LuCI as PNGs, normal and hostile clients (SHOTS=$(SHOTS))"

setup:
	@scripts/setup.sh

# Real LuCI on the whole-router VM, with real strongSwan clients (some with hostile identities):
# PNG + text of the settings tabs and the status page, to look at the views. See docs/luci.md.
SHOTS ?= build/screenshots
screenshots: setup
	@mkdir -p $(SHOTS)
	ESPVM_RW="$(abspath $(SHOTS))" tests/wholerouter/run $(PY) tests/wholerouter/screenshots.py --out "$(abspath $(SHOTS))"

demo: setup
	@scripts/demo.sh

# the oldest-set venv too: tests/packaging compiles and runs the .ipk's Python 3.11 bytecode
test: setup
	@scripts/setup.sh --oldest
	@scripts/test.sh

test-unit: setup
	$(PY) -m pytest -q tests/unit

# The unit, attack and fuzz tests once more on the oldest supported set (Python 3.11,
# cryptography 41.0.7, pyroute2 0.7.9): what OpenWrt 24.10 ships.
test-oldest:
	@scripts/setup.sh --oldest
	.venv-oldest/bin/python -m pytest -q -p no:cacheprovider tests/unit tests/attack tests/fuzz

LINT_DIRS := $(wildcard src testbed tests bench scripts files)

lint: setup
	$(PY) -m ruff check $(LINT_DIRS)
	$(PY) -m ruff format --check $(LINT_DIRS)
	$(PY) -m mypy
	@scripts/shellcheck.sh

generate: setup
	$(PY) scripts/generate.py

# the daemon as Python 3.11 bytecode (24.10's), compiled by the oldest-set venv; --source: .py
ipk: setup
	@scripts/setup.sh --oldest
	$(PY) scripts/build_ipk.py

# OpenWrt 25.12's packages, made by the pinned apk-tools (built once by scripts/openwrt-userland.sh)
apk: setup
	$(PY) scripts/build_apk.py

# the footprint rows run ikev2d on the oldest set too (Python 3.11, cryptography 41.0.7)
bench: setup
	@scripts/setup.sh --oldest
	@scripts/bench.sh

# The fuzzing campaign (tests/fuzz): escapes are kept in tests/fuzz/crashers/, figures in
# build/fuzz/report.json. A short fixed-seed run is part of `make test`.
fuzz: setup
	PYTHONPATH=tests $(PY) -m fuzz.campaign --json build/fuzz/report.json $(FUZZ_ARGS)

clean:
	rm -rf .venv .venv-oldest build dist .pytest_cache .ruff_cache .hypothesis

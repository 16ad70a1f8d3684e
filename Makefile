# BinaryViT hardware co-design toolkit. `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export AMARANTH_USE_YOSYS := builtin
JOBS ?= 2

.PHONY: help setup iverilog sim sim-variants test test-all bench train export verilog report synth clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q torch==2.13.0   # the CPU wheel; never a CUDA build
	$(VENV)/bin/pip install -q -e .
	touch $@

setup: $(STAMP) iverilog  ## create .venv with the pinned dependencies and make sure Icarus is there

iverilog:  ## install Icarus Verilog with apt-get when missing and root, else print the command
	@if command -v iverilog >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq iverilog; \
	else echo "Icarus Verilog is missing. Install it with:"; \
	     echo "    sudo apt-get update && sudo apt-get install -y iverilog"; exit 1; fi

test: setup  ## run the test suite (CI's representative subset; slow tests skipped)
	$(PY) -m pytest -q -n $(JOBS) --dist worksteal

test-all: setup  ## run every test, slow synthesis and Verilator runs included
	$(PY) -m pytest -q -n $(JOBS) --dist worksteal -m ''

bench: setup  ## speed figures (DSE configs/s, Icarus vs Verilator wall time) of this machine
	$(PY) -m hw bench

train: setup  ## train the tiny BinaryViT on scikit-learn's digits
	$(PY) -m model train --out runs/digits

export: setup  ## golden binary tensors of the committed tiny checkpoint -> golden/
	$(PY) -m model export --checkpoint model/checkpoints/digits --images 2 --out golden

verilog: setup  ## Verilog of the default array: build/verilog/bvit_top.v + files.f (hw/README.md)
	$(PY) -m hw verilog --out build/verilog

sim: setup export verilog  ## golden tensors + Icarus simulation of every op and the edge-shape suite (cycles = model without stalls, bit-exact under random stalls), then the whole integer network on the RTL for 2 images
	$(PY) -m sim all --golden golden --workers $(JOBS)
	$(PY) -m sim network --checkpoint model/checkpoints/digits --images 2
	$(MAKE) --no-print-directory sim-variants

#: the trained variants of model/variants.py whose ops `make sim-variants` runs on the RTL (the
#: full-precision teacher, fp-teacher, has no binary op)
SIM_VARIANTS := binaryvit-s binaryvit-s-somefp reactdeit-s reactdeit-s-avgpool \
	reactdeit-s-avgpool-mb reactdeit-s-avgpool-mb-ls bivit-deit-t

sim-variants: setup  ## every trained variant's binary ops (1 image each, build/golden_variants/<variant>) on the RTL: bit-exact, cycles = model
	@set -e; for v in $(SIM_VARIANTS); do \
	  echo "== $$v"; \
	  $(PY) -m model export --checkpoint model/checkpoints/$$v --images 1 --out build/golden_variants/$$v; \
	  $(PY) -m sim all --golden build/golden_variants/$$v --no-random --workers $(JOBS); \
	done

#: the throughput options' sweep: job limits, drain and a pool core of its own (README,
#: Throughput; operand banks of 512 words); its report is 8x8x64 with n = 8, L = 16 and the M / N
#: limits at 1024 (the 8x8x64 option set with the most frames/s at the resource model's Fmax
#: that fits, its pool core's cycles just below its matmul core's), synthesised in
#: hw/synth/data/pool_port_ecp5.jsonl; the same options at the sweep's limits (M / N 256) are
#: the throughput config placed and routed (pool_port_ecp5.jsonl), reported with the clock it
#: closes in reports/binaryvit-s-routed, with two weight buffers in
#: reports/binaryvit-s-routed-wb2, and with control registers of their own as well in
#: reports/binaryvit-s-routed-wb2-ctl, with ten hold banks and control registers of their own
#: in reports/binaryvit-s-routed-hb10-ctl, and with every PE's own flags register as well in
#: reports/binaryvit-s-routed-hb10-ctl-f, and with the loader's own job values as well in
#: reports/binaryvit-s-routed-hb10-ctl-fj, and with the bank writes' own run flag as well in
#: reports/binaryvit-s-routed-hb10-ctl-fj2, and with copies of two fanned-out flags as well
#: (--ctl-regs 2; the clock the design closes past 100 frames/s) in
#: reports/binaryvit-s-routed-hb10-ctl2-fj2; the same sweep with two weight buffers in
#: reports/binaryvit-s-options-wb2
THROUGHPUT_LIMITS = --max-m 256 --max-n 256 --max-k 1024 --drain-rows 8 --pool-port 1

report: setup  ## RTL-vs-model cycle check, design-space sweep and cost reports -> reports/, the model family's co-design table -> reports/variants/
	$(PY) -m model export --checkpoint model/checkpoints/digits --images 1 --out build/golden_tiny
	$(PY) -m sim all --workers $(JOBS) --no-stalls --json reports/sim/results.json
	$(PY) -m sim all --golden build/golden_tiny --no-random --no-stalls --workers $(JOBS) --json reports/sim/digits_tiny_network.json
	$(PY) -m hw dse --network binaryvit-s --device ecp5-85 --quiet
	$(PY) -m hw report --network digits-tiny --rows 4 --cols 4 --simd 32 --device ecp5-85
	$(PY) -m hw report --network binaryvit-s --rows 8 --cols 8 --simd 64 --device ecp5-85
	$(PY) -m hw dse --network binaryvit-s --device ecp5-85 $(THROUGHPUT_LIMITS) --load-rows 0 --sweep-hold-banks 2 4 8 10 12 16 --pool-lanes-per-col 1 2 4 --use-fmax --out reports/binaryvit-s-options --quiet
	$(PY) -m hw dse --network binaryvit-s --device ecp5-85 $(THROUGHPUT_LIMITS) --load-rows 0 --sweep-hold-banks 2 4 8 10 12 16 --pool-lanes-per-col 1 2 4 --w-buffers 2 --use-fmax --out reports/binaryvit-s-options-wb2 --quiet
	$(PY) -m hw report --network binaryvit-s --rows 8 --cols 8 --simd 64 --max-m 1024 --max-n 1024 --max-k 1024 --drain-rows 8 --load-rows 8 --hold-banks 8 --pool-lanes 16 --pool-port 1 --device ecp5-85 --out reports/binaryvit-s-options
	$(PY) -m hw report --network binaryvit-s --rows 8 --cols 8 --simd 64 $(THROUGHPUT_LIMITS) --load-rows 8 --hold-banks 8 --pool-lanes 16 --device ecp5-85 --out reports/binaryvit-s-routed
	$(PY) -m hw report --network binaryvit-s --rows 8 --cols 8 --simd 64 $(THROUGHPUT_LIMITS) --load-rows 8 --hold-banks 8 --pool-lanes 16 --w-buffers 2 --device ecp5-85 --out reports/binaryvit-s-routed-wb2
	$(PY) -m hw report --network binaryvit-s --rows 8 --cols 8 --simd 64 $(THROUGHPUT_LIMITS) --load-rows 8 --hold-banks 8 --pool-lanes 16 --w-buffers 2 --ctl-regs 1 --device ecp5-85 --out reports/binaryvit-s-routed-wb2-ctl
	$(PY) -m hw report --network binaryvit-s --rows 8 --cols 8 --simd 64 $(THROUGHPUT_LIMITS) --load-rows 8 --hold-banks 10 --pool-lanes 16 --ctl-regs 1 --device ecp5-85 --out reports/binaryvit-s-routed-hb10-ctl
	$(PY) -m hw report --network binaryvit-s --rows 8 --cols 8 --simd 64 $(THROUGHPUT_LIMITS) --load-rows 8 --hold-banks 10 --pool-lanes 16 --ctl-regs 1 --pe-flag-regs 1 --device ecp5-85 --out reports/binaryvit-s-routed-hb10-ctl-f
	$(PY) -m hw report --network binaryvit-s --rows 8 --cols 8 --simd 64 $(THROUGHPUT_LIMITS) --load-rows 8 --hold-banks 10 --pool-lanes 16 --ctl-regs 1 --pe-flag-regs 1 --loader-regs 1 --device ecp5-85 --out reports/binaryvit-s-routed-hb10-ctl-fj
	$(PY) -m hw report --network binaryvit-s --rows 8 --cols 8 --simd 64 $(THROUGHPUT_LIMITS) --load-rows 8 --hold-banks 10 --pool-lanes 16 --ctl-regs 1 --pe-flag-regs 1 --loader-regs 2 --device ecp5-85 --out reports/binaryvit-s-routed-hb10-ctl-fj2
	$(PY) -m hw report --network binaryvit-s --rows 8 --cols 8 --simd 64 $(THROUGHPUT_LIMITS) --load-rows 8 --hold-banks 10 --pool-lanes 16 --ctl-regs 2 --pe-flag-regs 1 --loader-regs 2 --device ecp5-85 --out reports/binaryvit-s-routed-hb10-ctl2-fj2
	$(PY) -m hw compare --device ecp5-85 --rows 8 --cols 8 --simd 64
	$(PY) -m hw baseline --json reports/baseline/baseline.json

synth: setup  ## yosys + nextpnr sweeps (resumable) -> hw/synth/data/*.jsonl, then refit the resource model (SCHEDULER=tcp://HOST:PORT or local: on Dask; REUSE="old .jsonl files": carry over records of byte-identical Verilog)
	$(PY) -m hw synth --sweep all --jobs $(JOBS) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(foreach f,$(REUSE),--reuse $(f))
	$(PY) -m hw fit

clean:
	rm -rf golden runs build sim_build reports/*/tmp

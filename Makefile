# Every target creates .venv and installs the package into it when missing,
# so on a fresh machine `make demo` and `make test` are all that is needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
OUT ?= mmm_demo

.PHONY: demo test test-x64 test-slow bench lint format clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mmm-jax demo --out $(OUT)

# One test process per core of CI's two (pytest-xdist), a test file per worker
# at a time so each file's module fixtures are made once: compiling is
# single-threaded, so two workers nearly halve the wall time. Files go out in
# collection order, which tests/conftest.py sorts longest first (LONGEST_FILES).
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: $(STAMP)
	$(PY) -m pytest $(XDIST)

# The kernels, model, data and optimiser again in double precision (the library
# never sets x64 itself; STYLE.md asks CI to check both).
test-x64: $(STAMP)
	JAX_ENABLE_X64=1 $(PY) -m pytest $(XDIST) tests/transforms tests/models tests/data tests/synthetic tests/optimize -q

test-slow: $(STAMP)
	$(PY) -m pytest --run-slow -m slow

bench: $(STAMP)
	$(PY) benchmarks/kernels.py
	$(PY) benchmarks/fit_speed.py
	$(PY) benchmarks/recovery_seeds.py
	$(PY) benchmarks/optimize_speed.py
	$(PY) benchmarks/optimize_end_to_end.py
	$(PY) benchmarks/rhat_floor.py --fit-json benchmarks/results/scale_cpu.json
	$(PY) benchmarks/render_readme.py

lint: $(STAMP)
	$(VENV)/bin/ruff check mmm_jax tests benchmarks experiments
	$(VENV)/bin/ruff format --check mmm_jax tests benchmarks experiments

format: $(STAMP)
	$(VENV)/bin/ruff format mmm_jax tests benchmarks experiments
	$(VENV)/bin/ruff check --fix mmm_jax tests benchmarks experiments

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

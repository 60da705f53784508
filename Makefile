# Two commands on a fresh machine: `make demo` and `make test`.
# torch is pinned to the CPU wheel that lies on disk; never let pip resolve an unpinned torch.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  := torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: demo test bench install browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 needed, found " + sys.version'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e '.[test]' $(TORCH)
	OMP_NUM_THREADS=1 $(PY) -m deepnets._warm  # the Numba kernels compiled now, not at their first use
	touch $(STAMP)

# Chromium from Debian's packages for the browser tests of the HTML reports; where it cannot be
# installed (not root, no apt) those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
	    apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
	  echo "no Chromium (apt-get install chromium): the browser tests will skip"

install: $(STAMP)

demo: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/deepnets train examples/digits.toml

# one pytest worker a core, at most 4 (pytest-xdist); JOBS=0 runs in this process
JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)

test: $(STAMP) browser
	OMP_NUM_THREADS=1 $(PY) -m pytest -n $(JOBS)

bench: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_mlp.py

clean:
	rm -rf $(VENV) runs

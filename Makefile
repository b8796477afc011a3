# The course's two commands on a fresh machine (Python >= 3.11 and a C compiler):
#   make lab    -- set up .venv and open JupyterLab at the repository root
#   make test   -- set up .venv and run every test
# Other targets: make install, make generate (student versions and solutions), make site (the self-study
# site, every notebook executed), make bench, make clean.

PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
# nbgrader runs `alembic` from PATH: put the venv first for every command
export PATH := $(BIN):$(PATH)

LAB_ARGS ?=
LAB_ROOT ?= $(CURDIR)
# JupyterLab refuses to run as root unless told to (containers and CI run as root)
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
PYTEST_ARGS ?=
SITE_ARGS ?=

.PHONY: install lab test generate check-generated bench site clean

$(STAMP): pyproject.toml setup.py $(wildcard quantref/*/*.pyx quantref/*/*.h)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed, found " + sys.version.split()[0]'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[course,test,site]"
	@$(BIN)/python -c 'import quantref.kernels as k; print("quantref kernels:", "compiled (Cython)" if k.compiled_available() else "NumPy fallback (no C compiler?)")'
	@touch $(STAMP)

install: $(STAMP)

lab: $(STAMP)
	@# nbgrader finds its nbgrader_config.py in the working directory: start from the root served
	cd $(LAB_ROOT) && $(BIN)/jupyter lab --ServerApp.root_dir=$(LAB_ROOT) $(ALLOW_ROOT) $(LAB_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

generate: $(STAMP)
	$(BIN)/python -m autograder build

check-generated: $(STAMP)
	$(BIN)/python -m autograder build --check

site: $(STAMP)
	$(BIN)/python book/build.py $(SITE_ARGS)

bench: $(STAMP)
	$(BIN)/python -m quantref.bench gemm
	$(BIN)/python -m quantref.bench pq
	$(BIN)/python -m quantref.bench w4a16

clean:
	rm -rf $(VENV) build book/_build *.egg-info quantref/*/*.so quantref/*/_*.c

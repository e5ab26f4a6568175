# The verbs of the course. Every target builds .venv from the pinned requirements first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# nbgrader shells out to alembic, so the venv's bin/ must be on PATH for every recipe.
export PATH := $(BIN):$(PATH)
# Matplotlib draws to files; TensorFlow keeps quiet while it loads.
export MPLBACKEND ?= Agg
export TF_CPP_MIN_LOG_LEVEL ?= 3

ASSIGNMENT ?=
JOBS ?=
ZIP ?=
FORCE ?=
PYTEST_ARGS ?=
# every verb takes ASSIGNMENT=id (default: each assignment in turn, or the only one)
COURSETOOLS := $(BIN)/python -m coursetools
FOR_ASSIGNMENT = $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT))

RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: help demo test release autograde collect feedback report lab bench lint system-deps

help: ## list the verbs
	@echo "Neural Network from Scratch: make <verb>"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

$(RUNTIME_STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

venv: $(RUNTIME_STAMP)

system-deps: ## install the sandbox and browser the tests need (bubblewrap, chromium)
	@bash tools/system-deps.sh

demo: $(RUNTIME_STAMP) ## rebuild the student version and grade the bundled example class
	$(COURSETOOLS) demo $(FOR_ASSIGNMENT) $(if $(JOBS),--jobs $(JOBS))

test: $(DEV_STAMP) system-deps ## run ruff and the whole test suite (browser tests included)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP) ## ruff only
	$(BIN)/ruff check .

release: $(RUNTIME_STAMP) ## regenerate release/ and solutions/ from source/
	$(COURSETOOLS) release $(FOR_ASSIGNMENT)

autograde: $(RUNTIME_STAMP) ## grade submitted/ in sandboxes, in parallel [ASSIGNMENT=id] [JOBS=n]
	$(COURSETOOLS) autograde $(FOR_ASSIGNMENT) $(if $(JOBS),--jobs $(JOBS))

collect: $(RUNTIME_STAMP) ## bring an LMS download into submitted/ (ZIP=file) [FORCE=1 replaces]
	$(COURSETOOLS) collect $(ZIP) $(FOR_ASSIGNMENT) $(if $(FORCE),--force)

feedback: $(RUNTIME_STAMP) ## generate feedback HTML for graded submissions [ASSIGNMENT=id]
	$(COURSETOOLS) feedback $(FOR_ASSIGNMENT)

report: $(RUNTIME_STAMP) ## rebuild the class report from results.json [ASSIGNMENT=id]
	$(COURSETOOLS) report $(FOR_ASSIGNMENT)

# Jupyter refuses to run as root without --allow-root (containers often are root).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

# The student's own copy in work/ first (never overwritten: release/ is regenerated), then
# Binder's student configuration (binder/jupyter_config), and inline plots rather than Agg.
lab: $(RUNTIME_STAMP) ## start JupyterLab on your own copy of the course in work/ (students)
	$(BIN)/python -m nnscratch.workspace
	JUPYTER_CONFIG_PATH=$(CURDIR)/binder/jupyter_config MPLBACKEND= \
		$(BIN)/jupyter lab $(ALLOW_ROOT) --notebook-dir=. notebooks/index.ipynb

bench: $(RUNTIME_STAMP) ## print autograde speed against stock nbgrader
	$(COURSETOOLS) bench $(FOR_ASSIGNMENT)

# Grading by hand: the instructor's configuration (binder/instructor_config), localhost only,
# a new token each start; the URL to open is printed. Then `make export`.
PORT ?=
.PHONY: formgrade export
formgrade: $(RUNTIME_STAMP) ## JupyterLab with nbgrader's formgrader, to grade written answers [PORT=n]
	$(COURSETOOLS) formgrade $(if $(PORT),--port $(PORT)) $(ALLOW_ROOT)

export: $(RUNTIME_STAMP) ## after grading by hand: grades.csv and the feedback [ASSIGNMENT=id]
	$(COURSETOOLS) export $(FOR_ASSIGNMENT)

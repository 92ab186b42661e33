# The two commands of the README:
#   make book   - create .venv, install, run every notebook (papermill), build the HTML book
#   make test   - create .venv, install, run the test suite
# PROFILE=paper (default) | quick chooses the notebook parameters (notebooks/profiles.toml).
# RESULTS=URL_OR_FILE (optional): make book first fetches that results archive (wtm results
#   fetch: verified, then added to the results folder), so the book trains only what it lacks.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= paper
# torch/torchvision versions that install offline on our machines; pyproject.toml accepts any recent one
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
# MNIST: use the shared offline copy when it exists (WTM_DATA overrides)
ifneq ($(wildcard ../shared/data/MNIST/raw),)
export WTM_DATA ?= $(abspath ../shared/data)
endif

.PHONY: book test install clean-book lab

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_PINS)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest -q

book: install
	$(if $(RESULTS),$(VENV)/bin/wtm results fetch '$(RESULTS)' && )$(VENV)/bin/wtm book --profile $(PROFILE)

clean-book:
	rm -rf _build book/chapters/*.ipynb

# JupyterLab with jupytext (optional extra), same results cache. A double click opens a
# chapter's .py as a notebook: the project's default viewer for Python files, in
# .jupyter/lab/settings/overrides.json (JupyterLab's defaults, read from its app settings
# folder; your own settings still win, and nothing outside the checkout is written)
LAB_SETTINGS := $(abspath .jupyter/lab/settings)
lab: install
	$(PY) -m pip install --quiet -e '.[lab]'
	cd notebooks && $(abspath $(VENV))/bin/jupyter lab --LabApp.app_settings_dir="$(LAB_SETTINGS)" $(if $(filter 0,$(shell id -u)),--allow-root)

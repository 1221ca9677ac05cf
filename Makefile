# facexplain: two commands for a fresh machine.
#   make book   set up .venv, execute every chapter with papermill, build the HTML (prints where it is);
#               incremental: unchanged chapters are reused; the chapters' grids run on one local Dask cluster
#               (a worker per core) and JOBS chapters at a time; `make book SCHEDULER=tcp://host:8786` uses an
#               existing cluster, `make book SCHEDULER=serial JOBS=1` runs everything in the kernels, one by one
#   make test   set up .venv, run the unit tests, every chapter on small parameters, nbval and the browser check
# Set-up is skipped once done (stamp file); it re-runs when pyproject.toml changes.

PYTHON3 ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.facexplain-installed
# opencv wheel that works with numpy<2; reinstalled only if cv2/MediaPipe fail after the install
OPENCV  := opencv-contrib-python==4.11.0.86

.PHONY: book test setup widgets-js chromium clean

SCHEDULER ?= local
JOBS      ?= 2

book: setup widgets-js
	$(PY) -m facexplain.book run $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(JOBS),--jobs $(JOBS))
	$(PY) -m facexplain.book build
	@echo "open $(CURDIR)/book/_build/html/index.html"

# --basetemp: a private temp folder, so pytest runs of other checkouts on this machine cannot prune ours
test: setup widgets-js chromium
	mkdir -p .build
	$(PY) -m pytest --basetemp=.build/pytest

setup: $(STAMP)

# torch and torchvision first: pip takes these builds from the machine's disk, and zennit needs torchvision
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -e .
	$(PY) -m facexplain.book check-env || { \
	  echo "cv2/MediaPipe check failed: reinstalling $(OPENCV) without dependencies"; \
	  $(PY) -m pip install --force-reinstall --no-deps $(OPENCV) && $(PY) -m facexplain.book check-env; }
	touch $@

# offline widget manager JS from the npm registry (skipped when the pinned version is already there)
widgets-js: setup
	$(PY) -m facexplain.book widgets-js

# the browser test needs Debian's Chromium and ChromeDriver; install them when missing and we may (root)
chromium:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; \
	else echo "Chromium missing: run 'sudo apt-get install -y chromium chromium-driver' for the browser test"; fi

clean:
	rm -rf book/_build book/chapters book/_static/widgets .build

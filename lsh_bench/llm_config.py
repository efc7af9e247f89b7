"""The ``llm=`` config group's model: which LLM writes rows, how it is sampled and cached.

A module of its own, with no imports from the package: :mod:`lsh_bench.config`
composes it into the run config, and the LLM code (``samplers/llm``) reads it,
without either importing the other's package.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# An environment variable's name as POSIX tools write them: upper-case letters,
# digits and "_", not starting with a digit. Lower case is refused on purpose:
# API keys mix cases, variable names (OPENAI_API_KEY) do not.
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")

API_KEY_ENV_RULE = (
    "must be the NAME of the environment variable that holds the API key "
    "(upper-case letters, digits and _, at most 64 characters, e.g. OPENAI_API_KEY), not the key itself; "
    "the value given does not look like a variable name and is not shown, as it may be a secret. "
    "Put the key in an environment variable (export MY_KEY=...) and pass llm.api_key_env=MY_KEY"
)


def looks_like_env_name(value: str) -> bool:
    """True for a plausible variable name; False for anything that may be a pasted key.

    Besides the character rule, a long name without any "_" that holds digits
    (AKIAIOSFODNN7EXAMPLE, hex or base32 tokens) is taken for a key.
    """
    if not _ENV_NAME.fullmatch(value):
        return False
    return not (len(value) >= 16 and "_" not in value and any(c.isdigit() for c in value))


# Execution details only (where answers are cached, how to retry, local paths, threads): replayed
# answers are the same whatever they are, so they stay out of a unit's config hash.
LLM_EXECUTION_FIELDS = {
    "cache_mode", "cache_dir", "timeout_s", "max_retries", "retry_backoff_s", "n_threads", "model_path", "api_key_env",
    "request_deadline_s", "max_answer_bytes", "max_concurrency",
}


class LLMConfig(BaseModel):
    """Which LLM writes rows, how it is sampled, and how its answers are cached.

    API keys are never part of the config: ``api_key_env`` names the
    environment variable that holds the key, and a value that looks like a
    key is refused without being echoed. ``strict``: a boolean is not a
    number here (``llm.max_retries=true`` is an error, not 1).
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), strict=True)

    backend: Literal["local", "openai"] = "local"
    model: str = "SmolLM2-135M-Instruct-Q4_1"
    model_path: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    temperature: float = Field(0.8, ge=0.0, le=2.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    max_tokens: int = Field(768, gt=0)
    # Endpoints: the longest wait for the connection or for the next bytes of an answer.
    timeout_s: float = Field(120, gt=0)
    # Every backend: the longest one request may take as a whole (connect + the complete
    # answer; local: generation), so an endpoint that trickles bytes cannot hang a unit.
    # An endpoint request over it counts as a timeout (retried, max_retries).
    request_deadline_s: float = Field(600, gt=0)
    # The largest answer accepted (bytes of the HTTP body / of the text); a larger one is
    # refused before it is parsed or cached (an endpoint once sent 54 MB).
    max_answer_bytes: int = Field(1_000_000, gt=0)
    max_retries: int = Field(3, ge=0)          # retries after the first attempt (endpoints only)
    retry_backoff_s: float = Field(1.0, ge=0)   # first retry wait; doubles per retry, capped at 60 s
    # The most LLM requests of one unit in flight at once: the unit's generations (folds x ratios)
    # are independent, so an endpoint's waits overlap. Changes no request, answer or row (not in
    # the unit's config hash); 1 for the local model (one model object, nothing to overlap).
    max_concurrency: int = Field(1, ge=1, le=64)
    n_ctx: int = Field(8192, gt=0)
    n_threads: int = Field(1, gt=0)             # local backend: llama.cpp threads; 2 only on an idle machine
    price_per_1k_prompt: float | None = None
    price_per_1k_completion: float | None = None
    cache_mode: Literal["readwrite", "readonly", "off"] = "readwrite"
    cache_dir: str = "results/llm_cache"
    example_rows: int = Field(30, gt=0)
    min_outputs_per_round: int = Field(10, gt=0)
    max_rounds: int = Field(50, gt=0)
    # Times each accepted program is executed (fresh start row and jitter each time). The paper
    # executes a program once (1); the embedded 135M model writes ~5 usable outputs per program,
    # so conf/llm/local.yaml raises it to keep LM sweeps to minutes, not hours.
    executions_per_program: int = Field(1, ge=1, le=100)
    # None: every accepted program runs exactly executions_per_program times (the paper: 1). A
    # number: a program runs as often as the rows still missing need (at least
    # executions_per_program, at most this), so a large N needs one program round, not N/100:
    # each round's prompt and answer cost the embedded model seconds (flare, N=394: 4 rounds).
    max_executions_per_program: int | None = Field(None, ge=1, le=1000)
    # Where a program's ``init`` takes its real row: "shown" = the round's example rows (before),
    # "minority" = any of the training part's minority rows. With few example rows and one round
    # (the local defaults), "shown" left 5 start rows: half of haberman's LM rows were duplicates.
    start_rows: Literal["shown", "minority"] = "shown"
    # Guarded generator, a training part with no minority row (zero-shot): where a variable's range
    # comes from. "declared" = the LLM's min/max as given (before); "training" = the declared range
    # intersected with the whole training part's (both classes, widened like the observed range; the
    # rows are never shown to the LLM). Under "declared" the embedded 135M model's zero-shot LM rows
    # lay far from every real row (the paper's kNN distance up to ~1e8 on blood-transfusion).
    zero_shot_range: Literal["declared", "training"] = "declared"
    report_words: int = Field(500, gt=0)
    # Rows of the fold's minority the report prompt shows (a seeded sample when fewer than there
    # are); None = as many as fit the context. The report's prompt is most of a generation's
    # prompt tokens on datasets with many minority rows (vertebra-column: 2,762 tokens, all 56 rows).
    report_rows: int | None = Field(None, gt=0)
    # Local backend: the llama.cpp tensor type the GGUF file is converted to once before it is
    # loaded (a file beside it under LSH_BENCH_MODEL_CACHE, ~/.cache/lsh-bench/models by default),
    # e.g. "Q8_0"; None = the file as shipped. The shipped Q4_1 has no fast CPU kernels: its
    # Q8_0 copy (near lossless) evaluates prompts ~1.6x and tokens ~1.2x faster here
    # (scripts/bench_llm.py). Part of the answers' cache key (``model_id``).
    weights: Literal["Q8_0", "F16", "Q4_0"] | None = None
    # Which generator turns answers into rows (docs/paper_generator.md): "paper" = the paper's code
    # (init zeros, its five distributions, no clipping; endpoint presets), "guarded" = the harness's
    # own for small models (real start rows, enums, repairs, clipping; llm=local).
    generator: Literal["paper", "guarded"] = "guarded"
    # The prompt set (samplers/llm/prompt_sets/<name>/ or a directory): "paper" = the paper's
    # appendix A.2 verbatim, "compact" = short prompts for small models. Its answer format must
    # be the generator's (checked when the config is read).
    prompts: str = Field("compact", min_length=1)

    #: The values every unit had before ``generator``/``prompts`` existed: left out of the unit's
    #: config hash when they hold them, so the results of ``llm=local`` keep their identity.
    LEGACY_DEFAULTS: ClassVar[dict[str, object]] = {"generator": "guarded", "prompts": "compact",
                                                    "report_rows": None, "weights": None,
                                                    "max_executions_per_program": None, "start_rows": "shown",
                                                    "zero_shot_range": "declared"}

    @property
    def model_id(self) -> str:
        """The model as answers are keyed and recorded: ``model``, plus the converted weights' type if any."""
        return self.model if self.weights is None else f"{self.model}+{self.weights}"

    def hash_payload(self, exclude: set[str]) -> dict[str, object]:
        """What of the LLM config enters a unit's hash: all but ``exclude``, and the new keys only off their legacy value."""
        legacy = {k for k, v in self.LEGACY_DEFAULTS.items() if getattr(self, k) == v}
        return self.model_dump(exclude=exclude | legacy)

    @model_validator(mode="after")
    def _prompts_fit_the_generator(self) -> "LLMConfig":
        # The shipped sets; a directory's answer format is checked when it is loaded.
        wrong = {"paper": ("compact", "lean"), "guarded": ("paper",)}[self.generator]
        if self.prompts in wrong:
            raise ValueError(f"llm.prompts={self.prompts} is written for the other generator; llm.generator={self.generator} "
                             f"needs llm.prompts={'paper' if self.generator == 'paper' else 'lean or compact'} "
                             "(or a directory of that answer format)")
        return self

    @model_validator(mode="after")
    def _weights_are_local(self) -> "LLMConfig":
        if self.weights is not None and self.backend != "local":
            raise ValueError(f"llm.weights={self.weights} converts the local model's file; the {self.backend} backend "
                             "has no file to convert (set llm.weights: null)")
        return self

    @field_validator("api_key_env")
    @classmethod
    def _api_key_env_is_a_name(cls, value: str | None) -> str | None:
        if value is not None and not looks_like_env_name(value):
            raise ValueError(API_KEY_ENV_RULE)
        return value

"""Typed view of the composed Hydra config: a typo or a wrong type fails here.

Hydra composes ``conf/``; :func:`validate` turns the result into a
:class:`BenchConfig` (pydantic, ``extra="forbid"``), so a misspelt key in a
YAML file or an override gets one error line naming the key and what was
expected, before any work starts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError, field_validator

from lsh_bench.config_keys import keys_under
from lsh_bench.errors import ConfigError
from lsh_bench.llm_config import LLM_EXECUTION_FIELDS, LLMConfig
from lsh_bench.ls_config import LSConfig
from lsh_bench.quality_config import QualitySpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())


class DatasetSpec(_Strict):
    """One dataset: identity, expected shape (raw and after the paper's cleaning), target rule, column types.

    ``paper_row`` is the paper's Table 5 row (1-60), or ``"T3"`` for Birthday,
    the Table 3 few-/zero-shot set outside the 60.
    """

    name: str
    paper_row: int | str
    openml_id: int | None
    available_offline: bool
    file: str | None
    sha256: str | None
    n_rows: int | None                  # raw file (mirror copy)
    n_features: int | None
    n_minority: int | None
    ir: float | None
    paper_n_rows: int | None            # paper Table 5 = what the cleaning should give
    paper_n_features: int | None
    paper_ir: float | None
    ir_group: Literal["more", "mid", "less"]
    embedded: Literal["sklearn_breast_cancer"] | None = None
    # Nominal feature columns (OpenML's typing, ../shared/datasets/columns.json): read as text, encoded.
    nominal: list[str] = []
    # Target rule for an OpenML download (mirror files carry the binarised 0/1 target):
    # the column (null = OpenML's default target) and its minority labels (null = the less frequent class).
    target_column: str | None = None
    minority_labels: list[str] | None = None
    target_rule: str | None = None      # the rule in words (manifest's minority_label and note)
    # Why this dataset's cleaned counts differ from the paper's Table 5 (null = they match).
    paper_mismatch: str | None = None

    @field_validator("paper_row")
    @classmethod
    def _paper_row(cls, row: int | str) -> int | str:
        if isinstance(row, int) and 1 <= row <= 60:
            return row
        if row == "T3":
            return row
        raise ValueError(f"paper_row must be a Table 5 row 1-60 or 'T3' (Birthday, Table 3), got {row!r}")


class ClassifierSpec(_Strict):
    """A classifier family and its hyper-parameter grid (paper Table 4)."""

    name: str
    order: int                      # tie-break rank: LR, DT, SVM, kNN, LGBM
    estimator: str                  # import path of a scikit-learn style class
    fixed: dict[str, Any] = {}
    scale: bool = False             # one-hot + scaling under preprocess=standard
    grid: dict[str, list[Any]]

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in grid.items():
            if not values:
                raise ValueError(f"grid value list for {key!r} is empty")
        return grid


K_PLUS_ONE = "k_neighbors+1"


class MethodTraits(_Strict):
    """What the protocol has to know about a method (``traits:`` in ``conf/method/*.yaml``).

    ``min_minority``: fewest real minority rows every training part needs, an
    integer or ``"k_neighbors+1"`` (SMOTE's neighbours: the paper's N/A below
    it); ``uses_llm``: the LLM section of the config enters the unit's hash and
    provenance, and a fold's ratios run in one task so its answers are shared;
    ``seeds_at_r0``: the sampler receives the first applicable ratio r0 as
    ``seed_ratio`` (LS's seeds).
    """

    min_minority: int | Literal["k_neighbors+1"] = Field(0)
    uses_llm: bool = False
    seeds_at_r0: bool = False

    @field_validator("min_minority")
    @classmethod
    def _non_negative(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError(f"min_minority must be >= 0 or {K_PLUS_ONE!r}")
        return value


class _StrictTypes(_Strict):
    """No lax coercion: a boolean is not an integer (``run.n_jobs=true`` is refused, not 1).

    Hydra hands over real ints, floats and bools, so strict types cost nothing
    for correct input; pydantic still accepts an int where a float is expected.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=(), strict=True)


class MethodSpec(_StrictTypes):
    """An oversampling method (``conf/method/<name>.yaml``): its sampler class and traits.

    ``target`` (``_target_`` in YAML) is the import path of the sampler class
    (or of a function returning one); ``null`` means no resampling (ORG).
    :mod:`lsh_bench.samplers.registry` builds it. ``kind`` names the sampler
    family in the unit's config hash: two methods with another class or other
    traits need different kinds (the registry checks it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=(), populate_by_name=True,
                              strict=True)

    name: str
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    target: str | None = Field(alias="_target_")
    k_neighbors: int = Field(5, ge=1)
    traits: MethodTraits = MethodTraits()
    # Methods with seeds at r0 (LS): also score at r0, where LS's rows are LM's (the paper did not).
    score_r0: bool = False

    @property
    def resamples(self) -> bool:
        """False for ORG: the training part reaches the classifier as it is, at no ratio."""
        return self.target is not None

    def min_minority(self) -> int:
        """Fewest real minority rows the method needs in every training part."""
        need = self.traits.min_minority
        return self.k_neighbors + 1 if need == K_PLUS_ONE else int(need)

    def hash_fields(self) -> dict[str, Any]:
        """What of the method enters the unit's config hash: name, kind and ``k_neighbors``.

        The class and the traits are those of ``kind`` (checked by the
        registry), so they are not hashed apart: the hashes of the results
        written before ``_target_``/``traits`` existed stay valid; so do ``score_r0=true`` ones (LS before it).
        """
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "k_neighbors": self.k_neighbors}
        if self.traits.seeds_at_r0 and not self.score_r0:
            out["score_r0"] = False
        return out


class ScenarioSpec(_StrictTypes):
    """``construction``: paper = whole dataset reduced, then split (``data/scenarios.py``); per_fold =
    each training part thinned (``data/splits.py``). ``disjoint_extra``: the paper's samples not overlapping."""

    name: Literal["general", "fewshot", "fewshot05", "zeroshot"]
    minority_fraction: float | None = Field(None, ge=0.0, le=1.0)
    construction: Literal["paper", "per_fold"] = "per_fold"
    disjoint_extra: bool = False

    def hash_fields(self) -> dict[str, Any]:  # the construction only off its legacy values: old hashes kept
        return self.model_dump(exclude={k for k, v in (("construction", "per_fold"), ("disjoint_extra", False))
                                        if getattr(self, k) == v})


class PreprocessSpec(_StrictTypes):
    name: Literal["paper", "standard"]
    # Nominal codes: collation = the paper's files (1..k in Unicode collation order);
    # sorted = this harness before (0..k-1 in code point order).
    encoding: Literal["collation", "sorted"] = "collation"


class SeedsSpec(_StrictTypes):
    """Every random draw's seed; >= 0 because numpy and scikit-learn refuse negative seeds
    (``seeds.split=-1`` used to pass here and fail inside scikit-learn, mid-sweep)."""

    split: int = Field(100, ge=0)
    cv: int = Field(2, ge=0)
    sampler: int = Field(0, ge=0)
    llm: int = Field(0, ge=0)
    classifier: int = Field(100, ge=0)


class ProtocolSpec(_StrictTypes):
    test_size: float = Field(0.3, gt=0.0, lt=1.0)
    n_folds: int = Field(5, ge=2)
    f1_decimals: int | None = Field(4, ge=1, le=12)


class DataSpec(_Strict):
    mirror_dirs: list[str] = []
    use_embedded: bool = True
    use_openml: bool = True
    openml_cache_dir: str | None = None
    cleaning: Literal["paper", "none"] = "paper"            # lsh_bench.data.cleaning
    column_types: Literal["config", "inferred"] = "config"  # nominal columns from the dataset config, or pandas' guess
    degenerate_columns: Literal["error", "drop"] = "error"  # a constant/all-missing column after cleaning

    # What changes the data a unit sees (part of its config hash); the rest says where to find it.
    CONTENT_FIELDS: ClassVar[set[str]] = {"cleaning", "column_types", "degenerate_columns"}


class RunSpec(_StrictTypes):
    results_dir: str = "results/store"
    n_jobs: int = Field(1, ge=1)
    evaluator: Literal["fast", "straightforward"] = "fast"
    exact_check: bool = False
    progress: bool = True
    rerun_failed: bool = True
    fail_fast: bool = False

    @field_validator("results_dir")
    @classmethod
    def _results_dir(cls, value: str) -> str:
        # `run.results_dir=` (empty) would silently write the store into ./units
        if not value.strip():
            raise ValueError("must name a directory (it is empty); e.g. run.results_dir=results/store")
        return value


class BenchConfig(_Strict):
    """The whole run configuration (one Hydra job)."""

    dataset: dict[str, DatasetSpec]
    method: MethodSpec
    scenario: ScenarioSpec
    preprocess: PreprocessSpec
    classifier: dict[str, ClassifierSpec]
    ratios: list[StrictFloat | StrictInt]
    seeds: SeedsSpec
    protocol: ProtocolSpec
    data: DataSpec
    run: RunSpec
    llm: LLMConfig
    ls: LSConfig = LSConfig()      # two-stage methods (LS, SS): expander, seed step
    quality: QualitySpec = QualitySpec()   # not hashed: it never changes a score

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, ratios: list[float]) -> list[float]:
        if not ratios:
            raise ValueError("at least one ratio is needed")
        if any(not (0.0 < r <= 1.0) for r in ratios):
            raise ValueError(f"ratios must lie in (0, 1], got {ratios}")
        repeated = sorted({r for r in ratios if ratios.count(r) > 1})
        if repeated:   # a repeated ratio would be evaluated twice and tie with itself
            raise ValueError(f"ratios must be unique, {', '.join(f'{r:g}' for r in repeated)} repeated in {ratios}")
        return sorted(float(r) for r in ratios)

    @field_validator("dataset")
    @classmethod
    def _datasets(cls, datasets: dict[str, DatasetSpec]) -> dict[str, DatasetSpec]:
        if not datasets:
            raise ValueError("no dataset selected")
        return datasets

    def classifiers(self) -> list[ClassifierSpec]:
        """Selected classifiers in tie-break order (LR, DT, SVM, kNN, LGBM)."""
        return sorted(self.classifier.values(), key=lambda c: c.order)


CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


# Keys whose value may be a secret pasted by mistake: errors name them, never echo the value.
SECRET_KEYS = frozenset({"api_key_env"})


def _format_validation_error(err: ValidationError, source: str) -> str:
    parts = []
    seen: set[str] = set()
    for e in err.errors():
        loc_parts = [str(p) for p in e["loc"]]
        # A union (ratios: float | int) reports one error per member: keep the first.
        loc_parts = [p for p in loc_parts if p not in ("float", "int")]
        loc = ".".join(loc_parts)
        if loc in seen:
            continue
        seen.add(loc)
        if e["type"] == "extra_forbidden":
            keys = keys_under(BenchConfig, loc_parts[:-1], CONF_DIR)
            known = f"; keys of {'.'.join(loc_parts[:-1]) or 'the config'}: {', '.join(keys)}" if keys else ""
            parts.append(f"{loc}: unknown key (typo?){known}")
        elif e["type"] == "missing":
            parts.append(f"{loc}: required key is missing")
        elif SECRET_KEYS & set(loc_parts):
            parts.append(f"{loc}: {e['msg']}")
        else:
            parts.append(f"{loc}: {e['msg']} (got {e.get('input')!r})")
    return f"invalid config ({source}): " + "; ".join(parts)


def validate(cfg: DictConfig | dict[str, Any], source: str = "conf/") -> BenchConfig:
    """Resolve interpolations and validate; raise :class:`ConfigError` on any problem."""
    if isinstance(cfg, DictConfig):
        try:
            raw = OmegaConf.to_container(cfg, resolve=True)
        except Exception as exc:  # interpolation errors: name them
            raise ConfigError(f"invalid config ({source}): {exc}") from exc
    else:
        raw = dict(cfg)
    assert isinstance(raw, dict)
    raw.pop("hydra", None)
    # A grid file (grid=smoke) may carry grids for classifiers that were not
    # selected with classifier=[...]; such entries have no `estimator`.
    classifiers = raw.get("classifier") or {}
    raw["classifier"] = {k: v for k, v in classifiers.items() if isinstance(v, dict) and "estimator" in v}
    if not raw["classifier"]:
        raise ConfigError(f"invalid config ({source}): classifier: no classifier selected")
    try:
        return BenchConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source)) from None


def stable_hash(obj: Any, length: int = 16) -> str:
    """sha256 of a JSON-serialisable object with sorted keys (order-independent)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def unit_config_hash(cfg: BenchConfig, dataset: DatasetSpec) -> str:
    """Hash of everything that can change one unit's scores.

    Excluded on purpose: ``run.*`` (n_jobs, evaluator — fast and
    straightforward give identical scores —, paths), data locations (the
    dataset's sha256 is checked and recorded instead), and the LLM section for
    methods that use no LLM. The data options that change the table (cleaning,
    column types) are included.
    """
    payload: dict[str, Any] = {
        "dataset": dataset.model_dump(),
        "data": cfg.data.model_dump(include=DataSpec.CONTENT_FIELDS),
        "method": cfg.method.hash_fields(),
        "scenario": cfg.scenario.hash_fields(),
        "preprocess": cfg.preprocess.model_dump(),
        "classifiers": [c.model_dump() for c in cfg.classifiers()],
        "ratios": cfg.ratios,
        "seeds": cfg.seeds.model_dump(),
        "protocol": cfg.protocol.model_dump(),
    }
    if cfg.method.traits.uses_llm:
        # Not the execution details (llm_config.LLM_EXECUTION_FIELDS): replays do not depend on them.
        # ``zero_shot_range`` acts only in the guarded generator, on a training part without minority
        # rows, which the general scenario never has (stratified folds of the full minority): elsewhere
        # it cannot change a score.
        inert = cfg.scenario.minority_fraction is None or cfg.llm.generator == "paper"
        payload["llm"] = cfg.llm.hash_payload(LLM_EXECUTION_FIELDS | ({"zero_shot_range"} if inert else set()))
    if cfg.method.traits.seeds_at_r0 and cfg.ls.hash_fields():   # only non-defaults: old LS hashes stay
        payload["ls"] = cfg.ls.hash_fields()
    return stable_hash(payload)

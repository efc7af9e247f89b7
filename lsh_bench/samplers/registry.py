"""The method registry: ``conf/method/<name>.yaml`` -> the sampler of one ratio.

A method is one YAML file: the import path of its sampler class (``_target_``,
as ``conf/classifier/*.yaml`` names its estimator) and its traits
(:class:`lsh_bench.config.MethodTraits`). This module is the only code that
turns a method into a sampler, and the protocol reads only the traits, so no
other module asks which method it is running.

The class receives, by the names its ``__init__`` declares, those of the
unit's values it asks for (:meth:`SamplerContext.values`):

==========================  ==================================================
``sampling_strategy``       the ratio r (minority/majority after resampling)
``k_neighbors``             ``method.k_neighbors`` (``n_neighbors`` too: ADASYN's name)
``random_state``            ``seeds.sampler`` (SMOTE's seed)
``llm_seed``                ``seeds.llm`` (the LLM's seed)
``schema`` / ``n_features`` the dataset's columns (:class:`~lsh_bench.data.schema.FeatureSchema`)
``categorical_features``    columns SMOTENC keeps categorical (``preprocess=standard``)
``llm``                     the ``llm=`` config (:class:`~lsh_bench.config.LLMConfig`)
``seed_ratio``              the seed ratio: r0, or ``ls.seed_steps`` ratios above it (``seeds_at_r0`` only)
``expander``                ``ls.expander``: the over-sampler above the seed ratio (:func:`build_expander`)
==========================  ==================================================

Adding an oversampler = a class with imbalanced-learn's ``fit_resample``
contract + a ``conf/method/<name>.yaml`` with a new ``kind``;
``tests/samplers/test_conformance.py`` runs it through the contract and the
protocol.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from lsh_bench.config import LLMConfig, MethodSpec
from lsh_bench.data.schema import FeatureSchema
from lsh_bench.errors import ConfigError
from lsh_bench.ls_config import DEFAULT_EXPANDER

#: Where the shipped methods are (the Hydra config group ``method``).
METHOD_DIR = Path(__file__).resolve().parents[2] / "conf" / "method"


@dataclass(frozen=True)
class SamplerContext:
    """What a unit knows when it builds the sampler of one ratio."""

    sampling_strategy: float
    k_neighbors: int
    random_state: int
    llm_seed: int
    schema: FeatureSchema
    llm: LLMConfig
    categorical_features: list[int] | None = None
    seed_ratio: float | None = None
    expander: str = DEFAULT_EXPANDER

    def values(self) -> dict[str, Any]:
        """The values a sampler class may ask for, by parameter name."""
        out = {
            "sampling_strategy": self.sampling_strategy, "k_neighbors": self.k_neighbors,
            "n_neighbors": self.k_neighbors, "random_state": self.random_state, "llm_seed": self.llm_seed,
            "schema": self.schema, "n_features": len(self.schema), "llm": self.llm,
            "categorical_features": self.categorical_features,
        }
        if self.seed_ratio is not None:
            out["seed_ratio"] = self.seed_ratio
            out["expander"] = self.expander
        return out


CONTEXT_NAMES = frozenset({*SamplerContext.__dataclass_fields__, "n_neighbors", "n_features"})


@lru_cache(maxsize=None)
def sampler_factory(target: str) -> Callable[..., Any]:
    """The class (or function) ``target`` names; a :class:`ConfigError` naming ``method._target_`` if none."""
    module, _, name = target.rpartition(".")
    try:
        factory = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"method._target_: {target!r} cannot be imported: {exc}") from exc
    if not callable(factory):
        raise ConfigError(f"method._target_: {target!r} is not a class or function")
    return factory


def _parameters(factory: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    return {name: p for name, p in inspect.signature(factory).parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def build_sampler(method: MethodSpec, context: SamplerContext) -> Any | None:
    """The method's sampler for ``context.sampling_strategy``; ``None`` for no resampling (ORG)."""
    if method.target is None:
        return None
    factory = sampler_factory(method.target)
    accepted = _parameters(factory)
    return factory(**{k: v for k, v in context.values().items() if k in accepted})


def expander_method(name: str, registered: dict[str, MethodSpec] | None = None) -> MethodSpec:
    """The registered method ``ls.expander`` names: a method's name, else its kind (``smote`` = SM's sampler).

    It must be a plain over-sampler: it resamples, uses no LLM and takes no
    seed ratio (an expander that wrote seeds of its own would be a third stage).
    """
    methods = _shipped_methods() if registered is None else registered
    spec = methods.get(name) or next((m for m in methods.values() if m.kind == name), None)
    plain = sorted(n for n, m in methods.items()
                   if m.resamples and not (m.traits.uses_llm or m.traits.seeds_at_r0))
    if spec is None or spec.name not in plain:
        why = "is not a registered method or kind" if spec is None else "is not a plain over-sampler"
        raise ConfigError(f"ls.expander: {name!r} {why} (conf/method/); expected {DEFAULT_EXPANDER!r} "
                          f"or one of {plain}")
    return spec


def build_expander(name: str, *, sampling_strategy: float, k_neighbors: int, random_state: int,
                   categorical_features: list[int] | None, n_features: int) -> Any:
    """The expander's sampler for ``sampling_strategy``, built as its own method would be (same values)."""
    factory = sampler_factory(expander_method(name).target)  # type: ignore[arg-type]
    values = {"sampling_strategy": sampling_strategy, "k_neighbors": k_neighbors, "n_neighbors": k_neighbors,
              "random_state": random_state, "categorical_features": categorical_features,
              "n_features": n_features}
    accepted = _parameters(factory)
    return factory(**{k: v for k, v in values.items() if k in accepted})


@lru_cache(maxsize=1)
def _shipped_methods() -> dict[str, MethodSpec]:
    return registered_methods()


def check_method(method: MethodSpec, registered: dict[str, MethodSpec] | None = None,
                 expander: str | None = None) -> None:
    """Fail before any work if the method cannot be built or its traits contradict its class.

    * the class exists, takes ``sampling_strategy``, and needs nothing the unit cannot give;
    * ``uses_llm`` iff it takes ``llm``, ``seeds_at_r0`` iff it takes ``seed_ratio``
      (otherwise the LLM config would be missing from the unit's hash, or r0 never passed);
    * a ``kind`` of a shipped method keeps that method's class and traits (the
      config hash names the sampler by its kind);
    * a two-stage method's ``expander`` (``ls.expander``) is a plain registered over-sampler.
    """
    where = f"method {method.name!r}"
    if method.target is None:
        if method.traits.uses_llm or method.traits.seeds_at_r0:
            raise ConfigError(f"{where}: no sampler (_target_: null) cannot use the LLM or seeds")
    else:
        params = _parameters(sampler_factory(method.target))
        if "sampling_strategy" not in params:
            raise ConfigError(f"{where}: {method.target} takes no 'sampling_strategy' (the ratio)")
        missing = [n for n, p in params.items() if p.default is p.empty and n not in CONTEXT_NAMES]
        if missing:
            raise ConfigError(f"{where}: {method.target} requires {missing}, which no unit provides "
                              f"(available: {sorted(CONTEXT_NAMES)})")
        for trait, name in (("uses_llm", "llm"), ("seeds_at_r0", "seed_ratio")):
            if getattr(method.traits, trait) != (name in params):
                raise ConfigError(f"{where}: traits.{trait} is {getattr(method.traits, trait)} but "
                                  f"{method.target} {'takes' if name in params else 'does not take'} {name!r}")
    for other in (registered_methods() if registered is None else registered).values():
        if other.kind == method.kind and (other.target, other.traits) != (method.target, method.traits):
            raise ConfigError(
                f"{where}: kind {method.kind!r} is {other.name!r}'s sampler ({other.target}, {other.traits}); "
                "a method with another class or traits needs a kind of its own (the unit's config hash names it)")
    if expander is not None and method.traits.seeds_at_r0:
        expander_method(expander, registered)


def registered_methods(method_dir: Path = METHOD_DIR) -> dict[str, MethodSpec]:
    """Every method of ``conf/method/`` by file name, validated."""
    out = {}
    for path in sorted(method_dir.glob("*.yaml")):
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
        try:
            out[path.stem] = MethodSpec.model_validate(raw)
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    return out

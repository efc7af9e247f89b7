"""Fixtures for the LLM client tests: the model file, loopback HTTP servers.

Every server binds 127.0.0.1 on a free port, every wait is bounded, and every
server (thread or subprocess) is stopped at teardown, also when a test fails.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lsh_bench.samplers.llm.backends import resolve_model_path
from lsh_bench.samplers.llm.config import LLMConfig

SERVER_START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A port nobody listens on right now (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    return resolve_model_path(LLMConfig())


# --------------------------------------------------------------------------- scripted fake endpoint


def completion_body(text: str, prompt_tokens: int = 7, completion_tokens: int = 3) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "fake",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


@dataclass
class FakeEndpoint:
    """A scripted OpenAI-style endpoint: answers each POST with the next scripted step.

    A step is an HTTP status (an error with that status), ``("sleep", s)``
    (answer after s seconds, to provoke client timeouts), ``("trickle", s)``
    (a valid answer sent one byte every s seconds: no single wait is long),
    ``("raw", body_bytes)`` (HTTP 200 with that body, e.g. not JSON or huge)
    or ``"ok"``. After
    the script runs out every request is answered ``"ok"``. With
    ``reject_json_schema`` a request using response_format json_schema gets
    llama-cpp-python's HTTP 500 validation error, before the script is used.
    """

    base_url: str = ""
    script: list[Any] = field(default_factory=list)
    reject_json_schema: bool = False
    answer: str = '{"ok": true}'
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: threading.Event = field(default_factory=threading.Event)   # set at teardown: trickles end

    @property
    def attempts(self) -> int:
        return len(self.requests)


def _handler_for(ep: FakeEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

        def _send_raw(self, data: bytes) -> None:
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client stopped reading (size cap)
                pass

        def _trickle(self, data: bytes, interval: float) -> None:
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.flush()
                for i in range(len(data)):
                    if ep.stopped.is_set():
                        return
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    time.sleep(interval)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (deadline test)
                pass

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with ep.lock:
                ep.requests.append(body)
                ep.headers.append({k.lower(): v for k, v in self.headers.items()})
                rf = body.get("response_format") or {}
                if ep.reject_json_schema and rf.get("type") == "json_schema":
                    step: Any = "reject"
                else:
                    step = ep.script.pop(0) if ep.script else "ok"
            if step == "reject":
                self._send(500, {"error": {"message": "1 validation error: ('body', 'response_format', 'type') "
                                                      "Input should be 'text' or 'json_object'",
                                           "type": "internal_server_error"}})
            elif isinstance(step, int):
                extra = {"Retry-After": "0"} if step == 429 else None
                self._send(step, {"error": {"message": f"scripted failure {step}", "type": "test"}}, extra)
            elif isinstance(step, tuple) and step[0] == "sleep":
                time.sleep(step[1])
                self._send(200, completion_body(ep.answer))
            elif isinstance(step, tuple) and step[0] == "trickle":
                self._trickle(json.dumps(completion_body(ep.answer)).encode(), step[1])
            elif isinstance(step, tuple) and step[0] == "raw":
                self._send_raw(step[1])
            else:
                self._send(200, completion_body(ep.answer))

    return Handler


@pytest.fixture
def fake_endpoint() -> Iterator[FakeEndpoint]:
    ep = FakeEndpoint()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(ep))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    ep.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield ep
    finally:
        ep.stopped.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------- real llama-cpp-python server


@dataclass(frozen=True)
class LlamaServer:
    base_url: str
    api_key: str
    log_path: Path


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, api_key: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"})
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode} before answering {url}:\n{tail}")
        try:
            with urllib.request.urlopen(req, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"llama_cpp.server did not answer {url} within {SERVER_START_TIMEOUT_S:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def llama_server(gguf_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """``python -m llama_cpp.server`` on a free loopback port, requiring a random dummy key.

    The server's own log goes to a directory of its own (not the test's
    tmp_path), so the key-leak scan covers only what our code wrote.
    """
    api_key = f"sk-test-{secrets.token_hex(12)}"
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    last_error: Exception | None = None
    for _ in range(2):  # a free port can be taken between probing and binding: try once more
        port = free_port()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path),
                 "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
                 "--n_threads", "1", "--n_threads_batch", "1", "--api_key", api_key],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: teardown kills all of it
            )
        try:
            _wait_until_up(proc, f"http://127.0.0.1:{port}/v1/models", api_key, log_path)
        except RuntimeError as exc:
            _stop(proc)
            last_error = exc
            continue
        try:
            yield LlamaServer(base_url=f"http://127.0.0.1:{port}/v1", api_key=api_key, log_path=log_path)
        finally:
            _stop(proc)
        return
    raise RuntimeError(f"could not start llama_cpp.server: {last_error}")

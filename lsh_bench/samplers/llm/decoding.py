"""Constrained decoding of the embedded model: our grammars, jump-forward, a reproducible prompt prefix.

What a request asks for is plain data (``ChatRequest.decoding``, built by
:func:`decoding_request`), part of the replay-cache key:

* ``grammar`` — a grammar of ``grammar.py`` (JSON form) for a JSON answer,
  or ``prose`` — free text that ends at the first sentence end after
  ``min_words`` words (and at ``max_words`` words at the latest);
* ``prefix_until`` — where the prompt splits into a shared prefix and the
  rest (see below);
* the sampler: the ``top_k`` most likely tokens the grammar allows, those
  within ``min_p`` of the best, the ``top_p`` nucleus of these, sampled at
  the request's temperature with numpy's PCG64 seeded from the request.

Why it is fast (measured in ``scripts/bench_llm.py``):

1. **Only the likely tokens are checked.** llama.cpp's grammar sampler
   tests every token of the 49,152-token vocabulary at every step; here
   the tokens are visited in order of their logits and checked one by one
   against the grammar (``matcher.py``, memoised) until ``top_k`` allowed
   ones are found or the rest could not pass ``min_p`` — usually a handful.
   This is exactly the allowed-token top-k / min-p / top-p sampler; it
   just never looks at tokens that cannot matter.
2. **Forced text is not sampled.** Where the grammar allows one
   continuation only (keys, column names once chosen, closing brackets),
   its tokens are evaluated in one batch, as prompt tokens are.
3. **The answer ends when the JSON is complete**: the grammar has no
   trailing whitespace, so completion is the end (EOS forced).
4. **A shared prompt prefix is evaluated once.** A prompt is split at
   ``prefix_until``; the prefix is always evaluated alone from an empty
   context, in the same batches, and the rest after it. The KV cache after
   the prefix is therefore the same whether it was just computed or kept
   from the previous request, and so are the logits: an answer depends on
   (request, seed) only, not on what was asked before (tested).
"""

from __future__ import annotations

import ctypes
import json
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from lsh_bench.errors import LLMError
from lsh_bench.samplers.llm.grammar import Node, from_json, to_json
from lsh_bench.samplers.llm.matcher import DEAD, Matcher
from lsh_bench.samplers.llm.parse import LOOP_MAX_PERIOD, LOOP_MIN_CHARS, LOOP_MIN_REPEATS, repeated_tail

if TYPE_CHECKING:
    import llama_cpp

    from lsh_bench.samplers.llm.types import ChatRequest

DECODER = "lsh-bench-constrained/1"
TOP_K = 40
MIN_P = 0.05          # llama-cpp-python's defaults for create_chat_completion
_FIRST_LOOK = 64      # candidates ranked by logit before falling back to a scan of every allowed token
_SENTENCE_END = (".", "!", "?")


def decoding_request(grammar: Node | None = None, prose: tuple[int, int] | None = None,
                     prefix_until: Sequence[str] = ()) -> dict[str, Any]:
    """The ``decoding`` field of a request for the local backend (plain JSON data).

    ``prefix_until``: markers; the prompt's shared prefix ends where the last
    of them begins (no split when none occurs).
    """
    if (grammar is None) == (prose is None):
        raise ValueError("decoding_request: give exactly one of grammar (JSON answers) or prose (free text)")
    return {
        "decoder": DECODER,
        "grammar": to_json(grammar) if grammar is not None else None,
        "prose": ({"min_words": prose[0], "max_words": prose[1],
                   "loop": {"min_chars": LOOP_MIN_CHARS, "max_period": LOOP_MAX_PERIOD,
                            "min_repeats": LOOP_MIN_REPEATS}}
                  if prose is not None else None),
        "prefix_until": list(prefix_until),
        "top_k": TOP_K,
        "min_p": MIN_P,
    }


@dataclass
class Decoded:
    """One answer and where its time went (seconds; tokens evaluated per kind)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str                      # "stop" (grammar / EOS / prose end), "loop" or "length" (max_tokens)
    timings: dict[str, float] = field(default_factory=dict)


class _Prose:
    """Free text that ends at a sentence end once it has ``min_words`` words (at ``max_words`` at the latest).

    With ``loop`` (``parse.repeated_tail``'s keyword limits) it also ends as
    soon as the text ends in a loop: a 135M model otherwise repeats a
    fragment with no space in it up to the token cap (vertebra-column's
    report: 2,314 tokens, 6 words). The report parser then rejects it.
    """

    def __init__(self, min_words: int, max_words: int, loop: dict[str, int] | None = None) -> None:
        self.min_words, self.max_words, self.loop = min_words, max_words, loop

    def done(self, text: str) -> str | None:
        """Why the text is finished (``"stop"``, ``"loop"``), or None."""
        if self.loop is not None and repeated_tail(text, **self.loop):
            return "loop"
        words = len(text.split())
        if words >= self.max_words:
            return "stop"
        return "stop" if words >= self.min_words and text.rstrip().endswith(_SENTENCE_END) else None


def _piece(llama_cpp: Any, vocab: Any, token: int) -> bytes:
    """The bytes a token stands for (``LlamaModel.token_to_piece`` returns its whole 32-byte buffer)."""
    size = 64
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, size, 0, False)
        if n >= 0:
            return bytes(buf[:n])
        size = -n          # the piece needs -n bytes


class LocalDecoder:
    """Decodes requests with a loaded ``llama_cpp.Llama`` (one at a time: the caller holds a lock)."""

    def __init__(self, llm: "llama_cpp.Llama") -> None:
        import llama_cpp
        from llama_cpp import llama_chat_format

        self.llm = llm
        self._llama_cpp = llama_cpp
        model = llm._model
        n_vocab = model.n_vocab()
        self.pieces: list[bytes] = [_piece(llama_cpp, model.vocab, t) for t in range(n_vocab)]
        self.eog = frozenset(t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(model.vocab, t))
        attrs = [model.token_get_attr(t) for t in range(n_vocab)]
        normal = llama_cpp.LLAMA_TOKEN_ATTR_NORMAL | llama_cpp.LLAMA_TOKEN_ATTR_BYTE
        # tokens text may contain: not control/special ones (EOG is handled apart)
        self.textual = np.array([bool(a & normal) and bool(p) and t not in self.eog
                                 for t, (a, p) in enumerate(zip(attrs, self.pieces))])
        by_first: dict[int, list[int]] = {}
        for t, p in enumerate(self.pieces):
            if self.textual[t]:
                by_first.setdefault(p[0], []).append(t)
        self.by_first = {b: np.array(ts, dtype=np.int64) for b, ts in by_first.items()}
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise LLMError("the local model has no chat template in its GGUF metadata (tokenizer.chat_template)")
        eos, bos = model.token_eos(), model.token_bos()
        self._formatter = llama_chat_format.Jinja2ChatFormatter(
            template=template, eos_token=model.token_get_text(eos) if eos != -1 else "",
            bos_token=model.token_get_text(bos) if bos != -1 else "", stop_token_ids=[eos])
        self._matchers: dict[str, Matcher] = {}
        self._token_step: dict[tuple[int, int, int], int] = {}   # (matcher, state, token) -> state
        self._prefix: list[int] | None = None                     # prompt prefix whose KV cache is kept

    def forget_prefix(self) -> None:
        """The KV cache no longer holds the kept prefix (someone else used the model)."""
        self._prefix = None

    # -- prompt
    def prompt_tokens(self, request: "ChatRequest") -> tuple[list[int], list[int]]:
        """(prefix, rest): the chat prompt split at ``prefix_until`` (rest empty when it is absent)."""
        messages = [{"role": r, "content": c} for r, c in request.messages]
        rendered = self._formatter(messages=messages)
        text, add_bos = rendered.prompt, not rendered.added_special
        markers = (request.decoding or {}).get("prefix_until") or []
        cut = max((text.rfind(m) for m in markers), default=-1)
        if cut <= 0:
            return self._tokenize(text, add_bos), []
        return self._tokenize(text[:cut], add_bos), self._tokenize(text[cut:], False)

    def _tokenize(self, text: str, add_bos: bool) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def _eval_prompt(self, prefix: list[int], rest: list[int], timings: dict[str, float]) -> None:
        n_ctx = self.llm.n_ctx()
        if len(prefix) + len(rest) >= n_ctx:
            raise LLMError(f"local LLM: the prompt has {len(prefix) + len(rest)} tokens, more than the "
                           f"context (n_ctx={n_ctx}) holds")
        t0 = time.perf_counter()
        if rest and self._prefix == prefix:
            self.llm.n_tokens = len(prefix)          # keep the prefix's KV cache; eval() drops the rest
            timings["prefix_reused_tokens"] = len(prefix)
        else:
            self._prefix = None
            self.llm.reset()
            self.llm.eval(prefix)
            timings["prompt_eval_tokens"] = len(prefix)
            if rest:
                self._prefix = list(prefix)
        if rest:
            self.llm.eval(rest)
            timings["prompt_eval_tokens"] = timings.get("prompt_eval_tokens", 0) + len(rest)
        timings["prompt_eval_s"] = time.perf_counter() - t0

    # -- answer
    def decode(self, request: "ChatRequest", seed: int) -> Decoded:
        spec = request.decoding or {}
        grammar = spec.get("grammar")
        matcher = self._matcher(grammar) if grammar is not None else None
        prose = _Prose(**spec["prose"]) if spec.get("prose") else None
        top_k, min_p = int(spec.get("top_k", TOP_K)), float(spec.get("min_p", MIN_P))
        timings: dict[str, float] = {"forced_tokens": 0, "sampled_tokens": 0, "forced_eval_s": 0.0,
                                     "sampled_eval_s": 0.0, "choose_s": 0.0,
                                     "logit_sum": 0.0}   # of the sampled tokens: equal sums, equal logits
        prefix, rest = self.prompt_tokens(request)
        self._eval_prompt(prefix, rest, timings)
        if len(prefix) + len(rest) + request.max_tokens > self.llm.n_ctx():
            raise LLMError(f"local LLM: prompt ({len(prefix) + len(rest)} tokens) + max_tokens "
                           f"({request.max_tokens}) exceed the context (n_ctx={self.llm.n_ctx()})")
        rng = np.random.Generator(np.random.PCG64(seed))
        out = bytearray()
        state = matcher.start if matcher is not None else 0
        n, finish = 0, "length"
        while n < request.max_tokens:
            if matcher is not None and matcher.complete(state):
                finish = "stop"
                break
            tokens = self._forced_tokens(matcher, state) if matcher is not None else []
            if tokens:
                tokens = tokens[: request.max_tokens - n]
                t0 = time.perf_counter()
                self.llm.eval(tokens)
                timings["forced_eval_s"] += time.perf_counter() - t0
                timings["forced_tokens"] += len(tokens)
                for t in tokens:
                    out += self.pieces[t]
                    state = matcher.feed(state, self.pieces[t]) if matcher is not None else state
                n += len(tokens)
                if state == DEAD:
                    raise LLMError(f"local decoder: forced tokens {tokens} are not accepted by the grammar")
                continue
            t0 = time.perf_counter()
            token, state, logit = self._choose(matcher, state, rng, top_k, min_p, request.temperature,
                                               request.top_p)
            timings["choose_s"] += time.perf_counter() - t0
            timings["logit_sum"] += logit
            if token in self.eog:
                finish = "stop"
                break
            out += self.pieces[token]
            n += 1
            timings["sampled_tokens"] += 1
            ended = prose.done(out.decode("utf-8", errors="replace")) if prose is not None else None
            if ended:
                finish = ended
                break
            t0 = time.perf_counter()
            self.llm.eval([token])
            timings["sampled_eval_s"] += time.perf_counter() - t0
        return Decoded(out.decode("utf-8", errors="replace"), len(prefix) + len(rest), n, finish, timings)

    def _forced_tokens(self, matcher: Matcher, state: int) -> list[int]:
        """The tokens of the forced text, all but the last unless the answer ends with them.

        The last token is left to the model (constrained to the forced bytes):
        it may merge with what comes next, as ``"},`` does. Forcing it would
        put the model at a token boundary it rarely saw (a 135M model then
        closed its programs after one operation).
        """
        forced = matcher.forced(state)
        if not forced:
            return []
        tokens = self.llm.tokenize(forced, add_bos=False, special=False)
        if matcher.complete(matcher.feed(state, forced)):
            return tokens
        return tokens[:-1]

    def _matcher(self, grammar: list[Any]) -> Matcher:
        key = json.dumps(grammar, separators=(",", ":"))
        matcher = self._matchers.get(key)
        if matcher is None:
            if len(self._matchers) >= 16:        # one generation uses two grammars; keep the recent ones
                self._matchers.clear()
                self._token_step.clear()
            matcher = self._matchers[key] = Matcher(from_json(grammar))
        return matcher

    def _next(self, matcher: Matcher | None, state: int, token: int) -> int:
        """The grammar state after ``token`` (DEAD if not allowed); free text allows every textual token."""
        if matcher is None:
            return 0 if self.textual[token] or token in self.eog else DEAD
        if token in self.eog:
            return state if matcher.complete(state) else DEAD
        key = (id(matcher), state, token)
        nxt = self._token_step.get(key)
        if nxt is None:
            nxt = self._token_step[key] = matcher.feed(state, self.pieces[token]) if self.textual[token] else DEAD
        return nxt

    def _logits(self) -> np.ndarray:
        ptr = self._llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.llm.n_vocab(),))

    def _choose(self, matcher: Matcher | None, state: int, rng: np.random.Generator, top_k: int, min_p: float,
                temperature: float, top_p: float) -> tuple[int, int, float]:
        """One token from the allowed top-k / min-p / top-p distribution at ``temperature``.

        Returns the token, the grammar state after it and its logit.
        """
        logits = self._logits()
        window = math.log(1.0 / min_p) if min_p > 0 else math.inf
        first = np.argpartition(-logits, _FIRST_LOOK)[:_FIRST_LOOK]
        order = first[np.lexsort((first, -logits[first]))]
        chosen: list[tuple[int, int]] = []
        exhausted = self._collect(order, logits, matcher, state, chosen, top_k, window)
        if exhausted and len(chosen) < top_k:
            best = logits[chosen[0][0]] if chosen else None
            if best is None or logits[order[-1]] >= best - window:
                seen = set(int(t) for t in order)
                pool = self._allowed_tokens(matcher, state)
                pool = pool[~np.isin(pool, list(seen))]
                pool = pool[np.lexsort((pool, -logits[pool]))]
                self._collect(pool, logits, matcher, state, chosen, top_k, window)
        if not chosen:
            raise LLMError("local decoder: no token of the vocabulary continues the answer under its grammar")
        ids = np.array([t for t, _ in chosen])
        lg = logits[ids].astype(np.float64)
        p = np.exp(lg - lg[0])
        p /= p.sum()
        keep = int(np.searchsorted(np.cumsum(p), top_p) + 1) if top_p < 1.0 else len(ids)
        keep = max(1, min(keep, len(ids)))
        if temperature <= 0:
            k = 0
        else:
            q = np.exp((lg[:keep] - lg[0]) / temperature)
            k = int(np.searchsorted(np.cumsum(q) / q.sum(), rng.random(), side="right"))
            k = min(k, keep - 1)
        return chosen[k][0], chosen[k][1], float(lg[k])

    def _collect(self, order: np.ndarray, logits: np.ndarray, matcher: Matcher | None, state: int,
                 chosen: list[tuple[int, int]], top_k: int, window: float) -> bool:
        """Append allowed tokens of ``order`` (by falling logit) to ``chosen``; False once no more can qualify."""
        for t in order:
            t = int(t)
            if chosen and logits[t] < logits[chosen[0][0]] - window:
                return False
            nxt = self._next(matcher, state, t)
            if nxt == DEAD:
                continue
            chosen.append((t, nxt))
            if len(chosen) >= top_k:
                return False
        return True

    def _allowed_tokens(self, matcher: Matcher | None, state: int) -> np.ndarray:
        """Every token whose first byte may come next (EOG where the answer may end)."""
        if matcher is None:
            return np.flatnonzero(self.textual | np.isin(np.arange(len(self.pieces)), list(self.eog)))
        parts = [self.by_first[b] for b in matcher.allowed(state) if b in self.by_first]
        if matcher.complete(state):
            parts.append(np.array(sorted(self.eog), dtype=np.int64))
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

"""Incremental byte-level matching of a grammar (``grammar.py``): which bytes and tokens may come next.

The decoder asks three questions at every step, many times: may this token
come next (and where does it leave the answer), which bytes are forced
(exactly one continuation, so the model need not be asked), and is the
answer complete. States are numbered and every transition is memoised, so
after the first answers of a generation most questions are dictionary
look-ups.

A state is the set of ways the answer can go on, each a stack of pending
grammar parts (top first) — the way llama.cpp's grammar engine keeps its
"stacks". The grammars have no recursion and every repetition is bounded,
so the stacks stay short.
"""

from __future__ import annotations

from typing import Iterable

from lsh_bench.samplers.llm.grammar import BYTE_CLASSES, Alt, Chars, Lit, Node, Rep, Seq

# Stack entries (tuples of ints, cheap to hash):
#   (_LIT, node, offset)     literal node, bytes consumed so far
#   (_CHR, node, lo, hi)     byte-class run still owing lo..hi bytes
#   (_NODE, node)            a Seq / Alt / Rep not yet expanded
#   (_TAIL, node, lo, hi)    "(sep item){lo,hi}" of the Rep node
_LIT, _CHR, _NODE, _TAIL = 0, 1, 2, 3
Stack = tuple[tuple[int, ...], ...]
DEAD = -1


class Matcher:
    """The states of one grammar; ``start`` is the empty answer."""

    def __init__(self, root: Node) -> None:
        self.nodes: list[Node] = []
        self._index: dict[int, int] = {}
        self._states: list[frozenset[Stack]] = []
        self._ids: dict[frozenset[Stack], int] = {}
        self._byte_step: dict[tuple[int, int], int] = {}
        self._allowed: dict[int, frozenset[int]] = {}
        self._forced: dict[int, bytes] = {}
        root_id = self._register(root)
        self.start = self._intern(self._expand(((_NODE, root_id),)))

    # -- building
    def _register(self, node: Node) -> int:
        key = id(node)
        if key in self._index:
            return self._index[key]
        idx = len(self.nodes)
        self.nodes.append(node)
        self._index[key] = idx
        children: Iterable[Node] = ()
        if isinstance(node, Seq):
            children = node.items
        elif isinstance(node, Alt):
            children = node.options
        elif isinstance(node, Rep):
            children = (node.item, node.sep)
        for child in children:
            self._register(child)
        return idx

    def _entry(self, node: Node) -> tuple[int, ...]:
        idx = self._index[id(node)]
        if isinstance(node, Lit):
            return (_LIT, idx, 0)
        if isinstance(node, Chars):
            return (_CHR, idx, node.lo, node.hi)
        return (_NODE, idx)

    def _expand(self, stack: Stack) -> frozenset[Stack]:
        """Normalised stacks: each empty or topped by a part that consumes a byte."""
        out: set[Stack] = set()
        todo = [stack]
        while todo:
            st = todo.pop()
            if not st:
                out.add(st)
                continue
            top, rest = st[0], st[1:]
            kind = top[0]
            if kind == _LIT:
                node = self.nodes[top[1]]
                assert isinstance(node, Lit)
                if top[2] < len(node.data):
                    out.add(st)
                else:
                    todo.append(rest)
            elif kind == _CHR:
                if top[3] > 0:
                    out.add(st)
                if top[2] == 0:
                    todo.append(rest)
            elif kind == _NODE:
                node = self.nodes[top[1]]
                if isinstance(node, Seq):
                    todo.append(tuple(self._entry(i) for i in node.items) + rest)
                elif isinstance(node, Alt):
                    todo.extend((self._entry(o),) + rest for o in node.options)
                else:
                    assert isinstance(node, Rep)
                    todo.append((self._entry(node.item), (_TAIL, top[1], node.lo - 1, node.hi - 1)) + rest)
            else:  # _TAIL
                node = self.nodes[top[1]]
                assert isinstance(node, Rep)
                lo, hi = top[2], top[3]
                if lo <= 0:
                    todo.append(rest)
                if hi > 0:
                    todo.append((self._entry(node.sep), self._entry(node.item),
                                 (_TAIL, top[1], max(lo - 1, 0), hi - 1)) + rest)
        return frozenset(out)

    def _intern(self, stacks: frozenset[Stack]) -> int:
        if not stacks:
            return DEAD
        sid = self._ids.get(stacks)
        if sid is None:
            sid = self._ids[stacks] = len(self._states)
            self._states.append(stacks)
        return sid

    # -- questions
    def step(self, state: int, byte: int) -> int:
        """The state after one more byte, or DEAD."""
        if state == DEAD:
            return DEAD
        key = (state, byte)
        nxt = self._byte_step.get(key)
        if nxt is not None:
            return nxt
        out: set[Stack] = set()
        for st in self._states[state]:
            if not st:
                continue
            top, rest = st[0], st[1:]
            if top[0] == _LIT:
                node = self.nodes[top[1]]
                assert isinstance(node, Lit)
                if node.data[top[2]] == byte:
                    out |= self._expand(((_LIT, top[1], top[2] + 1),) + rest)
            else:
                node = self.nodes[top[1]]
                assert isinstance(node, Chars)
                if byte in BYTE_CLASSES[node.cls]:
                    out |= self._expand(((_CHR, top[1], max(top[2] - 1, 0), top[3] - 1),) + rest)
        nxt = self._byte_step[key] = self._intern(frozenset(out))
        return nxt

    def feed(self, state: int, data: bytes) -> int:
        for b in data:
            state = self.step(state, b)
            if state == DEAD:
                return DEAD
        return state

    def complete(self, state: int) -> bool:
        """The answer may end here (some stack is empty)."""
        return state != DEAD and () in self._states[state]

    def allowed(self, state: int) -> frozenset[int]:
        """The bytes that may come next."""
        got = self._allowed.get(state)
        if got is None:
            acc: set[int] = set()
            for st in self._states[state]:
                if not st:
                    continue
                top = st[0]
                node = self.nodes[top[1]]
                if top[0] == _LIT:
                    assert isinstance(node, Lit)
                    acc.add(node.data[top[2]])
                else:
                    assert isinstance(node, Chars)
                    acc |= BYTE_CLASSES[node.cls]
            got = self._allowed[state] = frozenset(acc)
        return got

    def forced(self, state: int) -> bytes:
        """The bytes every continuation starts with (empty where the model has a choice or the answer may end)."""
        got = self._forced.get(state)
        if got is None:
            out = bytearray()
            s = state
            while s != DEAD and not self.complete(s):
                allowed = self.allowed(s)
                if len(allowed) != 1:
                    break
                (b,) = allowed
                out.append(b)
                s = self.step(s, b)
            got = self._forced[state] = bytes(out)
        return got

    @property
    def n_states(self) -> int:
        return len(self._states)

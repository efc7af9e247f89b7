"""The keys the typed config allows under a path: what a one-line "unknown key" error lists.

Read from the typed config model itself (:class:`lsh_bench.config.BenchConfig`,
passed in: this module imports nothing of the package), so the list cannot
drift from what validation accepts.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel



def _unwrap(annotation: Any) -> Any:
    """``Model | None`` -> ``Model``; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _is_model(node: Any) -> bool:
    return isinstance(node, type) and issubclass(node, BaseModel)


def keys_under(root: type[BaseModel], path: list[str], conf_dir: Path | None = None) -> list[str] | None:
    """The keys allowed under ``path`` (e.g. ``["run"]``) of the app config, None if not known.

    Read from the typed config (:class:`BenchConfig`), so it cannot drift from
    what validation accepts; at the top level the config groups of ``conf/``
    (``grid``, ...) are listed too.
    """
    node: Any = root
    for part in path:
        if _is_model(node):
            field = node.model_fields.get(part)
            if field is None:
                return None
            node = _unwrap(field.annotation)
        elif typing.get_origin(node) is dict:            # dataset.<name>, classifier.<name>
            node = _unwrap(typing.get_args(node)[1])
        else:
            return None
    if not _is_model(node):
        return None
    keys = list(node.model_fields)
    if not path and conf_dir is not None and conf_dir.is_dir():
        keys = sorted(set(keys) | {p.name for p in conf_dir.iterdir() if p.is_dir() and p.name != "hydra"})
    return keys

"""The strict loader: YAML or JSON mappings -> frozen dataclasses, one clear line per problem.

Loading rejects unknown keys (with the closest valid key), values of the wrong type and unknown
names for enumerated choices (with the closest valid name), so a typo fails when a run starts,
naming the key path. ``merge_patch`` applies a profile overlay (RFC 7386 JSON merge patch).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from sentemb.errors import ConfigError

T = TypeVar("T")


def suggest(name: object, valid: Iterable[object]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest valid name, or an empty string."""
    close = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def check_value(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against type ``tp``; return it (dataclasses are built recursively)."""
    if tp is Any:
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        if value not in args or isinstance(value, bool) != any(isinstance(a, bool) for a in args):
            raise ConfigError(f"{key}: invalid value {value!r}; expected one of {', '.join(map(repr, args))}"
                              + suggest(value, map(str, args)))
        return value
    if origin in (typing.Union, types.UnionType):
        return _check_union(value, args, key)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return {str(k): check_value(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
        return [check_value(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)  # type: ignore[arg-type]
    return _check_scalar(value, tp, key)


def _check_union(value: Any, args: tuple[Any, ...], key: str) -> Any:
    if value is None and type(None) in args:
        return None
    errors = []
    for arg in (a for a in args if a is not type(None)):
        try:
            return check_value(value, arg, key)
        except ConfigError as exc:
            errors.append(str(exc))
    raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: wrong type {type(value).__name__}")


def _check_scalar(value: Any, tp: Any, key: str) -> Any:
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        # YAML 1.1 reads `3e-5` (no dot) as a string; accept it for float fields only.
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{key}: expected float, got str {value!r}") from None
    if tp in (int, float, str, bool) and type(value) is not tp:
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")
    return value


def from_dict(cls: type[T], data: Any, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types."""
    where = prefix or "params"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    kwargs = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            valid = [f"{prefix}.{n}" if prefix else n for n in names]
            raise ConfigError(f"unknown key '{dotted}'" + suggest(dotted, valid))
        kwargs[key] = check_value(value, hints[key], dotted)
    missing = [f.name for f in dataclasses.fields(cls)  # type: ignore[arg-type]
               if f.name not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"missing key '{prefix + '.' if prefix else ''}{missing[0]}'")
    try:
        return cls(**kwargs)
    except ConfigError as exc:  # a __post_init__ check: prefix it with the section's key
        raise ConfigError(f"{where}: {exc}" if prefix and not str(exc).startswith(prefix) else str(exc)) from None


def check_keys(cls: type[Any], data: Mapping[str, Any], where: str) -> None:
    """Every key of the partial mapping ``data`` (an override of ``cls``) is a field of ``cls``;
    checked before merging so that the message names the key where it was written."""
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            valid = [f"{where}.{n}" for n in names]
            raise ConfigError(f"unknown key '{where}.{key}'" + suggest(f"{where}.{key}", valid))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: mappings merge key by key, ``null`` deletes a key, anything else
    (scalars, lists) replaces. Returns a new object; neither argument is modified."""
    if not isinstance(patch, Mapping):
        return patch
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping; a missing file or a syntax error is one line naming the file (and line)."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


def params_hash(obj: Any) -> str:
    """Short stable hash of a (resolved) config section, recorded in every output's provenance."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]

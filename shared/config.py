"""Typed, frozen configuration read from ``params.yaml`` sections.

Every stage declares its section as a frozen dataclass and reads it with one call::

    @dataclass(frozen=True)
    class TrainConfig:
        steps: int = 1000
        learning_rate: float = 1e-3

    cfg = load_section("projects/pinn_ode/params.yaml", "train", TrainConfig)

Unknown keys, missing required keys and wrong types raise :class:`ConfigError`, whose
message names the key, the section and the file, so a typo in ``params.yaml`` (or in
``dvc exp run -S``) never passes silently.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A params file or section does not match its dataclass."""


def read_yaml(path: str | os.PathLike) -> dict:
    """Read a YAML mapping, with clear errors for a missing file or bad syntax.

    Returns:
        the top-level mapping; ``{}`` for an empty file.

    Raises:
        ConfigError: the file does not exist, is not valid YAML, or its top level is not a mapping.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path} must hold a mapping of sections, got {type(data).__name__}")
    return dict(data)


def project_sections(project: str, root: Path | None = None) -> frozenset[str]:
    """The params.yaml sections that the DVC stages of ``project`` declare under ``params:``.

    Read from the root ``dvc.yaml`` and ``projects/<project>/dvc.yaml``; a section ``a.b`` counts as ``a``.
    Empty when no stage declares any (the check in :func:`load_section` is then skipped).
    """
    from shared.paths import repo_root

    root = root or repo_root()
    files = (root / "dvc.yaml", root / "projects" / project / "dvc.yaml")
    key = tuple((str(f), f.stat().st_mtime_ns if f.exists() else 0) for f in files)
    return _sections_cached(project, key)


@functools.cache
def _sections_cached(project: str, files: tuple[tuple[str, int], ...]) -> frozenset[str]:
    import yaml

    sections: set[str] = set()
    suffix = f"projects/{project}/params.yaml"
    for file, _ in files:
        if not Path(file).exists():
            continue
        stages = (yaml.safe_load(Path(file).read_text(encoding="utf-8")) or {}).get("stages") or {}
        for stage in stages.values():
            for entry in stage.get("params") or []:
                if isinstance(entry, Mapping):
                    for name, keys in entry.items():
                        if str(name).endswith(suffix):
                            sections |= {str(k).split(".")[0] for k in keys or []}
    return frozenset(sections)


def check_sections(params: Mapping[str, Any], path: str | os.PathLike, project: str) -> None:
    """Refuse top-level sections of a project's params file that no DVC stage of the project reads.

    Raises:
        ConfigError: naming the unknown section(s), the file and the sections that exist.
    """
    known = project_sections(project)
    if not known:
        return
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"unknown section{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} in "
                          f"{path}; the stages of {project} read: {', '.join(sorted(known))}")


def load_section(path: str | os.PathLike, section: str, cls: type[T]) -> T:
    """Build ``cls`` from ``section`` of the YAML file at ``path``.

    For a config class of a project (module ``projects.<name>...``), the file's other top-level sections are
    checked too: a section that no DVC stage of the project reads (a typo such as ``trian``) is an error.

    Raises:
        ConfigError: the file is missing or not YAML, a section or key is unknown, a required key is missing,
            or a value has the wrong type.
    """
    params = read_yaml(path)
    module = getattr(cls, "__module__", "") or ""
    if module.startswith("projects.") and module.count(".") >= 2:
        check_sections(params, path, module.split(".")[1])
    if section not in params:
        if all(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
               for f in dataclasses.fields(cls)):
            return cls()
        raise ConfigError(f"section '{section}' missing from {path} (sections: {sorted(params)})")
    return from_mapping(cls, params[section] or {}, where=f"section '{section}' of {path}")


def from_mapping(cls: type[T], mapping: Mapping[str, Any], where: str = "config") -> T:
    """Recursively convert a mapping into the (frozen) dataclass ``cls``.

    Raises:
        TypeError: ``cls`` is not a dataclass.
        ConfigError: ``mapping`` is not a mapping, has a key that is not a field, lacks a field without a
            default, holds a value of the wrong type, or the dataclass rejects the values (a ``TypeError`` or
            ``ValueError`` of its ``__post_init__``). ``where`` is named in the message.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {type(mapping).__name__}: {mapping!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(repr(k) for k in unknown)} "
            f"in {where}; known keys: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, field in fields.items():
        if name in mapping:
            kwargs[name] = _coerce(mapping[name], hints[name], f"'{name}' in {where}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"required key '{name}' missing from {where}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # __post_init__ validation
        raise ConfigError(f"invalid {where}: {exc}") from exc


def to_dict(cfg: Any) -> dict:
    """The inverse of :func:`from_mapping` (tuples become lists, for YAML and JSON)."""

    def plain(value):
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, Mapping):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(cfg)


def replace(cfg: T, **changes: Any) -> T:
    """``dataclasses.replace`` that validates, and merges a dict into a nested dataclass field.

    A mapping given for a nested *dataclass* field updates only the keys it names; a mapping
    given for a plain ``dict`` field replaces it (so a dict field can also be emptied).

    Raises:
        ConfigError: a change names an unknown field, has the wrong type, or fails the dataclass's validation
            (see :func:`from_mapping`).
    """
    merged = to_dict(cfg)
    nested = {f.name for f in dataclasses.fields(cfg) if dataclasses.is_dataclass(getattr(cfg, f.name))}
    for key, value in changes.items():
        if key in nested and isinstance(value, Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = to_dict(value) if dataclasses.is_dataclass(value) else value
    return from_mapping(type(cfg), merged, where=f"{type(cfg).__name__} override")


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} matches none of {hint}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where} must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, where=where)
    if origin in (tuple, list, typing.Sequence) or hint in (tuple, list):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            items = [_coerce(v, args[0], where) for v in value]
        elif origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{where} must have {len(args)} items, got {len(value)}: {value!r}")
            items = [_coerce(v, a, where) for v, a in zip(value, args)]
        else:
            items = [_coerce(v, args[0], where) if args else v for v in value]
        return tuple(items)
    if origin in (dict, Mapping) or hint is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        if args:
            return {_coerce(k, args[0], where): _coerce(v, args[1], where) for k, v in value.items()}
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            # YAML reads 1e-3 (no dot) as a string; accept numeric strings.
            try:
                return float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{where} must be a number, got {value!r}") from None
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    return value

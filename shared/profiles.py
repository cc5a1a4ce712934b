"""Real-data profiles: named sets of param overrides kept beside a project's params.

``projects/<name>/profiles.yaml`` maps a profile name to what it needs and what it changes::

    gistemp:
      description: GISTEMP v4 global means (NASA), annual        # one line
      requires:                                                 # files that must exist before anything runs
        - path: data/climate_forecast/external/GLB.Ts+dSST.csv  # relative to the repo root; glob patterns allowed
          source: https://data.giss.nasa.gov/gistemp/tabledata_v4/GLB.Ts+dSST.csv
      params:                                                   # dotted keys of params.yaml -> values
        data.source: gistemp

``capstone run PROJECT --profile NAME`` checks the files, then runs the project's pipeline as a DVC experiment
with the overrides (``dvc exp run -S ...``), so ``dvc exp show`` compares it with the default run.
"""

from __future__ import annotations

import glob
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.config import ConfigError, read_yaml
from shared.io import DataError
from shared.paths import repo_root

_PROFILE_KEYS = {"description", "requires", "params"}
_REQUIRE_KEYS = {"path", "source", "note"}


@dataclass(frozen=True)
class Requirement:
    """A file (or glob pattern) a profile needs, and where to get it."""

    path: str
    source: str = ""
    note: str = ""

    def present(self, root: Path) -> bool:
        return bool(glob.glob(str(root / self.path)))

    def describe(self) -> str:
        text = self.path
        if self.source:
            text += f" (from {self.source})"
        if self.note:
            text += f"; {self.note}"
        return text


@dataclass(frozen=True)
class Profile:
    """One profile of ``profiles.yaml``: its files and its param overrides (dotted keys)."""

    project: str
    name: str
    description: str
    requires: tuple[Requirement, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    def missing(self, root: Path | None = None) -> list[Requirement]:
        root = root or repo_root()
        return [r for r in self.requires if not r.present(root)]

    def overrides(self) -> dict[str, str]:
        """``{dotted key: value as YAML}`` for ``dvc exp run -S``.

        A non-empty mapping value is split into one override per leaf (``data.covariates: {enso: psl}`` becomes
        ``data.covariates.enso=psl``): it is merged key by key into params.yaml, so a leaf that params.yaml lacks
        (an empty ``covariates: {}``, for one) can be added with DVC's ``++`` instead of failing Hydra's struct check.
        """
        import yaml

        def leaves(prefix: str, value: Any):
            if isinstance(value, Mapping) and value:
                for key, item in value.items():
                    yield from leaves(f"{prefix}.{key}", item)
            else:
                yield prefix, value

        flat = [leaf for dotted, top in self.params.items() for leaf in leaves(dotted, top)]
        return {key: yaml.safe_dump(value, default_flow_style=True, width=1 << 20).strip().removesuffix("\n...")
                .removesuffix("...").strip() for key, value in flat}

    def experiment_name(self) -> str:
        return f"{self.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def profiles_path(project: str, root: Path | None = None) -> Path:
    return (root or repo_root()) / "projects" / project / "profiles.yaml"


def read_profiles(project: str, root: Path | None = None) -> dict[str, Profile]:
    """Every profile of a project (an empty mapping where it has no ``profiles.yaml``).

    Raises:
        ConfigError: a profile or requirement has an unknown key, no description, or params that are not a mapping.
    """
    path = profiles_path(project, root)
    if not path.exists():
        return {}
    profiles = {}
    for name, body in read_yaml(path).items():
        where = f"profile {name!r} of {path}"
        if not isinstance(body, Mapping):
            raise ConfigError(f"{where} must be a mapping with description, requires and params")
        unknown = set(body) - _PROFILE_KEYS
        if unknown:
            raise ConfigError(f"unknown key(s) {sorted(unknown)} in {where}; allowed: {sorted(_PROFILE_KEYS)}")
        if not body.get("description"):
            raise ConfigError(f"{where} has no description")
        reqs = []
        for item in body.get("requires") or []:
            item = {"path": item} if isinstance(item, str) else item
            if not isinstance(item, Mapping) or "path" not in item or set(item) - _REQUIRE_KEYS:
                raise ConfigError(f"{where}: each entry of 'requires' needs 'path' (and may have source, note)")
            reqs.append(Requirement(**{k: str(v) for k, v in item.items()}))
        params = body.get("params") or {}
        if not isinstance(params, Mapping):
            raise ConfigError(f"{where}: 'params' must map dotted keys to values")
        profiles[str(name)] = Profile(project, str(name), str(body["description"]), tuple(reqs), dict(params))
    return profiles


def load_profile(project: str, name: str, root: Path | None = None) -> Profile:
    """The profile ``name`` of ``project``, checked to have every file it needs.

    Raises:
        ConfigError: no such profile (the message lists the project's profiles).
        DataError: files it needs are missing; the message lists each one with where to get it.
    """
    profiles = read_profiles(project, root)
    if name not in profiles:
        raise ConfigError(f"{project} has no profile {name!r}; profiles: {', '.join(profiles) or 'none'} "
                          f"(see {profiles_path(project, root).relative_to(root or repo_root())})")
    profile = profiles[name]
    missing = profile.missing(root)
    if missing:
        files = "; ".join(r.describe() for r in missing)
        raise DataError(f"profile {name!r} of {project} needs file(s) that are missing, put them there first: {files}")
    return profile


def describe(project: str, root: Path | None = None) -> str:
    """A human-readable list of a project's profiles, with the files each needs and whether they are present."""
    root = root or repo_root()
    lines = []
    for profile in read_profiles(project, root).values():
        missing = set(profile.missing(root))
        state = "ready" if not missing else "files missing"
        lines.append(f"{profile.name}: {profile.description} [{state}]")
        for req in profile.requires:
            lines.append(f"    {'ok     ' if req not in missing else 'MISSING'} {req.describe()}")
        for key, value in profile.params.items():
            lines.append(f"    -S {key}={value}")
    return "\n".join(lines) or f"{project} has no profiles"

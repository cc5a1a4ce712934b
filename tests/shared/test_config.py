from dataclasses import dataclass, field
from typing import Literal

import pytest

from shared.config import ConfigError, from_mapping, load_section, replace, to_dict


@dataclass(frozen=True)
class Inner:
    width: int = 8
    rate: float = 0.1


@dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner = field(default_factory=Inner)
    sizes: tuple[int, ...] = (1, 2)
    mode: Literal["a", "b"] = "a"
    extra: dict[str, float] = field(default_factory=dict)
    flag: bool = False


def test_nested_and_types(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("stage:\n  name: x\n  inner: {width: 4, rate: 1e-3}\n  sizes: [3]\n  mode: b\n  extra: {k: 2}\n")
    cfg = load_section(path, "stage", Outer)
    assert cfg == Outer(name="x", inner=Inner(4, 1e-3), sizes=(3,), mode="b", extra={"k": 2.0})
    assert to_dict(cfg)["inner"] == {"width": 4, "rate": 1e-3}


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("stage:\n  name: x\n  inner: {widht: 4}\n")
    with pytest.raises(ConfigError) as err:
        load_section(path, "stage", Outer)
    message = str(err.value)
    assert "'widht'" in message and str(path) in message and "'inner'" in message and "width" in message


@pytest.mark.parametrize("bad, fragment", [
    ({"name": 3}, "must be a string"),
    ({"name": "x", "flag": "yes"}, "true or false"),
    ({"name": "x", "mode": "c"}, "one of"),
    ({"name": "x", "sizes": 3}, "must be a list"),
    ({"name": "x", "inner": {"width": 1.5}}, "integer"),
    ({}, "required key 'name'"),
])
def test_type_errors(bad, fragment):
    with pytest.raises(ConfigError, match=fragment):
        from_mapping(Outer, bad, where="test")


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_section(tmp_path / "nope.yaml", "s", Inner)
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_section(bad, "a", Inner)


def test_missing_section_uses_defaults_only_when_possible(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("other: {}\n")
    assert load_section(path, "inner", Inner) == Inner()
    with pytest.raises(ConfigError, match="section 'outer' missing"):
        load_section(path, "outer", Outer)


def test_replace_validates():
    cfg = Outer(name="x", extra={"a": 1.0})
    assert replace(cfg, inner={"width": 2}).inner == Inner(2, 0.1)  # nested dataclass: merged
    assert replace(cfg, extra={}).extra == {}  # plain dict: replaced
    with pytest.raises(ConfigError, match="'nope'"):
        replace(cfg, nope=1)

"""Property-based fuzzing of what pinn_ode parses from a user's text and files (issue 17 §C): the ``solve``
command's ``--param NAME=VALUE`` and ``--set SECTION.KEY=VALUE`` items (then the problem they build), and the
prepared folder (``manifest.json`` + ``<problem>.npz``) that :func:`load_prepared` validates.

Property: a result OR :class:`~shared.io.DataError` (``ProblemError``) / :class:`~shared.config.ConfigError`;
anything else is a crash. No TensorFlow: ``pinn.py``/``cases.py`` import it at module level, so the ``--set``
values are checked only as far as ``cli._parse_sets`` (the PINN configs' own validation is not fuzzed here).
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from projects.pinn_ode.cli import _parse_params, _parse_sets
from projects.pinn_ode.problems import BUILTIN, get_problem, load_prepared
from shared.config import ConfigError
from shared.io import DataError

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
ERRORS = (DataError, ConfigError)

_NAMES = st.sampled_from(["xi", "omega", "k", "r", "K", "mu", "beta", "gamma", "alpha", "delta", "", " ", "xi ",
                          "=", "é", "__class__", "t_span"])
_VALUES = st.sampled_from(["0.2", "-1", "0", "1e308", "1e999", "nan", "inf", "-inf", "", "x", "0x10", "1_000",
                           "１", " 2 ", "1e-320", "=3", "[1]"])


@SETTINGS
@given(problem=st.sampled_from(sorted(BUILTIN) + ["nope", ""]),
       items=st.lists(st.tuples(_NAMES, st.sampled_from(["=", "", "=="]), _VALUES).map("".join), max_size=3)
       | st.lists(st.text(max_size=12), max_size=2))
def test_fuzz_param_items(problem, items):
    try:
        params = _parse_params(items)
        built = get_problem(problem, **params)
    except ERRORS:
        return
    assert all(math.isfinite(v) for v in built.params.values())
    dy = np.asarray(built.rhs(built.t_span[0], np.asarray(built.y0, float), built.params), dtype=float)
    assert dy.shape == (len(built.y0),)


_SET_VALUES = st.sampled_from(["1", "0.5", "[", "]", "{a: 1", "- x", "!!python/object:os.system", "'", '"', "a: b: c",
                               "*alias", "&a [1]", "null", "1e999", ":", "@", "`", "%TAG", "---", "...", "\t"])


@SETTINGS
@given(items=st.lists(st.tuples(st.sampled_from(["network.", "training.", "data.", "", "network", "training..x"]),
                                 st.sampled_from(["width", "depth", "adam_steps", "", "x.y"]),
                                 st.sampled_from(["=", ""]), _SET_VALUES).map("".join), max_size=3))
@example(items=["network.width=["])  # yaml ScannerError before the fix
@example(items=["training.lr=!!python/object:os.system"])  # yaml ConstructorError before the fix
def test_fuzz_set_items(items):
    try:
        changes = _parse_sets(items)
    except ERRORS:
        return
    assert set(changes) <= {"network", "training"}


def _npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


_GOOD = {"t": np.linspace(0, 1, 5), "y": np.ones((5, 1)), "param_values": np.ones(2), "y_param": np.ones((2, 5, 1)),
         "obs_t": np.ones(3), "obs_y": np.ones((3, 1)), "obs_components": np.zeros(1, int)}
_MANIFESTS = st.sampled_from([{"problems": {"exponential_decay": {"t_span": [0, 1]}}}, {"problems": []},
                              {"problems": ["exponential_decay"]}, {"problems": None},
                              {"problems": "exponential_decay"},
                              [], None, 1, "x", {}, {"problems": {"exponential_decay": None}}])


@st.composite
def prepared(draw):
    arrays = dict(_GOOD)
    op = draw(st.sampled_from(["none", "drop", "nan", "object", "empty"]))
    key = draw(st.sampled_from(sorted(_GOOD)))
    if op == "drop":
        del arrays[key]
    elif op == "nan":
        arrays[key] = np.full(np.shape(arrays[key]), np.nan)
    elif op == "object":
        arrays[key] = np.array(["a", "b"])
    elif op == "empty":
        arrays[key] = np.zeros((0,))
    npz = _npz_bytes(arrays)
    if draw(st.integers(0, 4)) == 0:
        npz = npz[:draw(st.integers(0, len(npz)))]
    manifest = draw(_MANIFESTS)
    text = json.dumps(manifest)
    if draw(st.integers(0, 5)) == 0:
        text = text[:draw(st.integers(0, len(text)))]
    return text.encode(), npz


@SETTINGS
@given(files=prepared())
@example(files=(b"[]", _npz_bytes(_GOOD)))  # AttributeError before the fix
@example(files=(b'{"problems": null}', _npz_bytes(_GOOD)))  # TypeError before the fix
@example(files=(b'{"problems": ["exponential_decay"]}', _npz_bytes(_GOOD)))  # TypeError before the fix
# TypeError in np.isfinite before the fix
@example(files=(b'{"problems": {"exponential_decay": {}}}', _npz_bytes({**_GOOD, "obs_y": np.array(["a"])})))
def test_fuzz_load_prepared(files, tmp_path_factory):
    folder = tmp_path_factory.mktemp("prepared")
    (folder / "manifest.json").write_bytes(files[0])
    (folder / "exponential_decay.npz").write_bytes(files[1])
    try:
        meta, arrays = load_prepared(folder, "exponential_decay")
    except ERRORS:
        return
    assert isinstance(meta, dict) and all(np.all(np.isfinite(arrays[k])) for k in ("y", "y_param", "obs_y"))

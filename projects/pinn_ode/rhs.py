"""A right-hand side written for ``scipy.integrate.solve_ivp``, evaluated on a batch of points.

A PINN evaluates ``f(t, y, p)`` on all collocation points at once, as TensorFlow tensors, while a
user writes ``rhs`` the way ``solve_ivp`` taught them: for one scalar ``t`` and one state vector
``y``, with NumPy functions, Python ``if`` statements and ``return np.array([...])``. This module
runs such a function unchanged on a batch, by calling it with stand-ins:

* ``t`` and every component ``y[i]`` are :class:`Var` objects holding an ``(N, 1)`` column. They
  take part in arithmetic, comparisons, NumPy ufuncs (``np.sin(t)`` dispatches through
  ``__array_ufunc__``), ``np.where``/``np.clip`` (``__array_function__``), ``keras.ops`` (they
  convert to tensors through ``__tf_tensor__``) and Python's ``abs``, ``min`` and ``max``;
* ``y`` itself is a NumPy object array of those columns, so ``y[0]``, ``x, v = y``, a vectorised
  ``-k * y``, ``A @ y``, ``np.zeros_like(y)`` and ``return np.array([...])`` all work;
* a Python branch on the batch (``if t < 2.0:``, ``a if y[0] > 0 else b``, ``and``/``or``, ``min``)
  is resolved by running ``rhs`` once per path through its branches and selecting each path's
  result where its conditions hold (``where``), so piecewise right-hand sides are exact
  (at most :data:`MAX_PATHS` paths).

What cannot work is refused with a one-line :class:`RhsError` that says what to write instead:
turning ``t`` or ``y`` into a Python number (``float(t)``, ``math.sin(t)``, filling ``np.zeros(2)``),
NumPy functions without a TensorFlow counterpart, and side effects that make the batch result
differ from the point-by-point one (checked by :func:`check_vectorized` at ``ODEProblem()``).

NumPy is the backend of that check (no TensorFlow import); :func:`evaluate_tf` is the one the
PINN uses. Both give one ``(N, 1)`` column per component.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

#: most paths through the branches of ``rhs`` that are resolved (2 per independent ``if``)
MAX_PATHS = 64

_ARITHMETIC = {"add", "subtract", "multiply", "divide", "true_divide", "power", "float_power", "maximum",
               "minimum", "fmax", "fmin", "arctan2", "hypot", "mod", "remainder", "fmod", "floor_divide",
               "heaviside", "copysign"}
_LOGICAL = {"logical_and", "logical_or", "logical_xor"}
_UNARY = ("sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
          "arctanh", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "square",
          "absolute", "fabs", "sign", "negative", "positive", "reciprocal", "floor", "ceil", "rint", "trunc",
          "deg2rad", "rad2deg", "radians", "degrees", "logical_not")
_HINT = ("write rhs with arithmetic, NumPy ufuncs (np.sin, np.exp) or keras.ops, branches as Python if/else or "
         "np.where(cond, a, b), and return a list or np.array of the components")


class RhsError(ValueError):
    """``rhs`` cannot be evaluated on a batch of points; the message says what to write instead."""


# --------------------------------------------------------------------------- backends
class _NumpyBackend:
    """The check at ``ODEProblem()``: columns are float64 NumPy arrays."""

    def operand(self, value: Any) -> np.ndarray:
        arr = np.asarray(value)
        return arr if arr.dtype == bool else arr.astype(float)

    def ufunc(self, name: str) -> Callable[..., Any]:
        fn = getattr(np, name, None)
        if not isinstance(fn, np.ufunc):
            raise RhsError(f"np.{name} is not supported on t or y; {_HINT}")
        return fn

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return np.where(cond, a, b)

    def column(self, value: Any, n: int) -> np.ndarray:
        arr = np.asarray(value, dtype=float)
        return np.broadcast_to(arr.reshape(-1, 1) if arr.ndim else arr, (n, 1)).copy()

    def tensor(self, value: Any) -> Any:
        import tensorflow as tf

        return tf.convert_to_tensor(value)


class _TFBackend:
    """The PINN's residual: columns are TensorFlow tensors of one float dtype."""

    def __init__(self, dtype: Any):
        import tensorflow as tf

        self.tf, self.dtype = tf, tf.as_dtype(dtype)
        m = tf.math
        self.fns: dict[str, Callable[..., Any]] = {
            "sin": m.sin, "cos": m.cos, "tan": m.tan, "arcsin": m.asin, "arccos": m.acos, "arctan": m.atan,
            "sinh": m.sinh, "cosh": m.cosh, "tanh": m.tanh, "arcsinh": m.asinh, "arccosh": m.acosh,
            "arctanh": m.atanh, "exp": m.exp, "exp2": lambda x: m.pow(tf.constant(2.0, x.dtype), x),
            "expm1": m.expm1, "log": m.log, "log2": lambda x: m.log(x) / math.log(2.0),
            "log10": lambda x: m.log(x) / math.log(10.0), "log1p": m.log1p, "sqrt": m.sqrt,
            "cbrt": lambda x: m.sign(x) * m.pow(m.abs(x), 1.0 / 3.0), "square": m.square, "absolute": m.abs,
            "fabs": m.abs, "sign": m.sign, "negative": m.negative, "positive": tf.identity,
            "reciprocal": m.reciprocal, "floor": m.floor, "ceil": m.ceil, "rint": m.rint,
            "trunc": lambda x: m.sign(x) * m.floor(m.abs(x)),
            "deg2rad": lambda x: x * (math.pi / 180), "radians": lambda x: x * (math.pi / 180),
            "rad2deg": lambda x: x * (180 / math.pi), "degrees": lambda x: x * (180 / math.pi),
            "add": m.add, "subtract": m.subtract, "multiply": m.multiply, "divide": m.divide,
            "true_divide": m.divide, "power": m.pow, "float_power": m.pow, "maximum": m.maximum,
            "minimum": m.minimum, "fmax": m.maximum, "fmin": m.minimum, "arctan2": m.atan2,
            "hypot": lambda a, b: m.sqrt(a * a + b * b), "mod": m.floormod, "remainder": m.floormod,
            "fmod": m.floormod, "floor_divide": m.floordiv, "copysign": lambda a, b: m.abs(a) * m.sign(b),
            "heaviside": lambda x, h: tf.where(x > 0, tf.ones_like(x), tf.where(x < 0, tf.zeros_like(x), h + 0 * x)),
            "greater": m.greater, "greater_equal": m.greater_equal, "less": m.less, "less_equal": m.less_equal,
            "equal": m.equal, "not_equal": m.not_equal, "logical_and": m.logical_and, "logical_or": m.logical_or,
            "logical_xor": m.logical_xor, "logical_not": m.logical_not,
        }

    def operand(self, value: Any) -> Any:
        tf = self.tf
        if isinstance(value, (bool, np.bool_)) or (isinstance(value, np.ndarray) and value.dtype == bool):
            return tf.constant(value)
        if tf.is_tensor(value) or isinstance(value, tf.Variable):
            return value if value.dtype in (tf.bool, self.dtype) else tf.cast(value, self.dtype)
        return tf.constant(np.asarray(value, dtype=float), self.dtype)

    def ufunc(self, name: str) -> Callable[..., Any]:
        fn = self.fns.get(name)
        if fn is None:
            raise RhsError(f"np.{name} has no TensorFlow counterpart here; {_HINT}")
        tf = self.tf
        if name in _ARITHMETIC:  # booleans (t < 2) take part in arithmetic as 0/1
            return lambda *a: fn(*(tf.cast(x, self.dtype) if x.dtype == tf.bool else x for x in a))
        if name in _LOGICAL or name == "logical_not":
            return lambda *a: fn(*(x if x.dtype == tf.bool else tf.not_equal(x, 0) for x in a))
        return lambda *a: fn(*(tf.cast(x, self.dtype) if x.dtype == tf.bool else x for x in a))

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        tf = self.tf
        if cond.dtype != tf.bool:
            cond = tf.not_equal(cond, 0)
        a, b = (tf.cast(v, self.dtype) if v.dtype == tf.bool else v for v in (a, b))
        shape = tf.broadcast_dynamic_shape(tf.broadcast_dynamic_shape(tf.shape(cond), tf.shape(a)), tf.shape(b))
        return tf.where(tf.broadcast_to(cond, shape), tf.broadcast_to(a, shape), tf.broadcast_to(b, shape))

    def column(self, value: Any, n: Any) -> Any:
        tf = self.tf
        value = self.operand(value)
        if value.dtype == tf.bool:
            value = tf.cast(value, self.dtype)
        if value.shape.rank:
            value = tf.reshape(value, [-1, 1])
        return tf.broadcast_to(value, tf.stack([n, 1]))

    def tensor(self, value: Any) -> Any:
        return value


# --------------------------------------------------------------------------- the stand-in
class Var:
    """A column ``(N, 1)`` (or a scalar parameter) standing in for a float inside ``rhs``."""

    __slots__ = ("x", "tracer")
    __array_priority__ = 1000
    __hash__ = None  # comparisons return Vars, so Vars are not hashable

    def __init__(self, x: Any, tracer: _Tracer):
        self.x, self.tracer = x, tracer

    # -- NumPy protocols ---------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """A NumPy ufunc (``np.sin(y[0])``) applied through the backend, element by element on arrays.

        Raises:
            RhsError: a ufunc method other than a plain call (``reduce``, ``accumulate``, ...), or ``out=``.
        """
        if method != "__call__" or kwargs.get("out") is not None:
            raise RhsError(f"np.{ufunc.__name__}.{method} (or out=) is not supported on t or y; {_HINT}")
        if any(isinstance(v, np.ndarray) and v.ndim for v in inputs):  # an array of components: element by element
            return np.frompyfunc(lambda *a: ufunc(*a), ufunc.nin, 1)(*(_boxed(v) for v in inputs))
        backend = self.tracer.backend
        return Var(backend.ufunc(ufunc.__name__)(*(self.tracer.operand(v) for v in inputs)), self.tracer)

    def __array_function__(self, func, types, args, kwargs):
        """``np.where(cond, a, b)`` and ``np.clip`` on stand-ins; other NumPy functions are refused.

        Raises:
            RhsError: any other NumPy function applied to a stand-in (when no argument is an ndarray; with an
                ndarray argument ``NotImplemented`` is returned and NumPy raises ``TypeError``).
        """
        name = func.__name__
        if name == "where" and len(args) + len(kwargs) == 3:
            cond, a, b = args
            op = self.tracer.operand
            return Var(self.tracer.backend.where(op(cond), op(a), op(b)), self.tracer)
        if name == "clip":
            a, lo, hi = (list(args) + [kwargs.get("a_min"), kwargs.get("a_max")])[:3]
            out = a
            if lo is not None:
                out = np.maximum(out, lo)
            if hi is not None:
                out = np.minimum(out, hi)
            return out
        if any(isinstance(v, np.ndarray) for v in args):
            return NotImplemented
        raise RhsError(f"np.{name} is not supported on t or y; {_HINT}")

    def __tf_tensor__(self, dtype=None, name=None):
        import tensorflow as tf

        return tf.convert_to_tensor(self.tracer.backend.tensor(self.x), dtype=dtype, name=name)

    # -- Python numbers are what a batch cannot become --------------------------------------
    def _no_number(self, *_: Any) -> Any:
        raise RhsError("rhs turns t or y into a single Python number (float(), int(), math.sin, or a float array "
                       "such as np.zeros(2) filled with components); use np.sin instead of math.sin and a list, "
                       "np.array([...]) or np.zeros_like(y) for the result")

    __float__ = __int__ = __index__ = __complex__ = _no_number

    def __bool__(self) -> bool:
        return self.tracer.decide(self)

    def __repr__(self) -> str:
        return f"Var({getattr(self.x, 'shape', ())})"

    # -- operators ----------------------------------------------------------------------
    def _op(self, other: Any, name: str, reflected: bool = False) -> Any:
        if isinstance(other, (np.ndarray, list, tuple)):
            return NotImplemented  # NumPy applies the ufunc element by element
        a, b = self.x, self.tracer.operand(other)
        if reflected:
            a, b = b, a
        return Var(self.tracer.backend.ufunc(name)(a, b), self.tracer)

    def __add__(self, o): return self._op(o, "add")
    def __radd__(self, o): return self._op(o, "add", True)
    def __sub__(self, o): return self._op(o, "subtract")
    def __rsub__(self, o): return self._op(o, "subtract", True)
    def __mul__(self, o): return self._op(o, "multiply")
    def __rmul__(self, o): return self._op(o, "multiply", True)
    def __truediv__(self, o): return self._op(o, "divide")
    def __rtruediv__(self, o): return self._op(o, "divide", True)
    def __floordiv__(self, o): return self._op(o, "floor_divide")
    def __rfloordiv__(self, o): return self._op(o, "floor_divide", True)
    def __mod__(self, o): return self._op(o, "mod")
    def __rmod__(self, o): return self._op(o, "mod", True)
    def __pow__(self, o): return self._op(o, "power")
    def __rpow__(self, o): return self._op(o, "power", True)
    def __lt__(self, o): return self._op(o, "less")
    def __le__(self, o): return self._op(o, "less_equal")
    def __gt__(self, o): return self._op(o, "greater")
    def __ge__(self, o): return self._op(o, "greater_equal")
    def __eq__(self, o): return self._op(o, "equal")  # noqa: PLE0307
    def __ne__(self, o): return self._op(o, "not_equal")
    def __and__(self, o): return self._op(o, "logical_and")
    def __rand__(self, o): return self._op(o, "logical_and", True)
    def __or__(self, o): return self._op(o, "logical_or")
    def __ror__(self, o): return self._op(o, "logical_or", True)
    def __neg__(self): return Var(self.tracer.backend.ufunc("negative")(self.x), self.tracer)
    def __pos__(self): return self
    def __abs__(self): return Var(self.tracer.backend.ufunc("absolute")(self.x), self.tracer)
    def __invert__(self): return Var(self.tracer.backend.ufunc("logical_not")(self.x), self.tracer)


def _boxed(value: Any) -> Any:
    """A Var as a 0-d object array, so that NumPy loops over it without asking it to dispatch again."""
    if not isinstance(value, Var):
        return value
    box = np.empty((), dtype=object)
    box[()] = value
    return box


def _unary_method(name: str) -> Callable[[Var], Var]:
    # NumPy applies a ufunc to an object array (y) by calling the element's method of that name
    def method(self: Var) -> Var:
        return Var(self.tracer.backend.ufunc(name)(self.x), self.tracer)

    method.__name__ = name
    return method


for _name in _UNARY:
    setattr(Var, _name, _unary_method(_name))
Var.abs = _unary_method("absolute")


# --------------------------------------------------------------------------- branches
class _Tracer:
    """Runs ``rhs`` on stand-ins, once per path through its branches on the batch."""

    def __init__(self, backend: Any):
        self.backend = backend
        self.decisions: list[bool] = []
        self.taken: list[tuple[Any, bool]] = []

    def operand(self, value: Any) -> Any:
        return value.x if isinstance(value, Var) else self.backend.operand(value)

    def decide(self, cond: Var) -> bool:
        i = len(self.taken)
        choice = self.decisions[i] if i < len(self.decisions) else True
        self.taken.append((cond.x, choice))
        if len(self.taken) > 4 * MAX_PATHS:
            raise RhsError(f"rhs branches on t or y in a loop (more than {4 * MAX_PATHS} decisions); write the "
                           f"branches with np.where(cond, a, b)")
        return choice

    def run(self, rhs: Callable, t: Any, ys: Sequence[Any], params: Mapping[str, Any], n: Any) -> list[Any]:
        y = np.empty(len(ys), dtype=object)
        for i, col in enumerate(ys):
            y[i] = Var(col, self)
        p = {k: Var(self.backend.operand(v), self) for k, v in params.items()}
        paths: list[tuple[Any, list[Any]]] = []
        pending: list[list[bool]] = [[]]
        while pending:
            self.decisions, self.taken = pending.pop(), []
            out = _components(rhs(Var(t, self), y, dict(p)), len(ys))
            cols = [self.backend.column(self.operand(c), n) for c in out]
            mask = None
            for cond, choice in self.taken:
                c = self.operand(Var(cond, self) if choice else ~Var(cond, self))
                if getattr(c, "dtype", None) is not None and str(c.dtype) != "bool":
                    c = self.backend.ufunc("not_equal")(c, self.backend.operand(0.0))
                mask = c if mask is None else self.backend.ufunc("logical_and")(mask, c)
            paths.append((mask, cols))
            chosen = [choice for _, choice in self.taken]
            for i in range(len(self.decisions), len(chosen)):
                pending.append(chosen[:i] + [not chosen[i]])
            if len(paths) + len(pending) > MAX_PATHS:
                raise RhsError(f"rhs has more than {MAX_PATHS} paths through its branches on t or y; write the "
                               f"branches with np.where(cond, a, b)")
        result = paths[-1][1]
        for mask, cols in reversed(paths[:-1]):
            result = [self.backend.where(mask, a, b) for a, b in zip(cols, result)]
        return result


def _components(out: Any, dim: int) -> list[Any]:
    if isinstance(out, np.ndarray):
        items = list(out.reshape(-1)) if out.ndim else [out.item() if out.dtype != object else out[()]]
    elif isinstance(out, (list, tuple)):
        items = list(out)
    elif dim == 1:
        items = [out]
    else:
        raise RhsError(f"rhs returned {type(out).__name__}; return a list or np.array with one entry per component")
    if len(items) != dim:
        raise RhsError(f"rhs returns {len(items)} component(s) but y0 has {dim}")
    flat = []
    for item in items:
        if isinstance(item, np.ndarray) and item.dtype == object:
            if item.size != 1:
                raise RhsError("rhs returns nested arrays; return one expression per component")
            item = item.reshape(-1)[0]
        flat.append(item)
    return flat


# --------------------------------------------------------------------------- entry points
def evaluate_tf(rhs: Callable, t: Any, ys: Sequence[Any], params: Mapping[str, Any]) -> list[Any]:
    """``f(t, y, p)`` on a batch, as TensorFlow tensors.

    Args:
        rhs: the user's ``rhs(t, y, p)`` (written for scalars, as for ``solve_ivp``).
        t: time, a float tensor of shape ``(N, 1)``.
        ys: one ``(N, 1)`` tensor per component of the state.
        params: parameter name → scalar or ``(N, 1)`` tensor (or Python float).

    Returns:
        One ``(N, 1)`` tensor of ``t``'s dtype per component.

    Raises:
        RhsError: ``rhs`` does something a batch cannot (the message says what to write instead).
    """
    import tensorflow as tf

    tracer = _Tracer(_TFBackend(t.dtype))
    return tracer.run(rhs, t, ys, params, tf.shape(t)[0])


def evaluate_numpy(rhs: Callable, t: np.ndarray, y: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """``f(t, y, p)`` on a batch through the stand-ins, with NumPy: ``t`` ``(N,)``, ``y`` ``(N, dim)`` → ``(N, dim)``.

    Raises:
        RhsError: as :func:`evaluate_tf`.
    """
    t = np.asarray(t, dtype=float).reshape(-1, 1)
    y = np.asarray(y, dtype=float)
    cols = _Tracer(_NumpyBackend()).run(rhs, t, [y[:, i:i + 1] for i in range(y.shape[1])], params, t.shape[0])
    return np.concatenate(cols, axis=1)


def check_vectorized(rhs: Callable, t_span: tuple[float, float], y0: np.ndarray, params: Mapping[str, float],
                     n: int = 16, seed: int = 0) -> None:
    """Check that ``rhs`` gives on a batch what it gives point by point (the ``solve_ivp`` way).

    The points are ``n`` times spread over ``t_span`` with states near ``y0`` (a few per cent off).

    Raises:
        RhsError: the batch evaluation fails or differs from the point-by-point one.
    """
    rng = np.random.default_rng(seed)
    t0, t1 = t_span
    t = np.sort(np.concatenate([[t0, t1], rng.uniform(t0, t1, n - 2)]))
    y0 = np.asarray(y0, dtype=float)
    y = y0 + 0.02 * (np.abs(y0) + 0.05) * rng.standard_normal((n, y0.size))
    y[0] = y0
    reference, keep = [], []
    with np.errstate(all="ignore"):
        for i in range(n):
            try:
                value = np.asarray(rhs(float(t[i]), y[i].copy(), dict(params)), dtype=float).reshape(-1)
            except Exception:  # noqa: BLE001 - a point where the user's rhs is undefined is not tested
                continue
            if value.size == y0.size and np.all(np.isfinite(value)):
                reference.append(value)
                keep.append(i)
        if not keep:
            return
        try:
            batch = evaluate_numpy(rhs, t[keep], y[keep], params)
        except RhsError:
            raise
        except Exception as exc:
            raise RhsError(f"rhs fails on a batch of points ({type(exc).__name__}: {exc}); {_HINT}") from None
    reference = np.array(reference)
    if batch.shape != reference.shape or not np.allclose(batch, reference, rtol=1e-6, atol=1e-9, equal_nan=True):
        diff = np.nanmax(np.abs(batch - reference)) if batch.shape == reference.shape else float("nan")
        raise RhsError(f"rhs gives other values on a batch of points than point by point (largest difference "
                       f"{diff:.3g}); it must not keep state between calls or depend on len(t); {_HINT}")

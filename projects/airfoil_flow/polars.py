"""Readers for reference polars: XFoil output, tabulated polars and wind-tunnel data.

Formats (chosen from the content, not only the suffix):

* XFoil's own polar file (``PACC`` output): a header with ``Re = 1.000 e 6``, a column line
  ``alpha CL CD CDp CM ...``, a dashed line, then the rows;
* CSV with a header (``alpha``/``alpha_deg``, ``CL``/``cl``, optional ``CD``, ``CM``, ``Re``),
  e.g. AeroSandbox's XFoil polar tables or processed wind-tunnel data;
* JSON with parallel lists (``{"alpha": [...], "CL": [...], "Re": [...]}``);
* whitespace tables with ``#`` comments (e.g. NASA's turbulence-modeling resource files of the
  Ladson NACA 0012 data), columns alpha, C_L[, C_D].

Every reader returns a DataFrame with columns ``alpha`` (deg), ``cl`` and, where present,
``cd``, ``cm`` and ``re``, and raises ``DataError`` naming the file for anything else.

The report looks for files under ``data/airfoil_flow/external/polars/<label>/`` (e.g.
``xfoil/naca0012.csv``, ``measured/NACA0012_6e6_Ladson_80grit.csv``); the airfoil is the NACA
designation in the file name, or a UIUC ``.dat`` of the same name in ``external/uiuc/``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from shared.io import DataError

ALIASES = {"alpha": "alpha", "alpha_deg": "alpha", "aoa": "alpha", "cl": "cl", "cd": "cd", "cm": "cm", "re": "re",
           "reynolds": "re", "reynolds_number": "re"}


def _normalise(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    frame = frame.rename(columns=lambda c: ALIASES.get(str(c).strip().lower(), str(c).strip().lower()))
    missing = [c for c in ("alpha", "cl") if c not in frame]
    if missing:
        raise DataError(f"{source}: no column for {missing}; columns are {list(frame.columns)}")
    keep = [c for c in ("alpha", "cl", "cd", "cm", "re") if c in frame]
    frame = frame[keep]
    try:
        frame = frame.astype(float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{source}: non-numeric polar values ({exc})") from None
    if frame[["alpha", "cl"]].isna().to_numpy().any() or not np.isfinite(frame[["alpha", "cl"]].to_numpy()).all():
        raise DataError(f"{source}: alpha or C_L contains NaN or infinite values")
    if frame.empty:
        raise DataError(f"{source}: the polar holds no rows")
    return frame.reset_index(drop=True)


def parse_xfoil(text: str, source: str = "<string>") -> pd.DataFrame:
    """XFoil's polar file: header, ``alpha CL CD ...`` column line, dashes, rows.

    Raises:
        DataError: no ``alpha CL ...`` column line, a non-numeric row, a row whose length differs from the
            columns, NaN/inf in alpha or C_L, or no rows (``source`` and the line number are named).
    """
    lines = text.splitlines()
    head = next((i for i, ln in enumerate(lines) if re.match(r"\s*alpha\s+CL\b", ln, re.I)), None)
    if head is None:
        raise DataError(f"{source}: not an XFoil polar file (no 'alpha CL ...' column line)")
    columns = lines[head].split()
    rows = []
    for number, line in enumerate(lines[head + 1:], head + 2):
        if not line.strip() or set(line.strip()) <= {"-", " "}:
            continue
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            raise DataError(f"{source}, line {number}: non-numeric polar row {line.strip()!r}") from None
        if len(values) != len(columns):
            raise DataError(f"{source}, line {number}: {len(values)} values for {len(columns)} columns")
        rows.append(values)
    frame = pd.DataFrame(rows, columns=columns)
    match = re.search(r"Re\s*=\s*([\d.]+)\s*e\s*([+-]?\d+)", text)
    if match:
        frame["re"] = float(match[1]) * 10 ** int(match[2])
    return _normalise(frame, source)


def parse_table(text: str, source: str = "<string>") -> pd.DataFrame:
    """Whitespace columns alpha, C_L[, C_D[, C_M]] with ``#`` comments.

    Raises:
        DataError: a non-numeric value, no data rows, rows of different lengths or fewer than 2 columns, or
            NaN/inf in alpha or C_L.
    """
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            rows.append([float(v) for v in line.replace(",", " ").split()])
        except ValueError:
            raise DataError(f"{source}, line {number}: non-numeric value in {line!r}") from None
    if not rows:
        raise DataError(f"{source}: no data rows")
    width = min(len(r) for r in rows)
    if width < 2 or any(len(r) != len(rows[0]) for r in rows):
        raise DataError(f"{source}: rows must all hold the same number (≥ 2) of columns alpha, cl[, cd, cm]")
    names = ["alpha", "cl", "cd", "cm"][:width] + [f"c{i}" for i in range(4, width)]
    return _normalise(pd.DataFrame(rows, columns=names), source)


def read_polar(path: str | os.PathLike) -> pd.DataFrame:
    """Read a polar file in any of the supported formats (see the module docstring).

    Returns:
        columns ``alpha`` (deg), ``cl`` and, where the file has them, ``cd``, ``cm``, ``re``.

    Raises:
        DataError: the file is missing or empty, invalid JSON or JSON lists of different lengths, an unreadable
            CSV, or a table the format's parser refuses (see :func:`parse_xfoil`, :func:`parse_table`); no
            alpha or C_L column; a file that holds only ``#`` comment lines.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"polar file not found: {path}")
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise DataError(f"{path} is empty")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} is not valid JSON: {exc}") from exc
        try:
            frame = pd.DataFrame(data)
        except ValueError as exc:
            raise DataError(f"{path}: the JSON lists have different lengths ({exc})") from exc
        return _normalise(frame, str(path))
    if re.search(r"^\s*alpha\s+CL\b", text, re.I | re.M) and "---" in text:
        return parse_xfoil(text, str(path))
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), None)
    if first is None:
        raise DataError(f"{path} holds only '#' comment lines: no polar table")
    if re.search(r"[A-Za-z]", first) and "," in first:
        from io import StringIO

        try:
            frame = pd.read_csv(StringIO(text), comment="#")
        except (pd.errors.ParserError, ValueError) as exc:
            raise DataError(f"{path} is not a readable CSV: {exc}") from exc
        return _normalise(frame, str(path))
    return parse_table(text, str(path))


def select_re(frame: pd.DataFrame, reynolds: float) -> tuple[pd.DataFrame, float | None]:
    """The rows of the Reynolds number closest (in log) to ``reynolds``, sorted by α."""
    if "re" not in frame or frame["re"].isna().all():
        return frame.sort_values("alpha"), None
    values = np.unique(frame["re"].dropna())
    best = float(values[np.argmin(np.abs(np.log(values) - np.log(reynolds)))])
    return frame[frame["re"] == best].sort_values("alpha"), best


def naca_designation(name: str) -> str | None:
    """``'NACA0012_6e6_Ladson'`` → ``'0012'``."""
    match = re.search(r"naca[\s_-]*(\d{4})(?!\d)", name, re.I)
    return match[1] if match else None


def find_reference_polars(folder: str | os.PathLike) -> list[dict]:
    """Every polar file under ``folder/<label>/``: label, file, airfoil designation, data.

    A missing ``folder`` gives an empty list; ``data`` is :func:`read_polar`'s frame.

    Raises:
        DataError: a polar file (``.csv``, ``.json``, ``.dat``, ``.txt``, ``.pol``) cannot be read (see
            :func:`read_polar`).
    """
    folder = Path(folder)
    found = []
    if not folder.is_dir():
        return found
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(sub.iterdir()):
            if path.suffix.lower() not in (".csv", ".json", ".dat", ".txt", ".pol"):
                continue
            found.append({"label": sub.name, "file": path, "airfoil": naca_designation(path.stem) or path.stem,
                          "data": read_polar(path)})
    return found

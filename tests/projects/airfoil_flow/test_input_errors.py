"""Bad inputs that used to escape as raw Python errors: each is now a one-line DataError."""

from __future__ import annotations

import pytest

from projects.airfoil_flow.airfrans import Archive
from projects.airfoil_flow.polars import read_polar
from shared.io import DataError


def test_polar_of_comment_lines_only(tmp_path):
    (tmp_path / "p.dat").write_text("# Ladson 1988\n# alpha cl cd\n")
    with pytest.raises(DataError, match="only '#' comment lines"):
        read_polar(tmp_path / "p.dat")


def test_airfrans_archive_that_is_not_a_zip(tmp_path):
    (tmp_path / "Dataset.zip").write_bytes(b"<html>rate limited</html>")
    with pytest.raises(DataError, match="not a zip archive"):
        Archive(tmp_path / "Dataset.zip")

"""Logging set-up shared by every stage and the CLI."""

from __future__ import annotations

import logging
import os
import warnings

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str | int | None = None) -> None:
    """Configure the root logger once; ``CAPSTONE_LOG_LEVEL`` sets the default level."""
    level = level or os.environ.get("CAPSTONE_LOG_LEVEL", "INFO")
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
    root = logging.getLogger()
    if not any(getattr(h, "_capstone", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
        handler._capstone = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    # Third-party loggers that are loud at INFO.
    for name in ("matplotlib", "PIL", "h5py", "fsspec", "numexpr", "absl"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*oneDNN custom operations.*")

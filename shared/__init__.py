"""Shared toolkit of the capstone monorepo.

Every sub-module imports its heavy dependencies (TensorFlow, xarray, astropy) lazily,
so that ``import shared`` and the ``capstone`` CLI start instantly.
"""

import os

# TensorFlow's C++ start-up chatter hides the messages that matter; users can still
# raise it by exporting the variable themselves.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["config", "data", "io", "log", "metrics", "paths", "plots", "readme", "report", "stage", "training"]

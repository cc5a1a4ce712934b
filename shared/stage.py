"""The skeleton every stage module shares: argument parsing, logging, clean errors.

A stage is a small module with ``main(argv=None) -> int``::

    def main(argv=None) -> int:
        args = stage_parser(__doc__, inputs=("data",), outputs=("out",)).parse_args(argv)
        ...

    if __name__ == "__main__":
        raise SystemExit(run(main))

Known input problems (bad params, bad data, failed downloads) end the stage with a
one-line message and exit status 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from shared.config import ConfigError
from shared.io import DataError
from shared.log import setup_logging

log = logging.getLogger(__name__)

#: errors that mean "your input is wrong", reported without a traceback
USER_ERRORS = (ConfigError, DataError, FileNotFoundError)


def stage_parser(description: str | None, *, params: str | None = None, inputs: Sequence[str] = (),
                 outputs: Sequence[str] = (), work: bool = False) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` with ``--params``, the given ``--<input>``/``--<output>`` paths and ``--log-level``.

    ``work=True`` adds ``--work``, the folder for resumable state of a training stage (kept outside DVC outputs,
    which DVC deletes before it re-runs a stage; see :func:`shared.training.publish_runs`).
    """
    parser = argparse.ArgumentParser(description=(description or "").strip().splitlines()[0] if description else None)
    parser.add_argument("--params", default=params, required=params is None, help="params.yaml of the project")
    for name in inputs:
        parser.add_argument(f"--{name}", required=True, help=f"input path ({name})")
    for name in outputs:
        parser.add_argument(f"--{name}", required=True, help=f"output path ({name})")
    if work:
        parser.add_argument("--work", required=True, help="folder for resumable state (not a DVC output)")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO (default), WARNING")
    return parser


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Call a stage's ``main`` with clean handling of user errors."""
    setup_logging()
    try:
        return int(main(argv) or 0)
    except USER_ERRORS as exc:
        log.error("%s: %s", type(exc).__name__, exc)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted; outputs written so far are complete, and training resumes on the next run")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit("shared.stage is a library; run a project's stage module instead")

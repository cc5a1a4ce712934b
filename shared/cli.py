"""The ``capstone`` command: list the projects, run their pipelines, project tools.

    capstone list                              projects: headline model against baseline, DVC status
    capstone run PROJECT [--stage S] [-S k=v]  dvc repro (or dvc exp run with -S)
    capstone run PROJECT --profile NAME        a real-data profile (projects/PROJECT/profiles.yaml) as a DVC experiment
    capstone run PROJECT --profiles            the project's profiles and the files each needs
    capstone run --all                         dvc repro -P
    capstone run PROJECT --data-service grpc://host:port
                                               train stages read their input from an external tf.data service
    capstone readme                            regenerate README results tables
    capstone PROJECT ...                       the project's own tools (see --help)

Exit status: 0 on success, 2 for a user error (unknown project, profile or params key, missing files of a
profile, a path that cannot be read or written), else DVC's own status.

A default path of a project tool (``data/<project>/model``, ``projects/<project>/params.yaml``) names a file of
this checkout: it is read from the repository root wherever the command runs. A path given on the command line
is taken as written, relative to the working directory.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from shared.log import setup_logging
from shared.paths import project_names, repo_root
from shared.stage import USER_ERRORS

log = logging.getLogger(__name__)


def _dvc(*args: str, env: dict[str, str] | None = None) -> int:
    """Run ``dvc ARGS`` in the repository root; ``env``: extra environment variables of its process only."""
    cmd = [sys.executable, "-m", "dvc", *args]
    print("$ dvc " + " ".join(args), flush=True)
    return subprocess.call(cmd, cwd=repo_root(), env={**os.environ, **env} if env else None)


def _stage_status(root) -> dict[str, list[str]]:
    """Changed stages, grouped by project (root data stages are ``<project>_...``)."""
    from dvc.repo import Repo

    changed: dict[str, list[str]] = {}
    with Repo(str(root)) as repo:
        status = repo.status()
    for stage in status:
        path, _, name = stage.rpartition(":")
        if path.startswith("projects/"):
            project = path.split("/")[1]
        else:
            project = next((p for p in project_names(root) if name.startswith(p)), "?")
        changed.setdefault(project, []).append(name or stage)
    return changed


def cmd_list(args: argparse.Namespace) -> int:
    """Print one line a project: its headline (model against strongest baseline, ratio, verdict) and DVC status."""
    from shared.readme import _metrics, headline_cells

    root = repo_root()
    try:
        changed = _stage_status(root)
    except Exception as exc:  # not a DVC repo, broken dvc.yaml, ...
        print(f"(DVC status unavailable: {exc})", file=sys.stderr)
        changed = None
    rows = []
    for name in project_names(root):
        metrics = _metrics(name, root)
        what, model, baseline, ratio, verdict = headline_cells(metrics)
        if changed is None:
            state = "?"
        elif metrics is None:
            state = "never run"
        elif name in changed:
            state = "changed: " + ", ".join(changed[name])
        else:
            state = "up to date"
        rows.append((name, what, f"{model} vs {baseline}, ratio {ratio}: {verdict}", state))
    width = max((len(r[0]) for r in rows), default=7)
    for name, what, result, state in rows:
        print(f"{name:<{width}}  {what}\n{'':<{width}}  {result}  [{state}]")
    return 0


def _check_keys(project: str, keys: Sequence[str]) -> set[str]:
    """Refuse ``section.key`` overrides whose section (or a parent mapping) is not in the project's params.yaml.

    A leaf key that params.yaml leaves to its dataclass default is allowed (it is added with DVC's ``++``
    override); the stage's config class then checks it and names it if it is misspelt.

    Returns:
        the keys that params.yaml does not hold yet.

    Raises:
        ConfigError: naming the first unknown section or parent key and what exists there.
    """
    from shared.config import ConfigError, read_yaml

    path = repo_root() / "projects" / project / "params.yaml"
    params = read_yaml(path)
    new = set()
    for dotted in keys:
        node: object = params
        parts = dotted.split(".")
        for depth, part in enumerate(parts):
            if isinstance(node, dict) and part not in node and depth == len(parts) - 1 and depth > 0:
                new.add(dotted)
                break
            if not isinstance(node, dict) or part not in node:
                where = ".".join(parts[:depth]) or "top level"
                known = ", ".join(sorted(node)) if isinstance(node, dict) else "nothing (not a section)"
                kind = "section" if depth == 0 else "key"
                raise ConfigError(f"unknown {kind} {part!r} in {dotted!r} ({where} of {path.relative_to(repo_root())} "
                                  f"has: {known})")
            node = node[part]
    return new


def cmd_run(args: argparse.Namespace) -> int:
    """``capstone run``: dvc repro of everything or one project, a ``-S`` experiment, or a profile.

    Returns:
        the exit status: 2 for a missing or unknown PROJECT (or ``-S``/``--profile`` with ``--all``), else DVC's.

    Raises:
        ConfigError: a ``-S`` item is not SECTION.KEY=VALUE, a key's section or parent key is not in the
            project's params.yaml, params.yaml is missing or not YAML, or the profile does not exist or is
            malformed.
        DataError: files the profile needs are missing (the message lists them).
    """
    from shared.config import ConfigError

    env: dict[str, str] = {}
    if args.data_service:
        from shared.training import DATA_SERVICE_ENV

        if not args.data_service.startswith("grpc://"):
            raise ConfigError(f"--data-service {args.data_service!r}: give the dispatcher as grpc://host:port")
        # in the environment of DVC's process only, inherited by its stage processes; shared.training.fit reads it
        # (it changes where batches are made, not what they are, so DVC's cache still applies: use --force to
        # retrain)
        env[DATA_SERVICE_ENV] = args.data_service
    if args.all:
        if args.set or args.profile:
            print("-S and --profile need a PROJECT (params are per project)", file=sys.stderr)
            return 2
        return _dvc("repro", "-P", *(["--force"] if args.force else []), env=env)
    if not args.project:
        print("give a PROJECT or --all", file=sys.stderr)
        return 2
    if args.project not in project_names():
        print(f"unknown project {args.project!r}; projects: {', '.join(project_names())}", file=sys.stderr)
        return 2
    if args.profiles:
        from shared.profiles import describe

        print(describe(args.project))
        return 0
    target = f"projects/{args.project}/dvc.yaml" + (f":{args.stage}" if args.stage else "")
    overrides: dict[str, str] = {}
    name, force = None, args.force
    if args.profile:
        from shared.profiles import load_profile

        profile = load_profile(args.project, args.profile)  # raises with the missing files
        overrides.update(profile.overrides())
        name = profile.experiment_name()
        if profile.requires and not force:
            # the files are no DVC dependency (a profile's files differ per user): without --force, DVC would skip
            # the data stage, or restore it from its run cache, after the files changed under the same params
            log.info("profile %r reads files on disk: every stage reruns (--force), so that changed files are read",
                     args.profile)
            force = True
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"-S takes SECTION.KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value
    if not overrides:
        return _dvc("repro", *(["--force"] if args.force else []), target, env=env)
    new = _check_keys(args.project, list(overrides))
    sets = []
    for key, value in overrides.items():
        sets += ["-S", f"projects/{args.project}/params.yaml:{'++' if key in new else ''}{key}={value}"]
    return _dvc("exp", "run", *(["--name", name] if name else []), *sets, *(["--force"] if force else []), target,
                env=env)


def cmd_readme(args: argparse.Namespace) -> int:
    """``capstone readme [PROJECT ...]``: regenerate the README results blocks from metrics.json (as the root
    ``readme`` stage does)."""
    from shared.readme import refresh

    for path in refresh(args.projects or None):
        print(f"updated {path}")
    return 0


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; each option's help ends with its default, where it has one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if _shows_default(action) and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def _shows_default(action: argparse.Action) -> bool:
    default = action.default
    return (bool(action.option_strings) and default is not None and default is not False
            and default is not argparse.SUPPRESS and default != [])


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and every parser of its sub-commands."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="capstone", description=__doc__, formatter_class=_HelpFormatter)
    parser.add_argument("--log-level", default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="projects, their headline metric and DVC status")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("run", help="reproduce a project's pipeline (dvc repro / dvc exp run)")
    p.add_argument("project", nargs="?")
    p.add_argument("--all", action="store_true", help="every project (dvc repro -P)")
    p.add_argument("--stage", help="stop at this stage (data, train, evaluate, report, ...)")
    p.add_argument("-S", "--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a param of the project's params.yaml (runs a DVC experiment)")
    p.add_argument("--profile", metavar="NAME",
                   help="a real-data profile of projects/PROJECT/profiles.yaml (runs a DVC experiment)")
    p.add_argument("--profiles", action="store_true", help="list the project's profiles and the files they need")
    p.add_argument("--force", action="store_true")
    p.add_argument("--data-service", metavar="grpc://HOST:PORT",
                   help="an external tf.data service dispatcher that prepares the training batches "
                        "(docs/scaling.md)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("readme", help="regenerate the README results tables from metrics.json")
    p.add_argument("projects", nargs="*")
    p.set_defaults(func=cmd_readme)
    for name in project_names():
        if importlib.util.find_spec(f"projects.{name}.cli") is None:
            continue
        module = importlib.import_module(f"projects.{name}.cli")
        module.register(sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0]))
    for each in _parsers(parser):
        each.formatter_class = _HelpFormatter
        for action in each._actions:
            if action.help is None and _shows_default(action):
                action.help = "default: %(default)s"  # argparse prints no help line, so no default, without one
            if isinstance(action, argparse._SubParsersAction) and action.metavar is None:
                # a missing sub-command is named by its choices, not by the internal dest (airfoil_command)
                action.metavar = "{" + ",".join(action.choices) + "}"
    return parser


def at_least(low: int):
    """An argparse ``type`` for a project tool's option: an integer ``≥ low`` (a one-line usage error otherwise)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be ≥ {low}, got {value}")
        return value
    return parse


#: first folders of the repository paths that a tool's defaults name
_REPO_FOLDERS = ("data", "projects")


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """Every option of ``parser`` and of its sub-commands."""
    for each in _parsers(parser):
        yield from (a for a in each._actions if not isinstance(a, argparse._SubParsersAction))


def anchor_defaults(parser: argparse.ArgumentParser, args: argparse.Namespace,
                    root: str | os.PathLike | None = None) -> argparse.Namespace:
    """Resolve the default paths of ``parser`` that name repository files against the repository root.

    A tool's default such as ``data/airfoil_flow/model`` is relative to the checkout, not to the working
    directory: when it does not exist where the command runs, it becomes ``<root>/data/airfoil_flow/model``
    (``root``: :func:`shared.paths.repo_root`, which falls back to the checkout this package is installed from).
    Values given on the command line that differ from the default are left as written.

    Returns:
        ``args``, changed in place.
    """
    base = None
    for action in _actions(parser):
        default = action.default
        if not isinstance(default, str) or getattr(args, action.dest, None) != default:
            continue
        path = Path(default)
        if path.is_absolute() or not path.parts or path.parts[0] not in _REPO_FOLDERS or path.exists():
            continue
        if base is None:
            base = Path(root) if root is not None else repo_root()
        setattr(args, action.dest, str(base / path))
    return args


def _chosen(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost sub-command parser that ``args`` went through (``capstone airfoil_flow solve`` → solve's)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub = action.choices.get(getattr(args, action.dest, None))
            if sub is not None:
                return _chosen(sub, args)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # the sub-command's usage, not the top level's, says what it takes
        _chosen(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    args = anchor_defaults(parser, args)
    setup_logging(args.log_level or "WARNING")
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        named = isinstance(exc, OSError) and exc.filename is not None  # the OS's own, not one of our messages
        print(f"error: {path_error(exc) if named else exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None:  # not about a path the user named (a socket, a library's own failure)
            raise
        print(f"error: {path_error(exc)}", file=sys.stderr)
        return 2


def path_error(exc: OSError) -> str:
    """One line for an ``OSError`` about a path, naming the path the user gave rather than a temporary file.

    A file where a folder is needed (``out.png/x.png`` with ``out.png`` a file) names that file; a failure on
    :func:`shared.io.atomic_path`'s temporary file (``.<name>.<random>.tmp<suffix>``) names the folder it was
    written in; a rename names its target.
    """
    name = exc.filename2 if getattr(exc, "filename2", None) else exc.filename
    path = Path(os.fsdecode(name))
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        blocker = next((p for p in (path, *path.parents) if p.is_file()), None)
        if blocker is not None:
            return f"{blocker} is a file, where a folder is needed to write the output"
    if path.name.startswith(".") and ".tmp" in path.name:
        return f"cannot write into {path.parent}: {exc.strerror or exc}"
    return f"{exc.strerror or exc}: {path}"


if __name__ == "__main__":
    raise SystemExit(main())

"""The ``capstone`` command's own behaviour: repository defaults, one-line errors for paths."""

from __future__ import annotations

import argparse

import pytest

import shared.cli as cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict")
    p.add_argument("--model", default="data/demo/model")
    p.add_argument("--params", default="projects/demo/params.yaml")
    p.add_argument("--out", default="prediction")
    return parser


def test_repository_defaults_resolve_against_the_root_outside_the_checkout(tmp_path, monkeypatch):
    root, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    parser = _parser()
    args = cli.anchor_defaults(parser, parser.parse_args(["predict"]), root=root)
    assert args.model == str(root / "data/demo/model")
    assert args.params == str(root / "projects/demo/params.yaml")
    assert args.out == "prediction"  # not a repository path: relative to the working directory
    # a value the user typed is taken as written
    args = cli.anchor_defaults(parser, parser.parse_args(["predict", "--model", "data/mine"]), root=root)
    assert args.model == "data/mine"


def test_repository_defaults_that_exist_here_are_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/demo/model").mkdir(parents=True)
    parser = _parser()
    args = cli.anchor_defaults(parser, parser.parse_args(["predict"]), root=tmp_path / "other")
    assert args.model == "data/demo/model"


def test_a_path_that_cannot_be_written_is_one_line(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")

    def write(args):
        (blocker / "out").mkdir(parents=True)

    parser = argparse.ArgumentParser()
    parser.add_argument("--log-level", default=None)
    parser.set_defaults(func=write)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main([]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and str(blocker) in err and "\n" not in err


def test_a_temporary_file_that_cannot_be_made_names_the_folder(tmp_path, monkeypatch, capsys):
    from shared.io import atomic_path

    def write(args):
        with atomic_path("/proc/x.png") as tmp:  # /proc takes no new files
            tmp.write_bytes(b"")

    parser = argparse.ArgumentParser()
    parser.add_argument("--log-level", default=None)
    parser.set_defaults(func=write)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write into /proc") and ".tmp" not in err


def test_an_oserror_without_a_path_is_not_hidden(monkeypatch):
    def fail(args):
        raise OSError("socket trouble")

    parser = argparse.ArgumentParser()
    parser.add_argument("--log-level", default=None)
    parser.set_defaults(func=fail)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    with pytest.raises(OSError, match="socket trouble"):
        cli.main([])


def test_a_named_params_file_that_is_missing_is_an_error(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    missing = tmp_path / "nope.yaml"
    assert cli.main(["airfoil_flow", "solve", "--naca", "0012", "--params", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_path_errors_name_what_the_user_gave(tmp_path):
    blocker = tmp_path / "plainfile"
    blocker.write_text("x")
    try:
        (blocker / "sub").mkdir(parents=True)
    except OSError as exc:
        assert cli.path_error(exc) == f"{blocker} is a file, where a folder is needed to write the output"
    tmp = tmp_path / "nowhere" / ".out.abc123.tmp.png"
    assert cli.path_error(FileNotFoundError(2, "No such file or directory", str(tmp))) == (
        f"cannot write into {tmp.parent}: No such file or directory")
    folder = tmp_path / "out.png"
    folder.mkdir()
    exc = IsADirectoryError(21, "Is a directory", str(tmp_path / ".out.x1.tmp.png"), None, str(folder))
    assert cli.path_error(exc) == f"Is a directory: {folder}"


def test_every_help_page_formats_and_shows_defaults():
    parser = cli.build_parser()
    pages = [each.format_help() for each in cli._parsers(parser)]
    assert len(pages) > 20  # every project's sub-commands
    upscale = next(p for p in pages if "--overlap" in p and "--tile" in p)
    assert "default: 2" in upscale and "(default: fast)" in upscale  # a bare option and one with help


def test_an_unknown_option_shows_the_sub_command_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["airfoil_flow", "solve", "--naca", "0012", "--no-such-option"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: capstone airfoil_flow solve" in err and "--no-such-option" in err


def test_a_missing_sub_command_is_named_by_its_choices(capsys):
    with pytest.raises(SystemExit):
        cli.main(["airfoil_flow"])
    err = capsys.readouterr().err
    assert "{solve,predict}" in err and "airfoil_command" not in err

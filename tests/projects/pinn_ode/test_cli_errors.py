"""`capstone pinn_ode solve` refuses malformed --param/--set items in one line (exit 2), before any training."""

from __future__ import annotations

import pytest

from shared.cli import main


@pytest.mark.parametrize("extra, match", [
    (["--param", "xi"], "--param takes NAME=NUMBER"),
    (["--param", "xi=abc"], "--param takes NAME=NUMBER"),
    (["--param", "xi=nan"], "--param takes NAME=NUMBER"),
    (["--set", "lr=0.1"], "--set takes network.KEY=VALUE"),
])
def test_malformed_items_exit_2(capsys, extra, match):
    assert main(["pinn_ode", "solve", "--problem", "damped_oscillator", *extra]) == 2
    assert match in capsys.readouterr().err

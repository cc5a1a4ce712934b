"""`dvc repro` of the whole airfoil_flow pipeline on tiny params, in a temporary copy of the repo, what each stage
wrote (the stages run once, through DVC, as a user runs them), and the CLI's surrogate on the trained model."""

import json

import pytest


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy, tiny_overrides, tmp_path, capsys):
    repo_copy.set_params("airfoil_flow", tiny_overrides)
    metrics = repo_copy.check_pipeline("airfoil_flow", "cl_abs_circulation_worst_of_random_and_uiuc_families")
    prepared = repo_copy.root / "data" / "airfoil_flow" / "prepared"
    model = repo_copy.root / "data" / "airfoil_flow" / "model"
    results = repo_copy.root / "projects" / "airfoil_flow" / "results"
    assert sorted(p.name for p in prepared.iterdir()) == ["fields.nc", "splits.json"]
    checks = json.loads((results / "validation.json").read_text())["solver_checks"]
    assert checks["naca0012_alpha0_abs_cl"]["met"] and checks["naca2412_alpha5_vs_xfoil_pct"]["met"]
    summary = json.loads((model / "summary.json").read_text())
    assert {(m["experiment"], m["design"]) for m in summary["models"]} == {
        ("random", "geometry"), ("random", "plain"), ("random", "pod_residual"), ("alpha_extrapolation", "geometry"),
        ("alpha_extrapolation", "pod_residual"),
        ("random", "mlp"), ("alpha_extrapolation", "mlp")}
    assert (model / "random" / "pod_residual" / "pod.npz").is_file()
    suffix = "worst_of_random_and_uiuc_families"
    assert {f"rmse_u_{suffix}", f"cl_abs_circulation_{suffix}", "alpha_extrapolation_error_ratio",
            "speedup_end_to_end_batched", "solver_naca0012_alpha0_abs_cl"} <= set(metrics["targets"])
    assert {"random · geometry", "random · pod", "uiuc_families · plain", "uiuc_families · pod_residual"} <= set(
        metrics["fields"])
    head, design = metrics["headline"], metrics["headline_design"]["design"]
    # auto: the random-split design with the lowest |ΔC_L| on the validation families
    val = metrics["validation_families"]
    assert design == min(("geometry", "plain", "pod_residual"), key=lambda d: val[d]["cl_mae_circulation"])
    assert head["model"] == f"{design} U-Net"
    assert head["baseline"] in ("pod", "mlp (Kulfan, α)", "thin-airfoil theory")
    assert head["significance"]["test"] == "paired bootstrap" and len(head["also"]) == 4
    assert "floor (true field)" in "".join(metrics["lift"]) and "speed" in metrics
    for name in ("cl_scatter.csv", "history.csv", "polar_surrogate.csv", "surface_cp.csv", "polars.csv"):
        assert (results / "plots" / name).stat().st_size > 0
    assert (results / "examples.nc").stat().st_size > 0
    # the CLI's surrogate on the trained model
    from shared.cli import main as cli

    out = tmp_path / "pred"
    assert cli(["airfoil_flow", "predict", "--naca", "2412", "--alpha", "4", "--params",
                str(repo_copy.root / "projects" / "airfoil_flow" / "params.yaml"), "--model", str(model),
                "--out", str(out), "--compare"]) == 0
    assert (out / "field.nc").exists() and (out / "field.png").exists()
    # a design that params.yaml never trains on that split: the error lists the trained ones
    assert cli(["airfoil_flow", "predict", "--naca", "2412", "--alpha", "4", "--model", str(model), "--experiment",
                "alpha_extrapolation", "--design", "plain", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "alpha_extrapolation/pod_residual" in err and "random/plain" in err and "Traceback" not in err

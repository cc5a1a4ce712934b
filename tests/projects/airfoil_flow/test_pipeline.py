"""`dvc repro` of the whole airfoil_flow pipeline on tiny params, in a temporary copy of the repo."""

import pytest


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy, tiny_overrides):
    repo_copy.set_params("airfoil_flow", tiny_overrides)
    repo_copy.check_pipeline("airfoil_flow", "cl_abs_circulation_worst_of_random_and_uiuc_families")

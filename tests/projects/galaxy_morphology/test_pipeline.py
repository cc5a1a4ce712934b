"""`dvc repro` of the whole galaxy_morphology pipeline on tiny params, in a temporary copy of the repo."""

import pytest


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy, tiny_changes):
    repo_copy.set_params("galaxy_morphology", tiny_changes)
    repo_copy.check_pipeline("galaxy_morphology", "test_accuracy", report_bytes=50_000)

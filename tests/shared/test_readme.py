import pytest

from shared.readme import fmt, render_metrics, render_table, replace_block


def test_fmt():
    assert [fmt(None), fmt(True), fmt(3), fmt(0.0), fmt(1.5e-5), fmt(0.12345)] == ["–", "yes", "3", "0", "1.50e-05",
                                                                                  "0.1235"]


def test_tables_escape_pipes_in_cells():
    table = render_table({"|ΔC_L| geometry": {"mae": 0.5, "note": "a|b"}})
    rows = table.splitlines()
    assert rows[2] == "| \\|ΔC_L\\| geometry | 0.5 | a\\|b |"
    assert all(row.replace("\\|", "").count("|") == 4 for row in rows)
    assert render_table({"x|y": 1}).splitlines()[-1] == "| x\\|y | 1 |"


def test_render_metrics_and_replace_block():
    text = render_metrics({"total_s": 3.0, "targets": {"rel_l2": {"value": 1e-5, "met": True}}})
    assert "**targets**" in text and "| rel_l2 | 1.00e-05 | yes |" in text
    readme = "intro\n<!-- results:begin -->\nold\n<!-- results:end -->\nend\n"
    assert replace_block(readme, "results", "new") == "intro\n<!-- results:begin -->\nnew\n<!-- results:end -->\nend\n"
    with pytest.raises(ValueError, match="no <!-- other:begin -->"):
        replace_block(readme, "other", "x")


def test_lists_of_records_become_tables_and_flat_lists_join():
    metrics = {"curve": [{"split": "test", "accuracy": 0.98}, {"split": "harsher", "accuracy": 0.81, "n": 3}],
               "tools": ["librosa", "project"]}
    out = render_metrics(metrics)
    assert "**curve**\n\n| split | accuracy | n |\n|---|---|---|\n| test | 0.98 | – |\n| harsher | 0.81 | 3 |" in out
    assert "| tools | librosa, project |" in out
    assert "{'split'" not in out

"""Physics-informed neural networks that solve ODEs: forward, inverse and parametric.

Light on purpose (no TensorFlow import): the CLI reads TITLE from here; the headline
(model against its strongest baseline) is the ``headline`` block of results/metrics.json.
"""

TITLE = "Physics-informed networks for ODEs (forward, inverse, parametric)"

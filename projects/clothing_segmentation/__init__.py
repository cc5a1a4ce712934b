"""Clothing segmentation: interactive click-based garment segmentation with a web page (RITM-style, Keras 3).

Light on purpose (no TensorFlow import): the CLI reads TITLE from here; the headline
(model against its strongest baseline) is the ``headline`` block of results/metrics.json.
"""

TITLE = "Interactive garment segmentation by clicks (RITM-style network vs GrabCut and random walker), with a web page"

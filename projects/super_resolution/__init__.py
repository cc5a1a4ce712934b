"""Single-image super-resolution ×2/×3/×4 on real photographs, against bicubic and Lanczos.

Light on purpose (no TensorFlow import): the CLI reads TITLE from here; the headline
(model against its strongest baseline) is the ``headline`` block of results/metrics.json.
"""

TITLE = "Image super-resolution ×2/×3/×4 (ESPCN, EDSR-style residual nets) with seamless tiling"

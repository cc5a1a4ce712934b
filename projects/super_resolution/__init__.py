"""Single-image super-resolution ×2/×3/×4 on real photographs, against bicubic and Lanczos.

Light on purpose (no TensorFlow import): the CLI reads TITLE and HEADLINE from here.
"""

TITLE = "Image super-resolution ×2/×3/×4 (ESPCN, EDSR-style residual nets) with seamless tiling"
#: (dotted key into results/metrics.json, label) shown in the root README and `capstone list`
HEADLINE = ("headline.model_value", "PSNR-Y at ×2 on the held-out photos, fast model (dB)")

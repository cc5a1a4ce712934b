"""Single-image super-resolution ×2/×3/×4 on real photographs, against bicubic and Lanczos.

Light on purpose (no TensorFlow import): the CLI reads TITLE and HEADLINE from here.
"""

TITLE = "Image super-resolution ×2/×3/×4 (ESPCN, EDSR-style residual nets) with seamless tiling"
#: (dotted key into results/metrics.json, label) shown in the root README and `capstone list`
HEADLINE = ("targets.gain_x2_db.value", "PSNR-Y gain over bicubic at ×2, fast model (dB)")

"""Aerodynamic fields around 2D airfoils: a vortex panel method and U-Net surrogates of u, v and Cp.

Light on purpose (no TensorFlow import): the CLI reads TITLE from here; the headline
(model against its strongest baseline) is the ``headline`` block of results/metrics.json.
"""

TITLE = "Airfoil flow fields: panel-method solver and U-Net surrogates (u, v, Cp, C_L)"

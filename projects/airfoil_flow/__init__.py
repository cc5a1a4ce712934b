"""Aerodynamic fields around 2D airfoils: a vortex panel method and U-Net surrogates of u, v and Cp.

Light on purpose (no TensorFlow import): the CLI reads TITLE and HEADLINE from here.
"""

TITLE = "Airfoil flow fields: panel-method solver and U-Net surrogates (u, v, Cp, C_L)"
#: (dotted key into results/metrics.json, label) shown in the root README and `capstone list`
HEADLINE = ("headline.model_value", "geometry U-Net, |ΔC_L| by circulation on UIUC families held out")

"""Galaxy morphology: classify galaxies in multi-band telescope images (GalSim simulations, Galaxy10, Galaxy Zoo).

Light on purpose (no TensorFlow import): the CLI reads TITLE and HEADLINE from here.
"""

TITLE = "Galaxy morphology from multi-band images (GalSim, FITS, calibrated CNN vs CAS baselines)"
#: (dotted key into results/metrics.json, label) shown in the root README and `capstone list`
HEADLINE = ("headline.model_value", "8-class accuracy, simulated test images that statmorph measured")

"""Galaxy morphology: classify galaxies in multi-band telescope images (GalSim simulations, Galaxy10, Galaxy Zoo).

Light on purpose (no TensorFlow import): the CLI reads TITLE from here; the headline
(model against its strongest baseline) is the ``headline`` block of results/metrics.json.
"""

TITLE = "Galaxy morphology from multi-band images (GalSim, FITS, calibrated CNN vs CAS baselines)"

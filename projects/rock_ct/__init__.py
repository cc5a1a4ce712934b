"""rock_ct: 3D segmentation of volcanic-rock micro-CT into vesicles, glass and crystals, with physical metrics and
bounded-memory tiled inference.

Light on purpose (no TensorFlow import): the CLI reads TITLE from here; the headline (the 3D U-Net against its
strongest baseline, chosen on validation) is the ``headline`` block of results/metrics.json.
"""

TITLE = ("3D segmentation of volcanic-rock micro-CT (vesicles, glass, crystals): a 3D U-Net vs classical baselines, "
         "physical metrics, tiled inference")

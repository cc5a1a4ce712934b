"""cartoon_characters: multi-label detection of which characters appear in a cartoon frame, with imbalance handling,
per-character thresholds, calibrated probabilities and Grad-CAM.

Light on purpose (no TensorFlow import): the CLI reads TITLE from here; the headline (the CNN chosen on validation
mAP against its strongest baseline, HOG + colour-histogram logistic regression) is the ``headline`` block of
results/metrics.json.
"""

TITLE = ("Which characters appear in a cartoon frame (multi-label CNN with attention head and asymmetric loss vs HOG "
         "baseline), with imbalance handling, calibration and Grad-CAM")

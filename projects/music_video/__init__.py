"""Music video: short videos generated to a song by a generator trained here, with cuts and motion on the beat.

Light on purpose (no TensorFlow import): the CLI reads TITLE from here; the headline (the project's beat tracker and
keyframe schedule against librosa's default tracker) is the ``headline`` block of results/metrics.json.
"""

TITLE = "Music video: beat-synchronous latent walks of a VAE/DCGAN trained here (librosa, MP4 via ffmpeg)"

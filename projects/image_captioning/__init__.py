"""Image captioning: a CNN encoder with Transformer and attention-LSTM decoders, beam search, scored with
BLEU/METEOR/ROUGE-L/CIDEr-D against retrieval baselines (procedural scenes, Flickr8k, COCO).

Light on purpose (no TensorFlow import): the CLI reads TITLE from here; the headline
(model against its strongest baseline) is the ``headline`` block of results/metrics.json.
"""

TITLE = "Image captioning: CNN encoder with Transformer and attention-LSTM decoders, beam search, vs retrieval"

# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Image captioning: a CNN encoder with Transformer and attention-LSTM decoders
#
# A small CNN trained from scratch keeps a spatial feature map of each image; two decoders write the caption word
# by word while attending over it: **decoder A**, a Transformer decoder (causal self-attention, cross-attention over
# the feature map), and **decoder B**, an attention LSTM in the style of Show, Attend and Tell (Xu et al. 2015; soft
# attention, doubly stochastic regularisation). Each decodes greedily and by beam search (width 3, length
# normalisation).
#
# They are scored with the field's metrics (BLEU-1..4 by the coco-caption definition and by sacreBLEU, METEOR,
# ROUGE-L, CIDEr-D) against two baselines on the same test images: the most frequent training caption, and the
# nearest-neighbour consensus caption (the caption of the k nearest training images, in a colour + HOG feature space,
# that agrees most with the others; k chosen on validation). The headline model and decoding are chosen on
# **validation** CIDEr-D, never on test.
#
# Every number below was computed by this run of the pipeline (`dvc repro`) on this machine.

# %% tags=["parameters"]
results = "projects/image_captioning/results"
prepared = "data/image_captioning/prepared"
model = "data/image_captioning/model"
examples = 4

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # no TensorFlow start-up chatter in the report

import json
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from projects.image_captioning.dataset import load_prepared
from projects.image_captioning.decoding import load_captioner
from projects.image_captioning.plots import attention_figure
from shared.readme import render_table

plt.rcParams.update({"figure.dpi": 72, "axes.grid": True, "grid.alpha": 0.3})
results, prepared, model = Path(results), Path(prepared), Path(model)
metrics = json.loads((results / "metrics.json").read_text())
predictions = json.loads((results / "predictions.json").read_text())
images, splits, meta = load_prepared(prepared)
decoders = [d for d in ("transformer", "lstm") if (model / d / "captioner.json").is_file()]
train_info = {d: json.loads((model / d / "train.json").read_text()) for d in decoders}
histories = {d: json.loads((model / d / "history.json").read_text()) for d in decoders}
choices = metrics.get("choices", {})
protocol = metrics.get("protocol", {})
display(Markdown(
    f"Data: `{meta.get('source')}`, images of {meta.get('size')} px; images per split: "
    f"{ {k: len(v) for k, v in splits.items()} }; split rule: {meta.get('split_rule', '?')}. "
    f"Vocabulary: {train_info[decoders[0]]['vocabulary_size'] if decoders else '?'} tokens (training captions "
    f"only). Tokenisation for the metrics: {protocol.get('tokenisation', '?')}."))

# %% [markdown]
# ## Headline and targets
# The model row chosen on validation CIDEr-D against the stronger baseline (also chosen on validation), on the
# same test images; the interval is a paired bootstrap of the per-image CIDEr-D difference. The targets are the
# issue's (on the embedded scenes): at least +5 BLEU-4 points and +0.2 CIDEr-D over the nearest-neighbour caption,
# and beam search no worse than greedy decoding on CIDEr-D for each decoder. A **no** is reported as measured.

# %%
head = metrics.get("headline")
if head:
    rows = {h["metric"]: {"model": h["model_value"], "baseline": h["baseline_value"], "ratio": h["ratio"],
                          "verdict": h["verdict"]} for h in [head, *head.get("also", [])]}
    display(Markdown(render_table(rows, "metric") + f"\n\nmodel: `{head['model']}`; baseline: `{head['baseline']}` "
                     f"({head['baseline_rule']}); data: {head['data']}"))
    display(Markdown(render_table(metrics.get("targets", {}), "target")))
else:
    display(Markdown("**No trained model was evaluated: there is no headline.**"))

# %% [markdown]
# ## Every method on the test split
# BLEU-n (coco-caption), sacreBLEU (corpus BLEU-4 with its own tokenisation), METEOR and ROUGE-L in points,
# CIDEr-D on its own scale; parameters and captions per second on this machine's CPU (batches of images; the
# beam rows decode 3 hypotheses per image).

# %%
display(Markdown(render_table(metrics["test"], "method")))
display(Markdown(f"sacreBLEU signature: `{protocol.get('sacrebleu_signature', '?')}`"))
display(Markdown("**Validation** (the choices are made here)\n\n" + render_table(metrics.get("val", {}), "method")))
if metrics.get("test_cider_d_by_layout"):
    display(Markdown("**Test CIDEr-D by scene layout**: where each method wins or loses\n\n"
                     + render_table(metrics["test_cider_d_by_layout"], "method")))

# %% [markdown]
# ## Learning curves
# Masked cross-entropy per token (the LSTM's losses, validation too, include the doubly stochastic attention term) and
# next-token accuracy, per epoch; the epoch with the lowest validation loss is the one kept.

# %%
if decoders:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for k, d in enumerate(decoders):
        h = histories[d]
        epochs = np.asarray(h["epoch"]) + 1
        axes[0].plot(epochs, h["loss"], "--", color=f"C{k}", label=f"{d} train")
        axes[0].plot(epochs, h["val_loss"], "-o", ms=3, color=f"C{k}", label=f"{d} validation")
        if "masked_accuracy" in h:
            axes[1].plot(epochs, h["masked_accuracy"], "--", color=f"C{k}", label=f"{d} train")
            axes[1].plot(epochs, h["val_masked_accuracy"], "-o", ms=3, color=f"C{k}", label=f"{d} validation")
    axes[0].set(xlabel="epoch", ylabel="loss")
    axes[1].set(xlabel="epoch", ylabel="next-token accuracy")
    for ax in axes:
        ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    display(Markdown(render_table({d: {"parameters": i["parameters"], "epochs": i["epochs_run"],
                                       "best val loss": i["best_val_loss"], "seconds": i["wall_time_s"],
                                       "s / step (incl. compile, validation)": i["seconds_per_step"]}
                                   for d, i in train_info.items()},
                                  "decoder")))

# %% [markdown]
# ## Examples: the best and the worst test images
# Ranked by the per-image CIDEr-D of the chosen model row; each with every method's caption and the references.

# %%
row = choices.get("model") or "nearest_neighbour"
ranked = sorted(predictions, key=lambda p: p["cider_d"].get(row, 0.0), reverse=True)
shown = [("good", p) for p in ranked[:examples]] + [("bad", p) for p in ranked[::-1][:examples]]
for kind, p in shown:
    fig, ax = plt.subplots(figsize=(1.6, 1.6))
    ax.imshow(images[p["index"]])
    ax.set_axis_off()
    ax.set_title(f"{kind}: {p['image']}", fontsize=7)
    plt.show()
    lines = [f"- **{name}** (CIDEr-D {p['cider_d'][name]:.2f}): {text or '(empty)'}"
             for name, text in p["predictions"].items()]
    lines += [f"- reference: {ref}" for ref in p["references"]]
    display(Markdown("\n".join(lines)))

# %% [markdown]
# ## Where the decoders look
# For two test images, each generated word with the attention over the image when it was chosen (greedy decoding):
# the LSTM's soft attention α, and the Transformer's last-layer cross-attention averaged over heads. Bright = high
# weight on that cell of the feature map.

# %%
test_index = [e["index"] for e in splits["test"]]
picks = [ranked[0]["index"], ranked[len(ranked) // 2]["index"]]
for d in decoders:
    captioner = load_captioner(model / d)
    decoded = captioner.greedy(images[picks])
    for index, dec in zip(picks, decoded):
        attention_figure(images[index], dec, title=f"{d}: {dec.text}")
        plt.show()

# %% [markdown]
# ## Caption length and vocabulary usage
# Words per caption of each method against the references of the test images, and how many distinct words each
# uses; a captioner that repeats a few safe phrases uses far fewer words than the references do.

# %%
refs = [r for p in predictions for r in p["references"]]
usage = {"references": {"mean words": np.mean([len(r.split()) for r in refs]),
                        "distinct words": len({w for r in refs for w in r.split()}),
                        "distinct captions": len(set(refs))}}
lengths = {"references": [len(r.split()) for r in refs]}
for name in predictions[0]["predictions"]:
    caps = [p["predictions"][name] for p in predictions]
    lengths[name] = [len(c.split()) for c in caps]
    usage[name] = {"mean words": np.mean(lengths[name]), "distinct words": len({w for c in caps for w in c.split()}),
                   "distinct captions": len(set(caps))}
display(Markdown(render_table(usage, "captions")))
fig, ax = plt.subplots(figsize=(8, 3.5))
top = max(max(v) for v in lengths.values() if v) + 1
for k, (name, values) in enumerate(lengths.items()):
    counts = np.bincount(values, minlength=top + 1)[: top + 1]
    ax.plot(np.arange(top + 1), counts / max(len(values), 1), "-o", ms=2, color=f"C{k}", label=name)
ax.set(xlabel="words per caption", ylabel="fraction of captions")
ax.legend(frameon=False, fontsize=8)
fig.tight_layout()
common = Counter(w for p in predictions for w in p["predictions"].get(row, "").split()).most_common(15)
display(Markdown(f"Most used words of `{row}`: " + ", ".join(f"{w} ({n})" for w, n in common)))

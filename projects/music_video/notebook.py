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
# # Music video: beat-synchronous latent walks of a generator trained here
#
# A song goes in; an MP4 comes out whose pictures come from a generative model trained in this project (a
# convolutional **VAE**; a small **DCGAN** is trained beside it for the comparison) on an embedded image set
# (procedural abstract art and patches of scikit-image's photographs). The music drives the latent vector of every
# frame: a new latent target on each beat (a visible cut on the frame nearest the beat), a pulse along one fixed
# direction on the drum hits, a slow drift whose speed follows the harmonic energy, and an offset and hue from the
# chroma (after Lucid Sonic Dreams).
#
# The beat grid comes from the project's tracker (librosa's signal processing with tempo-octave resolution and lag
# compensation); the baseline is librosa's default tracker with the naive frame placement. Everything is scored
# against the **known** beats of synthesised songs, and the rendered video's cuts are found from its frames.
#
# Every number below was computed by this run of the pipeline (`dvc repro`) on this machine.

# %% tags=["parameters"]
results = "projects/music_video/results"
prepared = "data/music_video/prepared"
model = "data/music_video/model"
render = "data/music_video/render"
gif_seconds = 3.0
gif_size = 96
samples = 8

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # no TensorFlow start-up chatter in the report

import base64
import io
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, Markdown, display

from shared.readme import render_headline, render_table

plt.rcParams.update({"figure.dpi": 72, "axes.grid": True, "grid.alpha": 0.3})
results, prepared, model, render = Path(results), Path(prepared), Path(model), Path(render)
metrics = json.loads((results / "metrics.json").read_text())
render_info = json.loads((render / "render.json").read_text()) if (render / "render.json").is_file() else None
train_info = json.loads((model / "train.json").read_text()) if (model / "train.json").is_file() else None
songs = {s["id"]: s for s in json.loads((prepared / "songs.json").read_text())}

# %% [markdown]
# ## Headline and targets
#
# The headline compares the project's beat tracker and schedule with the strongest simple baseline (librosa's
# default tracker, its frame placement chosen on validation songs); the further rows hold the rendered video's
# cuts, and each generator against the PCA-Gaussian sampler. Targets show the **worst** song where a mean would
# hide it.

# %%
if "headline" in metrics:
    display(Markdown(render_headline(metrics["headline"])))
targets = {k: {kk: vv for kk, vv in v.items() if not isinstance(vv, dict | list)} for k, v in
           metrics.get("targets", {}).items()}
display(Markdown(render_table(targets, "target")))

# %% [markdown]
# ## The song: audio features over time, beats and keyframes
#
# The rendered song's percussive onset strength, harmonic RMS and chroma, with the true beats (from the
# synthesiser), the project's tracked beats and the keyframes of the video (frame times). The baseline's keyframes
# (librosa default beats, truncated to frames) are drawn below for comparison.

# %%
if render_info is not None and (render / "analysis.npz").is_file():
    a = np.load(render / "analysis.npz")
    song = songs.get(render_info["song"], {})
    truth = np.asarray(song.get("beats_s") or [], float)
    fps = render_info["fps"]
    fig, axes = plt.subplots(3, 1, figsize=(11, 7), sharex=True, gridspec_kw={"height_ratios": [2, 1, 2]})
    ax = axes[0]
    ax.plot(a["times_s"], a["onset_env"], lw=0.8, label="percussive onset strength")
    ax.vlines(truth, 1.05, 1.25, color="k", lw=1.2, label="true beats")
    ax.vlines(a["beats_s"], 1.3, 1.5, color="tab:green", lw=1.2, label="tracked beats (project)")
    ax.vlines(np.asarray(render_info["keyframes"]) / fps, 1.55, 1.75, color="tab:red", lw=1.2,
              label="video keyframes (project)")
    if render_info.get("baseline_keyframes") is not None:
        ax.vlines(np.asarray(render_info["baseline_keyframes"]) / fps, 1.8, 2.0, color="tab:gray", lw=1.2,
                  label="video keyframes (baseline)")
    ax.set_ylabel("strength")
    ax.legend(loc="upper right", fontsize=8, ncol=3)
    axes[1].plot(a["times_s"], a["harmonic_rms"], color="tab:purple", lw=0.8, label="harmonic RMS (drift speed)")
    axes[1].legend(loc="upper right", fontsize=8)
    axes[2].imshow(a["chroma"], aspect="auto", origin="lower", cmap="magma",
                   extent=[a["times_s"][0], a["times_s"][-1], -0.5, 11.5])
    axes[2].set_yticks(range(12), ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"], fontsize=7)
    axes[2].set_xlabel("time (s)")
    axes[2].set_ylabel("chroma")
    fig.suptitle(f"{render_info['song']}: {render_info['tempo_bpm']:.1f} BPM tracked "
                 f"(true {song.get('bpm') or float('nan'):.1f}), {len(render_info['keyframes'])} keyframes")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## A strip of frames at the beats
#
# The frames of the rendered MP4 (decoded back) on the first keyframes: each beat brings a new picture.

# %%
def read_frames(path, indices, size):
    """Frames of an MP4 at the given indices, decoded by ffmpeg at size×size."""
    import imageio_ffmpeg

    want, out = set(int(i) for i in indices), {}
    gen = imageio_ffmpeg.read_frames(str(path), output_params=["-vf", f"scale={size}:{size}"])
    next(gen)
    for k, raw in enumerate(gen):
        if k in want:
            out[k] = np.frombuffer(raw, np.uint8).reshape(size, size, 3)
        if k > max(want):
            break
    return [out[i] for i in sorted(out)]


if render_info is not None and (render / "song.mp4").is_file():
    keys = render_info["keyframes"][:8]
    frames = read_frames(render / "song.mp4", keys, 128)
    fig, axes = plt.subplots(1, len(frames), figsize=(1.6 * len(frames), 1.9))
    for ax, f, k in zip(np.atleast_1d(axes), frames, keys, strict=False):
        ax.imshow(f)
        ax.set_title(f"{k / render_info['fps']:.2f} s", fontsize=8)
        ax.axis("off")
    plt.show()

# %% [markdown]
# ## The rendered clip
#
# The first seconds of the project's video as an animated GIF (no sound; the MP4 under `data/music_video/render/`
# has the song as AAC audio).

# %%
if render_info is not None and (render / "song.mp4").is_file():
    from PIL import Image

    n = int(min(gif_seconds, render_info["duration_s"]) * render_info["fps"])
    step = max(1, int(round(render_info["fps"] / 15)))
    frames = read_frames(render / "song.mp4", range(0, n, step), gif_size)
    buf = io.BytesIO()
    imgs = [Image.fromarray(f) for f in frames]
    imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], loop=0,
                 duration=int(1000 * step / render_info["fps"]))
    display(HTML(f'<img src="data:image/gif;base64,{base64.b64encode(buf.getvalue()).decode()}" '
                 f'width="{2 * gif_size}">'))
    display(Markdown(f"Rendering: {render_info['n_frames']} frames of {render_info['size']}×{render_info['size']} "
                     f"at {render_info['fps']:g} fps in {render_info['render_s']:.1f} s (+ analysis "
                     f"{render_info['analysis_s']:.1f} s): **{render_info['realtime_factor']:.2f}× real time** "
                     f"(target ≤ 2×); librosa's one-off JIT warm-up {render_info.get('analysis_warmup_s', 0):.1f} "
                     "s measured apart."))

# %% [markdown]
# ## Beat trackers and cut schedules
#
# Per tracker, over the synthesised songs: beat F-measure (±70 ms), continuity (CMLt/AMLt), tempo-octave
# correctness and mean |beat − truth|; per schedule (tracker × frame placement), the cut-vs-beat F and offsets.

# %%
for key, title in (("trackers", "tracker"), ("cuts", "schedule")):
    if key in metrics:
        table = {k: {c: v for c, v in row.items() if not isinstance(v, dict | list)} for k, row in
                 metrics[key].items()}
        display(Markdown(render_table(table, title)))
if "render" in metrics:
    rows = {k: v for k, v in metrics["render"].items() if isinstance(v, dict)}
    if rows:
        display(Markdown("**Cuts found in the rendered videos** (frame-difference peaks):"))
        display(Markdown(render_table(rows, "video")))

# %% [markdown]
# ## The generators
#
# Samples of each trained generator (z ~ N(0, I)), the PCA-Gaussian baseline and real held-out images; spherical
# interpolations between latent vectors (what the video walks through); the quality scores (RBF MMD² and KID on
# fixed colour-histogram + HOG + thumbnail features, lower is better) and the training curves.

# %%
if train_info is not None and (render / "samples.npz").is_file():
    from projects.music_video.quality import pca_gaussian_sampler

    drawn = np.load(render / "samples.npz")
    images = np.load(prepared / "images.npz")["images"]
    held = np.asarray(train_info["val_indices"], int)
    rest = np.setdiff1d(np.arange(len(images)), held)
    rows, names = [], []
    for kind in train_info["models"]:
        rows.append(drawn[kind][:samples])
        names.append(f"{kind} samples (z ~ N(0, I))")
    k = metrics.get("generator", {}).get("pca_gaussian", {}).get("components", 16)
    rows.append(pca_gaussian_sampler(images[rest], k, 0)(len(rows[0])))
    names.append(f"PCA-Gaussian baseline ({k} components)")
    rows.append(images[held[:len(rows[0])]])
    names.append("held-out images")
    for key in ("slerp_1", "slerp_2"):
        if key in drawn:
            rows.append(drawn[key][:samples])
            names.append(f"{train_info['render_model']}: spherical interpolation {key[-1]}")
    fig, axes = plt.subplots(len(rows), 1, figsize=(1.3 * len(rows[0]), 1.4 * len(rows)))
    for ax, row, name in zip(axes, rows, names, strict=True):
        ax.imshow(np.concatenate(list(row), axis=1))
        ax.set_title(name, fontsize=9, loc="left")
        ax.axis("off")
    fig.tight_layout()
    plt.show()

# %%
if "generator" in metrics:
    g = metrics["generator"]
    table = {k: {c: v for c, v in row.items() if isinstance(v, int | float)} for k, row in g.items()
             if isinstance(row, dict)}
    display(Markdown(f"Reference: {g.get('reference')}; {g.get('samples')} samples per generator."))
    display(Markdown(render_table(table, "sampler")))
if train_info is not None:
    fig, axes = plt.subplots(1, len(train_info["models"]), figsize=(5 * len(train_info["models"]), 3))
    for ax, name in zip(np.atleast_1d(axes), train_info["models"], strict=True):
        hist = json.loads((model / name / "history.json").read_text())
        keys = ["loss", "val_loss"] if name == "vae" else ["d_loss", "g_loss"]
        for key in keys:
            if key in hist:
                ax.plot(np.asarray(hist["epoch"]) + 1, hist[key], label=key)
        ax.set_title(f"{name}: {train_info['runs'][name]['wall_time_s']:.0f} s, "
                     f"{train_info['runs'][name]['epochs_run']} epochs", fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    fig.tight_layout()
    plt.show()
    display(Markdown(f"Training: {train_info['train_images']} images of {train_info['image_size']} px "
                     f"({train_info['val_images']} held out), {train_info['wall_time_s']:.0f} s in all."))

# %% [markdown]
# ## Frame effects and their cost
#
# Optional (`render.effects`, `capstone music_video make ... --effect style|dream`; off in the default video): a fast
# style-transfer network trained here (stage `train_style`: Johnson et al. 2016 with instance norm, perceptual loss
# on a fixed random-weight conv net) and DeepDream on the VAE encoder's own features (Mordvintsev et al. 2015). The
# strip: the song's frames at its first keyframes, plain, stylised and dreamed, at the effect size (ffmpeg
# upscales to the output). The table: seconds per frame of each effect on this machine (evaluate's benchmark), and
# the render's real-time factor with each effect on.

# %%
if (render / "effects.npz").is_file():
    strip = np.load(render / "effects.npz")
    rows = [k for k in ("plain", "style", "dream") if k in strip]
    fig, axes = plt.subplots(len(rows), 1, figsize=(1.6 * len(strip["plain"]), 1.7 * len(rows)))
    for ax, key in zip(np.atleast_1d(axes), rows, strict=True):
        ax.imshow(np.concatenate(list(strip[key]), axis=1))
        ax.set_title(key, fontsize=9, loc="left")
        ax.axis("off")
    fig.tight_layout()
    plt.show()
    if "style_image" in strip:
        fig, ax = plt.subplots(figsize=(1.6, 1.8))
        ax.imshow(strip["style_image"])
        ax.set_title("style image", fontsize=9)
        ax.axis("off")
        plt.show()
if "effects" in metrics:
    e = metrics["effects"]
    table = {name: {f"{size} px": v for size, v in row.items()} for name, row in e["seconds_per_frame"].items()}
    if table:
        display(Markdown(f"**Seconds per frame** ({e['frames']} frames timed per cell after a warm-up call on them, "
                         f"{e.get('cpu_count')} CPU cores):"))
        display(Markdown(render_table(table, "effect")))
    if "realtime_factor" in e:
        display(Markdown(render_table({"render": e["realtime_factor"]}, "")))
    if "style_net" in e:
        display(Markdown(render_table({"style net": {k: v for k, v in e["style_net"].items()
                                                     if isinstance(v, int | float | str)}}, "")))

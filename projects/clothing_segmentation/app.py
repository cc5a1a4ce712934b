"""The web page: click on a garment, get its mask and class, correct it with more clicks, export it.

    capstone clothing_segmentation app                      # http://127.0.0.1:7860
    capstone clothing_segmentation app --host 0.0.0.0 --port 8080 --out-dir exports/

Upload a photo (or load an example), then click on the garment: each click on the picture adds a positive click
(or a negative one while "negative click" is selected); the mask is drawn over the picture after every click.
Undo removes the last click, Reset all of them. The predicted garment class is shown in a drop-down that can be
changed before exporting. Export writes the mask as a PNG (255 on the garment) and as a COCO file with the mask
as compressed RLE, both offered for download.

Safety: bound to 127.0.0.1 unless ``--host`` says otherwise; gradio's analytics are off and nothing is loaded
from the internet (system fonts, no share link); uploads that are not images, are corrupt, or have more than
``max_pixels`` pixels (decompression bombs) are refused with a message before they are decoded; the page
writes only inside ``out_dir`` (its exports, and gradio's upload cache in ``out_dir/cache``).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from projects.clothing_segmentation.clicks import Click
from projects.clothing_segmentation.predictor import MAX_PIXELS, coco_annotation, load_rgb, mask_png
from shared.io import DataError

log = logging.getLogger(__name__)

POSITIVE, NEGATIVE = "positive click (garment)", "negative click (not the garment)"
OVERLAY_COLOUR = np.array([255, 0, 200], np.float32)
#: generated example images shown when no --examples folder is given (the generate stage's output)
DEFAULT_EXAMPLES = "data/clothing_segmentation/generated/images"


@dataclass
class Session:
    """One user's state: the image, its clicks and the probability after each click (for undo)."""

    image: np.ndarray | None = None
    name: str = "image"
    clicks: list[Click] = field(default_factory=list)
    probs: list[np.ndarray] = field(default_factory=list)
    predicted: str | None = None

    @property
    def prob(self) -> np.ndarray | None:
        return self.probs[-1].astype(np.float32) if self.probs else None


def safe_stem(name: str) -> str:
    """A file-name stem made of letters, digits, ``-`` and ``_`` only (no path can escape the output folder)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(str(name)).stem).strip("_")
    return stem[:60] or "image"


def overlay(image: np.ndarray, prob: np.ndarray | None, clicks: list[Click]) -> np.ndarray:
    """The image with the mask tinted and outlined and the clicks drawn (green positive, red negative)."""
    import cv2

    out = image.astype(np.float32).copy()
    if prob is not None:
        mask = prob > 0.5
        out[mask] = 0.45 * out[mask] + 0.55 * OVERLAY_COLOUR
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        out = np.ascontiguousarray(out.clip(0, 255).astype(np.uint8))
        cv2.drawContours(out, contours, -1, (255, 255, 255), max(1, min(image.shape[:2]) // 200))
    out = np.ascontiguousarray(out.clip(0, 255).astype(np.uint8))
    radius = max(3, min(image.shape[:2]) // 60)
    for c in clicks:
        colour = (0, 220, 0) if c.positive else (230, 0, 0)
        cv2.circle(out, (int(c.x), int(c.y)), radius, colour, -1)
        cv2.circle(out, (int(c.x), int(c.y)), radius, (255, 255, 255), 1)
    return out


class Controller:
    """What the page does, without gradio (the browser tests drive it through the page; unit tests directly)."""

    def __init__(self, segmenter, out_dir: str | os.PathLike, max_pixels: int = MAX_PIXELS):
        self.segmenter = segmenter
        self.out_dir = Path(out_dir).resolve()
        self.max_pixels = int(max_pixels)
        self.lock = threading.Lock()

    def load(self, path: str | os.PathLike | None) -> tuple[Session, str]:
        """A new session on the image at ``path``.

        Raises:
            DataError: no file, not an image, corrupt, or over the pixel limit (the message says which).
        """
        if not path:
            raise DataError("no file was uploaded")
        image = load_rgb(path, self.max_pixels)
        session = Session(image=image, name=Path(str(path)).name)
        h, w = image.shape[:2]
        return session, f"Loaded {session.name} ({w}x{h}). Click on a garment."

    def click(self, session: Session, x: int, y: int, positive: bool) -> tuple[Session, str]:
        """Add a click at column ``x``, row ``y`` and predict.

        Raises:
            DataError: no image yet, the first click is negative, or the click lies outside the image.
        """
        if session.image is None:
            raise DataError("upload an image first")
        if not session.clicks and not positive:
            raise DataError("the first click must be positive: click on the garment")
        clicks = [*session.clicks, Click(int(y), int(x), bool(positive))]
        start = time.perf_counter()
        with self.lock:
            self.segmenter.reset(session.image)
            prob = self.segmenter.predict(clicks, session.prob)
            name, p = self.segmenter.predicted_class()
        seconds = time.perf_counter() - start
        session.clicks = clicks
        session.probs.append(prob.astype(np.float16))
        session.predicted = name
        area = float((prob > 0.5).mean())
        kind = "positive" if positive else "negative"
        return session, (f"Click {len(clicks)} ({kind}) at x={x}, y={y}: mask {100 * area:.1f}% of the image, "
                         f"class {name} ({p:.2f}); {seconds * 1000:.0f} ms")

    def undo(self, session: Session) -> tuple[Session, str]:
        if session.clicks:
            session.clicks = session.clicks[:-1]
            session.probs = session.probs[:-1]
        return session, f"{len(session.clicks)} click(s)"

    def reset(self, session: Session) -> tuple[Session, str]:
        session.clicks, session.probs, session.predicted = [], [], None
        return session, "Clicks cleared. Click on a garment."

    def export(self, session: Session, category: str | None) -> tuple[Path, Path]:
        """Write the mask PNG and the COCO RLE JSON into the output folder; returns their paths.

        Raises:
            DataError: there is no mask yet.
        """
        from shared.io import write_image, write_json

        if session.image is None or session.prob is None:
            raise DataError("nothing to export: click on a garment first")
        folder = self.out_dir / "exports"
        stem = f"{safe_stem(session.name)}_{time.strftime('%Y%m%d-%H%M%S')}_{len(session.clicks)}clicks"
        png, coco = (folder / f"{stem}_mask.png").resolve(), (folder / f"{stem}_coco.json").resolve()
        for path in (png, coco):
            if self.out_dir not in path.parents:  # pragma: no cover - safe_stem makes this impossible
                raise DataError(f"refusing to write outside {self.out_dir}: {path}")
        mask = mask_png(session.prob)
        write_image(png, mask)
        category = category or session.predicted or "garment"
        classes = list(getattr(self.segmenter, "classes", []))
        write_json(coco, coco_annotation(mask, category=category, image_name=session.name, classes=classes))
        return png, coco


def build_app(controller: Controller, examples: list[Path] | None = None):
    """The gradio Blocks of the page (import gradio only after :func:`configure_environment`)."""
    import gradio as gr

    classes = list(getattr(controller.segmenter, "classes", []))
    examples = [Path(p) for p in (examples or [])]

    def show(session: Session):
        if session.image is None:
            return None
        return overlay(session.image, session.prob, session.clicks)

    def on_upload(file, session):
        try:
            session, message = controller.load(file)
        except DataError as exc:
            log.info("upload refused: %s", exc)
            return Session(), None, f"**Error:** {exc}", gr.update(value=None)
        return session, show(session), message, gr.update(value=None)

    def on_example(name, session):
        match = [p for p in examples if p.name == name]
        if not match:
            return session, show(session), "**Error:** pick an example first", gr.update()
        return on_upload(str(match[0]), session)

    def on_click(session, mode, evt: gr.SelectData):
        try:
            x, y = (int(v) for v in evt.index[:2])
            session, message = controller.click(session, x, y, mode != NEGATIVE)
        except DataError as exc:
            return session, show(session), f"**Error:** {exc}", gr.update()
        return session, show(session), message, gr.update(value=session.predicted)

    on_click.__annotations__["evt"] = gr.SelectData  # gradio reads the hint; postponed annotations hide it

    def on_undo(session):
        session, message = controller.undo(session)
        return session, show(session), message

    def on_reset(session):
        session, message = controller.reset(session)
        return session, show(session), message

    def on_export(session, category):
        try:
            png, coco = controller.export(session, category)
        except DataError as exc:
            return None, f"**Error:** {exc}"
        return [str(png), str(coco)], f"Exported {png.name} and {coco.name} to {png.parent}"

    with gr.Blocks(title="Garment segmentation by clicks", analytics_enabled=False) as demo:
        session = gr.State(Session())
        gr.Markdown("## Garment segmentation by clicks\nUpload a photo, then click on a garment. Each click "
                    "corrects the mask: positive on missed parts, negative on wrong ones.")
        with gr.Row():
            with gr.Column(scale=3):
                picture = gr.Image(label="click on the garment", type="numpy", format="png", interactive=False,
                                   elem_id="picture")
                status = gr.Markdown("Upload an image to start.", elem_id="status")
            with gr.Column(scale=1):
                upload = gr.File(label="upload an image", elem_id="upload")
                if examples:
                    example = gr.Dropdown([p.name for p in examples], label="or an example", elem_id="example")
                    load_example = gr.Button("load example", elem_id="load_example")
                mode = gr.Radio([POSITIVE, NEGATIVE], value=POSITIVE, label="next click", elem_id="mode")
                with gr.Row():
                    undo = gr.Button("undo", elem_id="undo")
                    reset = gr.Button("reset", elem_id="reset")
                category = gr.Dropdown(classes, value=None, label="garment class (predicted; editable)",
                                       allow_custom_value=True, elem_id="category")
                export = gr.Button("export mask (PNG + COCO RLE)", variant="primary", elem_id="export")
                files = gr.File(label="exports", file_count="multiple", interactive=False, elem_id="exports")
        upload.upload(on_upload, [upload, session], [session, picture, status, category])
        if examples:
            load_example.click(on_example, [example, session], [session, picture, status, category])
        picture.select(on_click, [session, mode], [session, picture, status, category])
        undo.click(on_undo, [session], [session, picture, status])
        reset.click(on_reset, [session], [session, picture, status])
        export.click(on_export, [session, category], [files, status])
    return demo


def configure_environment(out_dir: str | os.PathLike) -> Path:
    """Analytics off, gradio's upload cache inside ``out_dir``; call before gradio is imported."""
    out = Path(out_dir).resolve()
    (out / "cache").mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["GRADIO_TEMP_DIR"] = str(out / "cache")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_SSR_MODE", "False")
    return out


def find_examples(folder: str | os.PathLike | None, limit: int = 8) -> list[Path]:
    base = Path(folder or DEFAULT_EXAMPLES)
    if not base.is_dir():
        return []
    suffixes = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
    return sorted(p for p in base.iterdir() if p.suffix.lower() in suffixes)[:limit]


def serve(*, model: str, host: str = "127.0.0.1", port: int = 7860, out_dir: str = "data/clothing_segmentation/app",
          examples: str | None = None, max_pixels: int = MAX_PIXELS) -> None:
    """Load the model and serve the page until interrupted.

    Raises:
        DataError: no trained model at ``model``.
    """
    out = configure_environment(out_dir)
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own bomb guard, at the same limit
    import gradio as gr

    from projects.clothing_segmentation.predictor import load_segmenter

    segmenter = load_segmenter(model)
    segmenter.reset(np.zeros((64, 64, 3), np.uint8))  # trace the network now, not on the first user's click
    segmenter.predict([Click(32, 32, True)], None)
    controller = Controller(segmenter, out, max_pixels)
    demo = build_app(controller, find_examples(examples))
    log.info("serving on http://%s:%d (exports in %s)", host, port, out / "exports")
    font = ["ui-sans-serif", "system-ui", "sans-serif"]  # no web fonts: the page works offline
    theme = gr.themes.Default(font=font, font_mono=["ui-monospace", "monospace"])
    demo.queue(default_concurrency_limit=1).launch(
        server_name=host, server_port=port, share=False, inbrowser=False, show_error=False, quiet=True,
        ssr_mode=False, allowed_paths=[str(out / "exports")], max_file_size=200 * 1024 * 1024, theme=theme)

"""Load test of the web page: simulated users click on a running app over HTTP, as the browser does.

    python -m projects.clothing_segmentation.loadtest --url http://127.0.0.1:7860/ --users 20 --seconds 60 \\
        --image photo.png --out loadtest.json

Each user opens its own gradio session, uploads the image (through ``/gradio_api/upload``, as the page's file
input), then clicks in a bounded loop until the time is up: a positive click, then alternately negative and
positive clicks at random points (the gradio ``select`` event of the picture, through the queue, the same request
the browser sends), and an export every tenth click. The latency of every click is the time from the request to
the completed result (the new overlay). The users also send hostile names: an upload named
``../../outside.png`` and an export of a session whose image carries such a name; the test checks that nothing
is written outside the app's output folder (``--out-dir``, when given).

The app's queue runs one prediction at a time (``default_concurrency_limit=1``: one model, 2 cores), so under 20
users the latency is mostly waiting in the queue: p50/p95 say how long a user waits for the mask.

Output (JSON): users, seconds, clicks, errors (by message), click latency p50/p95/max (ms), exports, traversal
attempts and whether any file appeared outside the output folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from projects.clothing_segmentation.app import NEGATIVE, POSITIVE
from shared.io import write_json

log = logging.getLogger(__name__)

PREFIX = "/gradio_api"


class PageClient:
    """One browser tab: a gradio session (``session_hash``) that calls the page's events by name."""

    def __init__(self, url: str, timeout: float = 120.0):
        import httpx

        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=timeout)
        self.session = uuid.uuid4().hex[:11]
        config = self.http.get(f"{self.url}/config").raise_for_status().json()
        self.events = {d["api_name"]: (d["id"], d["targets"][0][0]) for d in config["dependencies"]}

    def upload(self, path: Path, name: str | None = None) -> dict:
        """Upload a file as the page's file input does; returns the FileData the event takes."""
        with open(path, "rb") as fh:
            response = self.http.post(f"{self.url}{PREFIX}/upload", files={"files": (name or path.name, fh)})
        server_path = response.raise_for_status().json()[0]
        return {"path": server_path, "orig_name": name or path.name, "meta": {"_type": "gradio.FileData"}}

    def call(self, event: str, data: list, event_data: dict | None = None) -> tuple[list | None, str | None]:
        """Run ``event`` through the queue; returns ``(outputs, error)``."""
        fn_index, trigger = self.events[event]
        joined = self.http.post(f"{self.url}{PREFIX}/queue/join", json={
            "data": data, "event_data": event_data, "fn_index": fn_index, "trigger_id": trigger,
            "session_hash": self.session})
        event_id = joined.raise_for_status().json()["event_id"]
        with self.http.stream("GET", f"{self.url}{PREFIX}/queue/data", params={"session_hash": self.session}) as s:
            for line in s.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") not in (None, event_id):
                    continue
                if message.get("msg") == "process_completed":
                    if not message.get("success", False):
                        return None, str((message.get("output") or {}).get("error") or "failed")
                    return message["output"]["data"], None
        return None, "the stream closed before the result"

    def close(self) -> None:
        self.http.close()


def _user(url: str, image: Path, size: tuple[int, int], deadline: float, seed: int, results: dict,
          lock: threading.Lock) -> None:
    rng = random.Random(seed)
    client = PageClient(url)
    latencies, errors, exports, clicks = [], Counter(), 0, 0
    try:
        hostile = rng.random() < 0.5  # half the users upload under a name that tries to leave the folder
        name = "../../outside_" + image.name if hostile else image.name
        _, error = client.call("on_upload", [client.upload(image, name), None])
        if error:
            errors[f"upload: {error}"] += 1
            return
        h, w = size
        while time.time() < deadline:
            positive = clicks % 2 == 0
            # positive clicks near the centre (where the garment is), negative ones anywhere
            x = int(rng.uniform(0.35, 0.65) * w) if positive else rng.randrange(w)
            y = int(rng.uniform(0.35, 0.65) * h) if positive else rng.randrange(h)
            start = time.perf_counter()
            out, error = client.call("on_click", [None, POSITIVE if positive else NEGATIVE],
                                     {"index": [x, y], "value": None, "selected": True})
            latencies.append(time.perf_counter() - start)
            clicks += 1
            if error or out is None:
                errors[f"click: {error}"] += 1
            elif "Error" in str(out[2]):
                errors[f"click: {out[2]}"] += 1
            if clicks % 10 == 0:
                out, error = client.call("on_export", [None, None])
                exports += error is None
                if error:
                    errors[f"export: {error}"] += 1
    except Exception as exc:  # noqa: BLE001 - a load test counts every failure instead of stopping
        errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
    finally:
        client.close()
        with lock:
            results["latencies"] += latencies
            results["errors"].update(errors)
            results["exports"] += exports
            results["clicks"] += clicks
            results["hostile_uploads"] += int(hostile)


def run(url: str, image: Path, *, users: int = 20, seconds: float = 60.0, out_dir: Path | None = None,
        seed: int = 0) -> dict:
    """``users`` simulated users for ``seconds`` against the page at ``url``; returns the figures (see the module doc).

    Raises:
        FileNotFoundError: ``image`` does not exist.
    """
    from shared.io import read_image

    image = Path(image)
    if not image.is_file():
        raise FileNotFoundError(f"no image at {image}")
    size = read_image(image).shape[:2]
    before = _files_outside(out_dir)
    results = {"latencies": [], "errors": Counter(), "exports": 0, "clicks": 0, "hostile_uploads": 0}
    lock = threading.Lock()
    deadline = time.time() + seconds
    threads = [threading.Thread(target=_user, args=(url, image, size, deadline, seed + i, results, lock))
               for i in range(users)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - start
    ms = np.asarray(results["latencies"]) * 1000
    figures = {
        "users": users, "seconds": round(wall, 1), "clicks": results["clicks"],
        "clicks_per_s": round(results["clicks"] / wall, 2) if wall else None,
        "latency_ms": {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)),
                       "max": float(ms.max())} if ms.size else None,
        "errors": dict(results["errors"]), "error_count": int(sum(results["errors"].values())),
        "exports": results["exports"], "hostile_uploads": results["hostile_uploads"],
    }
    if out_dir is not None:
        figures["files_written_outside_out_dir"] = sorted(map(str, _files_outside(out_dir) - before))
    return figures


def _files_outside(out_dir: Path | None) -> set[Path]:
    """Files next to ``out_dir`` (where a ``../`` name would land), to compare before and after."""
    if out_dir is None:
        return set()
    parent = Path(out_dir).resolve().parent
    return {p for p in parent.rglob("*outside*") if Path(out_dir).resolve() not in p.parents}


def main(argv: Sequence[str] | None = None) -> int:
    from shared.log import setup_logging

    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--url", required=True, help="the running app, e.g. http://127.0.0.1:7860/")
    parser.add_argument("--image", type=Path, required=True, help="the photo every user uploads")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out-dir", type=Path, default=None, help="the app's --out-dir, to check for escapes")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    setup_logging()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    figures = run(args.url, args.image, users=args.users, seconds=args.seconds, out_dir=args.out_dir, seed=args.seed)
    log.info("%s", json.dumps(figures))
    if args.out is not None:
        write_json(args.out, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

import functools
import hashlib
import http.server
import threading

import numpy as np
import pytest

from shared.data import ChecksumError, FetchError, fetch, make_dataset, split_indices


@pytest.fixture
def served(tmp_path):
    """A file served over HTTP on 127.0.0.1, as pooch would download it."""
    root = tmp_path / "server"
    root.mkdir()
    (root / "series.csv").write_text("Year,Mean\n2000,0.4\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sha = hashlib.sha256((root / "series.csv").read_bytes()).hexdigest()
    yield f"http://127.0.0.1:{server.server_address[1]}/series.csv", sha, root
    server.shutdown()


def test_download_verifies_checksum(tmp_path, served):
    url, sha, _ = served
    dest = tmp_path / "data" / "proj" / "raw" / "series.csv"
    path = fetch(url, sha, dest, external=tmp_path / "ext", progressbar=False)
    assert path.read_text().startswith("Year")
    assert fetch(url, sha, dest, external=tmp_path / "ext", progressbar=False) == path  # cached


def test_wrong_checksum_fails_clearly_and_keeps_nothing(tmp_path, served):
    url, _, _ = served
    dest = tmp_path / "raw" / "series.csv"
    with pytest.raises(ChecksumError, match="checksum"):
        fetch(url, "0" * 64, dest, external=tmp_path / "ext", progressbar=False)
    assert not dest.exists()


def test_file_url_quoted_name(tmp_path):
    src = tmp_path / "GLB.Ts+dSST.csv"
    src.write_text("x")
    sha = hashlib.sha256(b"x").hexdigest()
    url = "file://" + str(src).replace("+", "%2B")
    assert fetch(url, sha, tmp_path / "raw" / "GLB.Ts+dSST.csv", external=tmp_path / "e").read_text() == "x"


def test_file_url_and_bad_checksum(tmp_path, served):
    _, sha, root = served
    dest = tmp_path / "raw" / "series.csv"
    assert fetch(f"file://{root / 'series.csv'}", sha, dest, external=tmp_path / "ext").exists()
    with pytest.raises(ChecksumError, match="expected"):
        fetch(f"file://{root / 'series.csv'}", "1" * 64, tmp_path / "raw2" / "series.csv", external=tmp_path / "e")


def test_offline_message_names_the_external_file(tmp_path):
    ext = tmp_path / "data" / "proj" / "external"
    with pytest.raises(FetchError) as err:
        fetch("http://127.0.0.1:1/series.csv", "a" * 64, tmp_path / "raw" / "series.csv", external=ext,
              progressbar=False)
    message = str(err.value)
    assert str(ext / "series.csv") in message and "offline" in message and "\n" not in message


def test_hand_placed_external_file_wins_and_is_verified(tmp_path):
    ext = tmp_path / "external"
    ext.mkdir()
    (ext / "series.csv").write_text("hand placed")
    sha = hashlib.sha256(b"hand placed").hexdigest()
    assert fetch("http://127.0.0.1:1/series.csv", sha, tmp_path / "raw" / "series.csv", external=ext) == \
        ext / "series.csv"
    with pytest.raises(ChecksumError, match="replace it"):
        fetch("http://127.0.0.1:1/series.csv", "b" * 64, tmp_path / "raw" / "series.csv", external=ext)


def test_split_indices():
    parts = split_indices(10, [0.6, 0.2, 0.2], seed=0)
    assert [len(p) for p in parts] == [6, 2, 2]
    assert sorted(np.concatenate(parts).tolist()) == list(range(10))
    assert all((a == b).all() for a, b in zip(parts, split_indices(10, [0.6, 0.2, 0.2], seed=0)))
    with pytest.raises(ValueError, match="sum to 1"):
        split_indices(10, [0.5, 0.2], seed=0)


def test_make_dataset_batches():
    ds = make_dataset(np.arange(10.0)[:, None], np.arange(10), batch_size=4, shuffle=True, seed=1,
                      augment=lambda x, y: (x * 2, y))
    batches = list(ds.as_numpy_iterator())
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    xs = np.concatenate([b[0] for b in batches])[:, 0]
    ys = np.concatenate([b[1] for b in batches])
    np.testing.assert_array_equal(xs, ys * 2.0)

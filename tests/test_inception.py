"""inception.py: the Inception weights fetched on first use with torch.hub's downloader, served here from a
loopback HTTP server (a good file loads, a corrupt one is refused and removed, offline says how to get it),
and never fetched by training without evaluation."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import threading

import pytest
import torch

from gan_cli.errors import UserError
from gan_cli.inception import SIZE, InceptionFeatures, fid_inception_v3, get_weights, hub_path
from gan_cli.train import train
from tests.helpers import FAST, RING, SMALL_DCGAN, make_cfg


class Server:
    """Files of a folder over HTTP on 127.0.0.1, counting the requests."""

    def __init__(self, root) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):  # quiet
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
        )
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path, monkeypatch):
    root = tmp_path / "served"
    root.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # an empty hub cache per test
    s = Server(root)
    s.root = root
    yield s
    s.close()


@pytest.fixture(scope="module")
def made_up_weights() -> bytes:
    """A weights file of the exact architecture with random values (the real one is not on this machine)."""
    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.save(fid_inception_v3().state_dict(), buf)
    return buf.getvalue()


def serve(server, data: bytes, hash_part: str) -> str:
    name = f"pt_inception-2015-12-05-{hash_part}.pth"
    (server.root / name).write_bytes(data)
    return server.url(name)


def test_a_good_file_is_downloaded_once_into_the_hub_cache_and_loads(server, made_up_weights, monkeypatch):
    url = serve(server, made_up_weights, hashlib.sha256(made_up_weights).hexdigest()[:8])
    monkeypatch.setenv("GAN_CLI_INCEPTION_URL", url)
    path, why = get_weights(None)
    assert why == "" and path == hub_path() and path.read_bytes() == made_up_weights
    assert path.parent.name == "checkpoints" and len(server.requests) == 1
    net = InceptionFeatures(path)
    pool, logits = net(torch.rand(2, 1, 8, 8) * 2 - 1)
    assert pool.shape == (2, 2048) and logits.shape == (2, 1008)
    assert get_weights(None) == (path, "") and len(server.requests) == 1  # found in the cache: no download


def test_a_corrupt_download_is_refused_with_a_clear_error_and_removed(server, made_up_weights, monkeypatch):
    corrupt = made_up_weights[:1000] + b"\0" * 1000  # truncated, so its hash is not the name's
    url = serve(server, corrupt, hashlib.sha256(made_up_weights).hexdigest()[:8])
    monkeypatch.setenv("GAN_CLI_INCEPTION_URL", url)
    with pytest.raises(UserError) as err:
        get_weights(None)
    text = str(err.value)
    assert url in text and "not the expected file" in text and str(hub_path()) in text and SIZE in text
    assert not hub_path().exists() and list(hub_path().parent.iterdir()) == []  # no partial file either
    assert len(server.requests) == 1


def test_offline_the_metrics_are_left_out_with_the_file_its_size_url_and_place(server, monkeypatch):
    missing = server.url("pt_inception-2015-12-05-6726825d.pth")  # 404 here, as a network that fails
    monkeypatch.setenv("GAN_CLI_INCEPTION_URL", missing)
    path, why = get_weights(None)
    assert path is None and not hub_path().exists()
    for part in (missing, SIZE, str(hub_path()), "inception=PATH", "inception=none"):
        assert part in why, part


def test_inception_none_and_a_given_path_never_download(server, made_up_weights, tmp_path, monkeypatch):
    url = serve(server, made_up_weights, hashlib.sha256(made_up_weights).hexdigest()[:8])
    monkeypatch.setenv("GAN_CLI_INCEPTION_URL", url)
    assert get_weights("none") == (None, "inception=none")
    given = tmp_path / "mine.pth"
    given.write_bytes(made_up_weights)
    assert get_weights(str(given)) == (given, "")
    with pytest.raises(UserError, match="no such file"):
        get_weights(str(tmp_path / "missing.pth"))
    assert server.requests == []


@pytest.mark.slow
def test_training_without_image_evaluation_never_downloads(server, made_up_weights, tmp_path, monkeypatch):
    url = serve(server, made_up_weights, hashlib.sha256(made_up_weights).hexdigest()[:8])
    monkeypatch.setenv("GAN_CLI_INCEPTION_URL", url)
    train(make_cfg([*FAST, *SMALL_DCGAN, "dataset.image_size=8"]), tmp_path / "images")  # no eval_every
    train(make_cfg([*FAST, *RING, "train.eval_every=3"]), tmp_path / "points")  # no Inception for 2-D
    assert server.requests == [] and not hub_path().exists()

"""Fixtures shared by every test folder: one torch thread, and the tiny data mirror on disk and over HTTP."""

from __future__ import annotations

import functools
import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/fixtures.py, the tiny-data builders

from fixtures import write_fixture_mirror


@pytest.fixture
def one_thread():
    """One torch thread for the test, as the workflow trains: bitwise comparisons of batched and single
    products hold with it (with more threads MKL may split a product differently)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Mirror(NamedTuple):
    """A data mirror of the tiny MNIST and IMDB stand-ins (:func:`fixtures.write_fixture_mirror`).

    ``url`` is the value for ``data_mirror`` (the folder itself, or its address over HTTP), ``root`` the
    folder behind it, ``digests`` what :func:`~fixtures.write_fixture_mirror` returned. Shared by the whole
    session: read it, never change it (copy it to ``tmp_path`` first).
    """

    url: str
    root: Path
    digests: dict


@pytest.fixture(scope="session")
def fixture_mirror(tmp_path_factory) -> Mirror:
    """The tiny data mirror as a folder, written once per session (the builders are byte-deterministic)."""
    root = tmp_path_factory.mktemp("mirror")
    return Mirror(str(root), root, write_fixture_mirror(root))


class _MirrorHandler(http.server.SimpleHTTPRequestHandler):
    """Serves one folder, quietly; ``GET /short.bin`` is a download cut short (1000 bytes promised, 10 sent)."""

    timeout = 30  # seconds a silent client may hold its connection (and a server thread)

    def do_GET(self):
        if self.path == "/short.bin":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, format, *args):
        pass  # keep the test output quiet


@pytest.fixture(scope="session")
def http_mirror(fixture_mirror) -> Iterator[Mirror]:
    """:func:`fixture_mirror` served over HTTP on 127.0.0.1 (a free port), for the session; shut down after it.

    ``url`` has no trailing slash. Proxies are bypassed for the loopback address, in this process and in
    the Snakemake processes it starts.
    """
    handler = functools.partial(_MirrorHandler, directory=str(fixture_mirror.root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True  # a hung request never blocks the end of the session
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    with pytest.MonkeyPatch.context() as env:
        for var in ("no_proxy", "NO_PROXY"):
            env.setenv(var, "127.0.0.1,localhost")
        try:
            yield fixture_mirror._replace(url=f"http://127.0.0.1:{server.server_address[1]}")
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

"""Serve the demo's Django project over real HTTP on 127.0.0.1, in a thread.

The stand-in ESPs post their webhook events here, so the demo exercises the
whole receiving path: HTTP, Django's request handling, Anymail's webhook view
and the tracking signal.
"""

from __future__ import annotations

import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass


class DjangoServer:
    """The Django WSGI application on an ephemeral 127.0.0.1 port.

    Use as a context manager; ``url(path)`` gives the absolute URL of a path.
    Django must already be set up.
    """

    def __init__(self):
        from django.core.wsgi import get_wsgi_application

        self._server = make_server(
            "127.0.0.1",
            0,
            get_wsgi_application(),
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="demo-django", daemon=True
        )

    def __enter__(self) -> DjangoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

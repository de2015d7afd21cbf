"""A local stand-in for ESP send APIs, served over real HTTP on 127.0.0.1.

Used by the demo script, by tests that need a real HTTP peer (connection reuse,
timeouts, error bodies) and by benchmarks. Standard library only: this module must
not import Django or anymail.

Usage::

    with StandIn() as standin:
        api_url = standin.api_url("postmark")  # http://127.0.0.1:PORT/postmark/
        ...  # point a backend's API_URL at it and send
        request = standin.last_request  # ReceivedRequest: .json(), .form(), ...

Each ESP is mounted under its own path prefix (see :meth:`StandIn.api_url`):

- ``postmark`` at ``/postmark/``: ``email``, ``email/batch``, ``email/withTemplate/``,
  ``email/batchWithTemplates`` and ``email/bulk`` answer like Postmark.
- ``mailgun`` at ``/mailgun/v3/``: ``<domain>/messages`` answers like Mailgun. The
  domain ``unknown.example.com`` gets Mailgun's "Domain not found" 404.

Any other ``/<name>/`` prefix is recorded and answers 404 unless a response is
scripted with :meth:`StandIn.respond_next` or a handler is installed with
:meth:`StandIn.set_handler`.

Run ``python -m example.standin [--port N]`` to serve in the foreground.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http
import itertools
import json as jsonlib
import selectors
import socket
import socketserver
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from email.parser import HeaderParser
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, unquote_to_bytes

__all__ = [
    "DEFAULT_HANDLERS",
    "ESP_API_PATHS",
    "ReceivedRequest",
    "Response",
    "StandIn",
    "mailgun_handler",
    "postmark_handler",
]

#: Path (below the server root) where each ESP's API is mounted, when it differs
#: from the default ``<esp>/``. Must end with "/".
ESP_API_PATHS: dict[str, str] = {
    "mailgun": "mailgun/v3/",
}

#: Longest request line, header line or chunk-size line accepted.
_MAX_LINE = 65536
#: Most header lines accepted in one request.
_MAX_HEADERS = 100


# --------------------------------------------------------------------------------------
# Requests received
# --------------------------------------------------------------------------------------


@dataclass
class ReceivedRequest:
    """One HTTP request received by the stand-in."""

    method: str
    #: The full request target as received, e.g. "/postmark/email?x=1".
    path: str
    #: The ESP whose API prefix the path falls under ("postmark", "mailgun", ...),
    #: or None if it isn't under any ``/<name>/`` prefix.
    esp: str | None
    #: The path relative to the ESP's API prefix, without query string and still
    #: percent-encoded, e.g. "email/batch" or "mg.example.com/messages".
    #: Relative to the server root when ``esp`` is None.
    endpoint: str
    #: The query string (without "?"), "" if none.
    query: str
    #: Request headers; lookups are case-insensitive (``headers["content-type"]``,
    #: ``headers.get(...)``, ``headers.get_all(...)``).
    headers: Message
    #: The request body. Empty if the StandIn was created with record_bodies=False.
    body: bytes
    #: Number of body bytes received (even when the body was not recorded).
    body_length: int
    #: Identifies the TCP connection the request arrived on (1, 2, 3, ... per StandIn).
    #: Requests sent over one keep-alive connection share it.
    connection_id: int
    #: time.time() when the request was fully read.
    timestamp: float = field(default_factory=time.time)

    def header(self, name: str, default: str | None = None) -> str | None:
        """The (first) value of header `name` (case-insensitive), else `default`."""
        return self.headers.get(name, default)

    @property
    def content_type(self) -> str:
        """The media type of the body, lowercased, without parameters ("" if none)."""
        value = self.headers.get("Content-Type", "")
        return value.split(";", 1)[0].strip().lower()

    @property
    def auth(self) -> tuple[str, str] | None:
        """(username, password) from an HTTP Basic Authorization header, else None."""
        value = self.headers.get("Authorization", "")
        scheme, _, credentials = value.strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        username, sep, password = decoded.decode("utf-8", "replace").partition(":")
        if not sep:
            return None
        return username, password

    def text(self, encoding: str = "utf-8") -> str:
        """The body decoded as text."""
        return self.body.decode(encoding)

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError if it isn't JSON)."""
        return jsonlib.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        """Form fields: field name -> list of values, in order.

        Works for application/x-www-form-urlencoded and multipart/form-data bodies.
        For multipart, only non-file parts are included (see :meth:`files`).
        Raises ValueError for other content types.
        """
        content_type = self.content_type
        if content_type == "application/x-www-form-urlencoded":
            return parse_qs(
                self.body.decode("ascii", "replace"),
                keep_blank_values=True,
                encoding="utf-8",
                errors="replace",
            )
        if content_type == "multipart/form-data":
            fields: dict[str, list[str]] = {}
            for part in self.parts():
                if part.filename is None:
                    fields.setdefault(part.name, []).append(part.text())
            return fields
        raise ValueError(f"Not a form body (Content-Type {content_type!r})")

    def files(self) -> list[tuple[str, str, str, bytes]]:
        """File parts of a multipart/form-data body, in order.

        Each is ``(field_name, filename, content_type, content_bytes)``;
        content_type is the part's full Content-Type header ("" if it had none).
        Returns [] for bodies that aren't multipart/form-data.
        """
        if self.content_type != "multipart/form-data":
            return []
        return [
            (part.name, part.filename, part.content_type, part.content)
            for part in self.parts()
            if part.filename is not None
        ]

    def parts(self) -> list[MultipartPart]:
        """All parts of a multipart body (file and non-file), else []."""
        if not self.content_type.startswith("multipart/"):
            return []
        _, params = _parse_header_params(self.headers.get("Content-Type", ""))
        boundary = params.get("boundary")
        if not boundary:
            raise ValueError("multipart body without a boundary parameter")
        return _parse_multipart(self.body, boundary)


@dataclass
class MultipartPart:
    """One part of a multipart/form-data body."""

    #: Header name (lowercased) -> value
    headers: dict[str, str]
    #: The Content-Disposition "name" parameter ("" if missing)
    name: str
    #: The Content-Disposition "filename" (or decoded "filename*") parameter;
    #: None when the part is not a file
    filename: str | None
    #: The part's full Content-Type header, "" if none
    content_type: str
    content: bytes

    def text(self) -> str:
        _, params = _parse_header_params(self.content_type)
        charset = params.get("charset") or "utf-8"
        try:
            return self.content.decode(charset, "replace")
        except LookupError:
            return self.content.decode("utf-8", "replace")


def _split_params(value: str) -> list[str]:
    """Split a header value on ';' outside of quoted strings."""
    items, current, in_quotes, escaped = [], [], False, False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\" and in_quotes:
            current.append(char)
            escaped = True
        elif char == '"':
            current.append(char)
            in_quotes = not in_quotes
        elif char == ";" and not in_quotes:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return items


def _unquote_param(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        chars, escaped = [], False
        for char in value[1:-1]:
            if escaped:
                chars.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            else:
                chars.append(char)
        return "".join(chars)
    return value


def _parse_header_params(value: str) -> tuple[str, dict[str, str]]:
    """Parse 'main; a=1; b="two"' -> ("main", {"a": "1", "b": "two"}).

    Parameter names are lowercased. RFC 2231/5987 ``name*=charset''pct-encoded``
    parameters are decoded and stored under the plain name (taking precedence).
    """
    items = _split_params(value)
    main = items[0].strip()
    params: dict[str, str] = {}
    extended: dict[str, str] = {}
    for item in items[1:]:
        name, sep, raw = item.partition("=")
        if not sep:
            continue
        name = name.strip().lower()
        if name.endswith("*"):
            raw = _unquote_param(raw)
            charset, _, rest = raw.partition("'")
            _language, _, encoded = rest.partition("'")
            try:
                extended[name[:-1]] = unquote_to_bytes(encoded).decode(
                    charset or "utf-8", "replace"
                )
            except LookupError:
                extended[name[:-1]] = unquote(encoded)
        else:
            params[name] = _unquote_param(raw)
    params.update(extended)
    return main, params


def _parse_part_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    last = None
    for line in block.decode("utf-8", "surrogateescape").split("\r\n"):
        if line[:1] in (" ", "\t") and last is not None:
            headers[last] += " " + line.strip()  # folded continuation line
            continue
        name, sep, value = line.partition(":")
        if sep:
            last = name.strip().lower()
            headers[last] = value.strip()
    return headers


def _parse_multipart(body: bytes, boundary: str) -> list[MultipartPart]:
    delimiter = b"--" + boundary.encode("latin-1")
    next_delimiter = b"\r\n" + delimiter
    view = memoryview(body)
    parts = []
    pos = body.find(delimiter)
    while pos >= 0:
        pos += len(delimiter)
        if body.startswith(b"--", pos):
            break  # close-delimiter
        line_end = body.find(b"\r\n", pos)
        if line_end < 0:
            break
        start = line_end + 2
        end = body.find(next_delimiter, start)
        if end < 0:
            break  # truncated body: ignore the incomplete part
        if body.startswith(b"\r\n", start):
            header_block, content_start = b"", start + 2
        else:
            header_end = body.find(b"\r\n\r\n", start, end)
            if header_end < 0:
                header_block, content_start = bytes(view[start:end]), end
            else:
                header_block, content_start = (
                    bytes(view[start:header_end]),
                    header_end + 4,
                )
        headers = _parse_part_headers(header_block)
        _, disposition = _parse_header_params(headers.get("content-disposition", ""))
        parts.append(
            MultipartPart(
                headers=headers,
                name=disposition.get("name", ""),
                filename=disposition.get("filename"),
                content_type=headers.get("content-type", ""),
                content=bytes(view[content_start:end]),
            )
        )
        pos = end + 2
    view.release()
    return parts


# --------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------


@dataclass
class Response:
    """A response for the stand-in to send (or a connection drop)."""

    status: int = 200
    #: dict/list -> JSON-encoded; str -> UTF-8 encoded; bytes as-is; None -> empty
    body: Any = None
    content_type: str = "application/json"
    #: Extra response headers
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering. None means use the StandIn's default delay.
    delay: float | None = None
    #: Close the connection without answering
    drop: bool = False

    def body_bytes(self) -> bytes:
        body = self.body
        if body is None:
            return b""
        if isinstance(body, bytes | bytearray | memoryview):
            return bytes(body)
        if isinstance(body, str):
            return body.encode("utf-8")
        return jsonlib.dumps(body).encode("utf-8")


#: A handler gets the ReceivedRequest for its ESP and returns the Response to send.
Handler = Callable[[ReceivedRequest], Response]


def _not_found() -> Response:
    return Response(404, {"message": "not found"})


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def postmark_handler(request: ReceivedRequest) -> Response:
    """Answer like Postmark's email send endpoints."""
    endpoint = request.endpoint.rstrip("/").lower()
    if endpoint not in {
        "email",
        "email/batch",
        "email/withtemplate",
        "email/batchwithtemplates",
        "email/bulk",
    }:
        return _not_found()
    if request.method != "POST":
        return Response(405, {"ErrorCode": 0, "Message": "Method not allowed."})
    if not request.header("X-Postmark-Server-Token"):
        return Response(
            401,
            {
                "ErrorCode": 10,
                "Message": "No Account or Server API tokens were supplied "
                "in the HTTP headers.",
            },
        )
    invalid_json = Response(
        422, {"ErrorCode": 402, "Message": "Received invalid JSON input."}
    )
    try:
        data = jsonlib.loads(request.body)
    except ValueError:
        return invalid_json

    def result(message: Any) -> dict:
        to = message.get("To") if isinstance(message, dict) else None
        return {
            "To": to if isinstance(to, str) else "",
            "SubmittedAt": _now_iso(),
            "MessageID": str(uuid.uuid4()),
            "ErrorCode": 0,
            "Message": "OK",
        }

    if endpoint == "email/batch":
        if not isinstance(data, list):
            return invalid_json
        return Response(200, [result(message) for message in data])
    messages = data.get("Messages") if isinstance(data, dict) else None
    if endpoint == "email/batchwithtemplates":
        if not isinstance(messages, list):
            return invalid_json
        return Response(200, [result(message) for message in messages])
    if endpoint == "email/bulk":
        if not isinstance(messages, list):
            return invalid_json
        return Response(
            200,
            {
                "Id": str(uuid.uuid4()),
                "SubmittedAt": _now_iso(),
                "TotalMessages": len(messages),
                "PercentageCompleted": 0,
                "Status": "Accepted",
            },
        )
    if not isinstance(data, dict):
        return invalid_json
    return Response(200, result(data))  # email, email/withTemplate/


_mailgun_counter = itertools.count(1)

#: Mailgun sender domain for which the stand-in answers "Domain not found"
MAILGUN_UNKNOWN_DOMAIN = "unknown.example.com"


def mailgun_handler(request: ReceivedRequest) -> Response:
    """Answer like Mailgun's ``<domain>/messages`` endpoint."""
    segments = request.endpoint.split("/")
    if len(segments) != 2 or not segments[0] or segments[1] != "messages":
        return _not_found()
    if request.method != "POST":
        return Response(405, {"message": "Method not allowed"})
    auth = request.auth
    if auth is None or auth[0] != "api":
        return Response(401, "Forbidden", content_type="text/plain")
    domain = unquote(segments[0])
    if domain.lower() == MAILGUN_UNKNOWN_DOMAIN:
        return Response(404, {"message": f"Domain not found: {domain}"})
    message_id = "<{stamp}.{n}.{hex}@{domain}>".format(
        stamp=datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S"),
        n=next(_mailgun_counter),
        hex=uuid.uuid4().hex[:16].upper(),
        domain=domain,
    )
    return Response(200, {"id": message_id, "message": "Queued. Thank you."})


#: The ESP handlers every StandIn starts with
DEFAULT_HANDLERS: dict[str, Handler] = {
    "postmark": postmark_handler,
    "mailgun": mailgun_handler,
}


# --------------------------------------------------------------------------------------
# The HTTP server
# --------------------------------------------------------------------------------------


class _IncompleteRequest(ConnectionError):
    """The client closed the connection (or sent garbage) mid-request."""


class _RequestHandler(BaseHTTPRequestHandler):
    """Handles one TCP connection (possibly many keep-alive requests)."""

    protocol_version = "HTTP/1.1"
    server_version = "anymail-standin/1.0"
    sys_version = ""
    disable_nagle_algorithm = True  # (also set by the server on accept)
    rbufsize = 64 * 1024
    wbufsize = 0  # wfile.write() goes straight to socket.sendall()
    server: _Server

    def setup(self) -> None:
        standin = self.server.standin
        self.standin = standin
        self.timeout = standin.idle_timeout
        super().setup()
        self.connection_id = standin._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.standin._connection_closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    # --- reading -------------------------------------------------------------------

    def parse_request(self) -> bool:
        """Parse the request line and headers (BaseHTTPRequestHandler's contract).

        http.server parses headers with email's full message parser, which, for a
        multipart Content-Type, compiles a regular expression for the boundary:
        ~0.1 ms of server time per request, since every multipart request has a
        new boundary. The body is read separately (_read_body), so the headers are
        parsed as headers only.
        """
        self.command = None
        self.request_version = self.protocol_version  # (errors get a status line)
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if not words:
            return False
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            self.send_error(400, f"Bad request line ({self.requestline!r})")
            return False
        self.command, self.path, self.request_version = words
        try:
            self.headers = self._read_headers()
        except _IncompleteRequest as error:
            self.send_error(431, str(error))
            return False
        connection = self.headers.get("Connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        if self.headers.get("Expect", "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

    def _read_headers(self) -> HTTPMessage:
        lines = []
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE:
                raise _IncompleteRequest("header line too long")
            if line in (b"\r\n", b"\n", b""):
                break
            lines.append(line)
            if len(lines) > _MAX_HEADERS:
                raise _IncompleteRequest(f"more than {_MAX_HEADERS} headers")
        text = b"".join(lines).decode("iso-8859-1")
        return HeaderParser(_class=HTTPMessage).parsestr(text)

    def _read_exact(self, length: int) -> bytes:
        # BufferedReader.read(n) reads large amounts straight into the result object
        data = self.rfile.read(length)
        if len(data) != length:
            raise _IncompleteRequest(f"expected {length} body bytes, got {len(data)}")
        return data

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            if not line.endswith(b"\n"):
                raise _IncompleteRequest("bad chunk size line")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _IncompleteRequest("bad chunk size line")
            if size == 0:
                while self.rfile.readline(_MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass  # discard trailers
                return b"".join(chunks)
            chunks.append(self._read_exact(size))
            self.rfile.readline(_MAX_LINE + 1)  # CRLF after chunk data

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        content_length = self.headers.get("Content-Length")
        if content_length is None:
            return b""
        try:
            length = int(content_length)
            if length < 0:
                raise ValueError
        except ValueError:
            raise _IncompleteRequest(f"bad Content-Length {content_length!r}")
        return self._read_exact(length) if length else b""

    # --- answering -----------------------------------------------------------------

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except _IncompleteRequest:
            self.close_connection = True
            self._send(Response(400, {"message": "bad request"}))
            return
        standin = self.standin
        esp, endpoint, query = standin._route(self.path)
        request = ReceivedRequest(
            method=self.command,
            path=self.path,
            esp=esp,
            endpoint=endpoint,
            query=query,
            headers=self.headers,
            body=body,
            body_length=len(body),
            connection_id=self.connection_id,
        )
        response = standin._respond(request)
        if not standin.record_bodies:
            request.body = b""
        standin._record(request, response)

        delay = response.delay if response.delay is not None else standin.default_delay
        if delay and delay > 0 and standin._stopping.wait(delay):
            self.close_connection = True  # stopping: give up on this request
            return
        if response.drop:
            self.close_connection = True  # close without answering
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        body = response.body_bytes()
        try:
            reason = http.HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
        ]
        if response.content_type:
            lines.append(f"Content-Type: {response.content_type}")
        lines.append(f"Content-Length: {len(body)}")
        for name, value in response.headers.items():
            if name.lower() == "connection" and value.strip().lower() == "close":
                self.close_connection = True
            elif name.lower() not in ("content-length", "connection"):
                lines.append(f"{name}: {value}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # One buffer, one write (avoids Nagle/delayed-ACK stalls on keep-alive).
        self.wfile.write(head if self.command == "HEAD" else head + body)

    # BaseHTTPRequestHandler dispatches each request to do_<METHOD>
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128
    timeout = 1.0  # handle_request() is only called once the socket is readable

    def __init__(self, address: tuple[str, int], standin: StandIn) -> None:
        self.standin = standin
        super().__init__(address, _RequestHandler)

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):  # disconnects etc. are expected
            self.standin.errors.append(error)


class StandIn:
    """A threaded local HTTP server answering like ESP send APIs.

    :param host: interface to listen on
    :param port: port to listen on; 0 (default) lets the OS choose
    :param record_bodies: if False, recorded requests keep only ``body_length``
        (``body`` is b""), for big-body benchmarks
    :param default_delay: seconds to wait before every answer (see
        :meth:`set_default_delay`)
    :param idle_timeout: if set, close connections idle (or stalled) for this
        many seconds
    :param on_request: optional callable ``(request, response)`` invoked for each
        request after its response is chosen (before any delay)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        record_bodies: bool = True,
        default_delay: float = 0.0,
        idle_timeout: float | None = None,
        on_request: Callable[[ReceivedRequest, Response], None] | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.record_bodies = record_bodies
        self.default_delay = default_delay
        self.idle_timeout = idle_timeout
        self.on_request = on_request
        self.handlers: dict[str, Handler] = dict(DEFAULT_HANDLERS)
        #: Every request received, in order of completion
        self.requests: list[ReceivedRequest] = []
        #: Unexpected exceptions inside the server (handler bugs); normally empty
        self.errors: list[BaseException] = []
        #: Number of TCP connections accepted so far
        self.connections_opened = 0
        self._lock = threading.Lock()
        self._scripted: deque[Response] = deque()
        self._connection_ids = itertools.count(1)
        self._open_connections: dict[socket.socket, threading.Thread] = {}
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._wake_r: socket.socket | None = None  # socketpair waking the accept loop
        self._wake_w: socket.socket | None = None

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> StandIn:
        """Start serving in a background daemon thread. Returns self."""
        if self._server is not None:
            raise RuntimeError("StandIn already started")
        self._stopping.clear()
        self._server = _Server((self.host, self._requested_port), self)
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(
            target=self._serve,
            args=(self._server, self._wake_r),
            name=f"StandIn:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def _serve(self, server: _Server, wake: socket.socket) -> None:
        # Like serve_forever(), but stop() wakes it at once (no poll interval).
        with selectors.DefaultSelector() as selector:
            selector.register(server, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is server and not self._stopping.is_set():
                        server.handle_request()  # accept; handled in a new thread

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, close all connections and join threads. Idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # also interrupts delays
        with contextlib.suppress(OSError, AttributeError):
            self._wake_w.send(b"x")
        deadline = time.monotonic() + timeout
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
        server.server_close()
        for wake in (self._wake_r, self._wake_w):
            if wake is not None:
                wake.close()
        self._wake_r = self._wake_w = None
        with self._lock:
            connections = list(self._open_connections.items())
        for sock, _ in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes handlers blocked in recv
        for _, handler_thread in connections:
            handler_thread.join(max(0.0, deadline - time.monotonic()))
        self._server = self._thread = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    # --- addresses -----------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("StandIn not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Base URL, e.g. "http://127.0.0.1:54321/"."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @staticmethod
    def api_path(esp: str) -> str:
        """Path (below the root, ending in "/") where `esp`'s API is mounted."""
        esp = esp.lower()
        if not esp or "/" in esp:
            raise ValueError(f"Invalid ESP name {esp!r}")
        return ESP_API_PATHS.get(esp, f"{esp}/")

    def api_url(self, esp: str) -> str:
        """The API base URL for `esp`, suitable for its backend's API_URL setting.

        "postmark" -> "http://127.0.0.1:PORT/postmark/",
        "mailgun" -> "http://127.0.0.1:PORT/mailgun/v3/",
        any other name -> "http://127.0.0.1:PORT/<name>/".
        """
        return self.url + self.api_path(esp)

    # --- scripting -----------------------------------------------------------------

    def respond_next(
        self,
        status: int = 200,
        body: Any = None,
        content_type: str = "application/json",
        delay: float | None = None,
        *,
        drop: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Queue a canned response for the next request (FIFO, any path).

        `body` may be a dict/list (JSON-encoded), str, bytes or None (empty).
        `delay` seconds are waited before answering (None: the default delay).
        `drop=True` closes the connection without answering (after any delay).
        """
        response = Response(
            status=status,
            body=body,
            content_type=content_type,
            headers=dict(headers or {}),
            delay=delay,
            drop=drop,
        )
        with self._lock:
            self._scripted.append(response)
        return response

    def set_default_delay(self, seconds: float) -> None:
        """Wait `seconds` before every answer without its own scripted delay."""
        self.default_delay = seconds

    def set_handler(self, esp: str, handler: Handler | None) -> None:
        """Install (or with None, remove) the default-answer handler for `esp`."""
        if handler is None:
            self.handlers.pop(esp.lower(), None)
        else:
            self.handlers[esp.lower()] = handler

    @property
    def pending_responses(self) -> int:
        """Number of scripted responses not yet used."""
        with self._lock:
            return len(self._scripted)

    # --- inspection ----------------------------------------------------------------

    @property
    def last_request(self) -> ReceivedRequest | None:
        with self._lock:
            return self.requests[-1] if self.requests else None

    def clear(self) -> None:
        """Forget recorded requests."""
        with self._lock:
            self.requests.clear()

    def reset(self) -> None:
        """Forget requests, scripted responses and errors; reset the default delay."""
        with self._lock:
            self.requests.clear()
            self._scripted.clear()
            self.errors.clear()
        self.default_delay = 0.0

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until at least `count` requests are recorded. Returns success."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    # --- internals (called from handler threads) -----------------------------------

    def _connection_opened(self, sock: socket.socket) -> int:
        with self._lock:
            self.connections_opened += 1
            self._open_connections[sock] = threading.current_thread()
            connection_id = next(self._connection_ids)
        if self._stopping.is_set():  # accepted while stopping: don't serve it
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return connection_id

    def _connection_closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open_connections.pop(sock, None)

    def _route(self, target: str) -> tuple[str | None, str, str]:
        """Request target -> (esp, endpoint, query)."""
        path, _, query = target.partition("?")
        relative = path.lstrip("/")
        esp, sep, _ = relative.partition("/")
        if sep and esp:
            esp = esp.lower()
            prefix = self.api_path(esp)
            if relative.lower().startswith(prefix):
                return esp, relative[len(prefix) :], query
        return None, relative, query

    def _respond(self, request: ReceivedRequest) -> Response:
        with self._lock:
            scripted = self._scripted.popleft() if self._scripted else None
        if scripted is not None:
            return scripted
        handler = self.handlers.get(request.esp) if request.esp else None
        if handler is None:
            return _not_found()
        try:
            return handler(request)
        except Exception as error:
            self.errors.append(error)
            return Response(500, "".join(traceback.format_exc()), "text/plain")

    def _record(self, request: ReceivedRequest, response: Response) -> None:
        with self._lock:
            self.requests.append(request)
        if self.on_request is not None:
            try:
                self.on_request(request, response)
            except Exception as error:
                self.errors.append(error)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m example.standin",
        description="Serve local stand-ins for ESP send APIs until Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="default: any free port")
    parser.add_argument(
        "--quiet", action="store_true", help="don't print a line per request"
    )
    args = parser.parse_args(argv)

    def log(request: ReceivedRequest, response: Response) -> None:
        outcome = "(dropped)" if response.drop else response.status
        print(
            f"{request.method} {request.path} [{request.body_length} bytes] "
            f"-> {outcome}",
            flush=True,
        )

    standin = StandIn(args.host, args.port, on_request=None if args.quiet else log)
    with standin:
        print(f"ESP stand-in listening at {standin.url}", flush=True)
        for esp in DEFAULT_HANDLERS:
            print(f"  {esp}: {standin.api_url(esp)}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Tests for example.standin, the local HTTP stand-in for ESP send APIs.

These use `requests` directly over real HTTP on 127.0.0.1 (no Django, no anymail).
"""

import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from example.standin import ReceivedRequest, Response, StandIn

POSTMARK_HEADERS = {"X-Postmark-Server-Token": "test-server-token"}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAILGUN_ID_RE = re.compile(r"^<\d{14}\.\d+\.[0-9A-F]+@(?P<domain>[^>]+)>$")


@pytest.fixture
def standin():
    with StandIn() as server:
        yield server
    assert server.errors == []


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


def postmark_post(session, standin, endpoint, payload, **kwargs):
    headers = kwargs.pop("headers", POSTMARK_HEADERS)
    return session.post(
        standin.api_url("postmark") + endpoint, json=payload, headers=headers, **kwargs
    )


def assert_postmark_result(result, to):
    assert result["To"] == to
    assert result["ErrorCode"] == 0
    assert result["Message"] == "OK"
    assert UUID_RE.match(result["MessageID"])
    assert isinstance(result["SubmittedAt"], str) and result["SubmittedAt"]


# --- addresses ---------------------------------------------------------------------


def test_urls(standin):
    assert re.match(r"^http://127\.0\.0\.1:\d+/$", standin.url)
    assert standin.port > 0
    assert standin.api_url("postmark") == standin.url + "postmark/"
    assert standin.api_url("mailgun") == standin.url + "mailgun/v3/"
    assert standin.api_url("other") == standin.url + "other/"


def test_not_started():
    server = StandIn()
    assert not server.running
    with pytest.raises(RuntimeError):
        server.url  # noqa: B018
    server.stop()  # harmless


# --- Postmark ----------------------------------------------------------------------


def test_postmark_email(standin, session):
    payload = {"From": "from@example.com", "To": "Bob <bob@example.com>"}
    response = postmark_post(session, standin, "email", payload)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert_postmark_result(response.json(), "Bob <bob@example.com>")

    request = standin.last_request
    assert isinstance(request, ReceivedRequest)
    assert request.method == "POST"
    assert request.path == "/postmark/email"
    assert request.esp == "postmark"
    assert request.endpoint == "email"
    assert request.json() == payload
    assert request.header("x-postmark-server-token") == "test-server-token"
    assert request.headers["X-POSTMARK-SERVER-TOKEN"] == "test-server-token"
    assert request.header("X-Missing", "default") == "default"
    assert request.content_type == "application/json"


def test_postmark_email_without_to(standin, session):
    response = postmark_post(session, standin, "email", {"Cc": "cc@example.com"})
    assert response.status_code == 200
    assert_postmark_result(response.json(), "")


def test_postmark_with_template(standin, session):
    payload = {"To": "alice@example.com", "TemplateId": 1234, "TemplateModel": {}}
    response = postmark_post(session, standin, "email/withTemplate/", payload)
    assert response.status_code == 200
    assert_postmark_result(response.json(), "alice@example.com")
    assert standin.last_request.endpoint == "email/withTemplate/"


def test_postmark_batch(standin, session):
    payload = [{"To": "alice@example.com"}, {"To": "Bob <bob@example.com>"}]
    response = postmark_post(session, standin, "email/batch", payload)
    assert response.status_code == 200
    results = response.json()
    assert len(results) == 2
    assert_postmark_result(results[0], "alice@example.com")
    assert_postmark_result(results[1], "Bob <bob@example.com>")
    assert results[0]["MessageID"] != results[1]["MessageID"]


def test_postmark_batch_with_templates(standin, session):
    payload = {
        "Messages": [
            {"To": "alice@example.com", "TemplateId": 1},
            {"To": "bob@example.com", "TemplateId": 1},
            {"To": "carol@example.com", "TemplateId": 1},
        ]
    }
    response = postmark_post(session, standin, "email/batchWithTemplates", payload)
    assert response.status_code == 200
    results = response.json()
    assert [r["To"] for r in results] == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    for result, message in zip(results, payload["Messages"], strict=True):
        assert_postmark_result(result, message["To"])


def test_postmark_bulk(standin, session):
    payload = {
        "From": "news@example.com",
        "Subject": "Hello {{name}}",
        "Messages": [{"To": "alice@example.com"}, {"To": "bob@example.com"}],
    }
    response = postmark_post(session, standin, "email/bulk", payload)
    assert response.status_code == 200
    result = response.json()
    assert uuid.UUID(result["Id"])
    assert result["TotalMessages"] == 2
    assert result["PercentageCompleted"] == 0
    assert result["Status"] == "Accepted"
    assert result["SubmittedAt"]


def test_postmark_requires_token(standin, session):
    response = postmark_post(
        session, standin, "email", {"To": "a@example.com"}, headers={}
    )
    assert response.status_code == 401
    assert response.json() == {
        "ErrorCode": 10,
        "Message": "No Account or Server API tokens were supplied in the HTTP headers.",
    }


def test_postmark_invalid_json(standin, session):
    response = session.post(
        standin.api_url("postmark") + "email", data=b"{oops", headers=POSTMARK_HEADERS
    )
    assert response.status_code == 422
    assert response.json()["ErrorCode"] == 402
    # batch endpoint needs an array
    response = postmark_post(session, standin, "email/batch", {"To": "a@example.com"})
    assert response.status_code == 422


def test_unknown_paths(standin, session):
    for url in (
        standin.api_url("postmark") + "nope",
        standin.url,
        standin.url + "favicon.ico",
        standin.api_url("sendgrid") + "mail/send",
    ):
        response = session.post(url, json={})
        assert response.status_code == 404, url
        assert response.json() == {"message": "not found"}
    assert standin.last_request.esp == "sendgrid"
    assert standin.last_request.endpoint == "mail/send"


# --- Mailgun -----------------------------------------------------------------------


def test_mailgun_send(standin, session):
    url = standin.api_url("mailgun") + "mg.example.com/messages"
    response = session.post(
        url,
        auth=("api", "key-123"),
        data={"from": "from@mg.example.com", "to": ["a@example.com", "b@example.com"]},
    )
    assert response.status_code == 200
    result = response.json()
    assert result["message"] == "Queued. Thank you."
    match = MAILGUN_ID_RE.match(result["id"])
    assert match and match["domain"] == "mg.example.com"

    request = standin.last_request
    assert request.path == "/mailgun/v3/mg.example.com/messages"
    assert request.esp == "mailgun"
    assert request.endpoint == "mg.example.com/messages"
    assert request.auth == ("api", "key-123")
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.form() == {
        "from": ["from@mg.example.com"],
        "to": ["a@example.com", "b@example.com"],
    }
    assert request.files() == []
    with pytest.raises(ValueError):
        standin.requests[0].json()

    # ids differ between sends
    second = session.post(url, auth=("api", "key-123"), data={"to": "c@example.com"})
    assert second.json()["id"] != result["id"]


def test_mailgun_quoted_domain(standin, session):
    url = standin.api_url("mailgun") + "example.com%20%23%20oops/messages"
    response = session.post(url, auth=("api", "k"), data={"to": "a@example.com"})
    assert response.status_code == 200
    assert response.json()["id"].endswith("@example.com # oops>")
    assert standin.last_request.endpoint == "example.com%20%23%20oops/messages"


def test_mailgun_requires_auth(standin, session):
    url = standin.api_url("mailgun") + "mg.example.com/messages"
    for auth in (None, ("user", "key-123")):
        response = session.post(url, auth=auth, data={"to": "a@example.com"})
        assert response.status_code == 401
        assert response.text == "Forbidden"
        assert response.headers["Content-Type"] == "text/plain"


def test_mailgun_unknown_domain(standin, session):
    url = standin.api_url("mailgun") + "unknown.example.com/messages"
    response = session.post(url, auth=("api", "k"), data={"to": "a@example.com"})
    assert response.status_code == 404
    assert response.json() == {"message": "Domain not found: unknown.example.com"}


def test_mailgun_unknown_path(standin, session):
    response = session.post(
        standin.api_url("mailgun") + "mg.example.com/nope", auth=("api", "k")
    )
    assert response.status_code == 404
    assert response.json() == {"message": "not found"}


def test_multipart_parsing(standin, session):
    url = standin.api_url("mailgun") + "mg.example.com/messages"
    png = bytes(range(256)) * 4
    response = session.post(
        url,
        auth=("api", "k"),
        data={"to": ["a@example.com", "Bø <b@example.com>"], "subject": "Hi ☺"},
        files=[
            (
                "attachment",
                ("résumé.txt", b"caf\xe9\r\n", 'text/plain; charset="iso-8859-1"'),
            ),
            ("inline", ("image.png", png, "image/png")),
        ],
    )
    assert response.status_code == 200
    request = standin.last_request
    assert request.content_type == "multipart/form-data"
    assert request.form() == {
        "to": ["a@example.com", "Bø <b@example.com>"],
        "subject": ["Hi ☺"],
    }
    assert request.files() == [
        (
            "attachment",
            "résumé.txt",
            'text/plain; charset="iso-8859-1"',
            b"caf\xe9\r\n",
        ),
        ("inline", "image.png", "image/png", png),
    ]
    parts = request.parts()
    assert [part.name for part in parts] == [
        "to",
        "to",
        "subject",
        "attachment",
        "inline",
    ]
    assert parts[3].text() == "café\r\n"


def test_multipart_filename_star(standin, session):
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="field"\r\n\r\n'
        b"value\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="file"; filename="x.txt";'
        b" filename*=UTF-8''na%C3%AFve.txt\r\n"
        b"\r\n"
        b"data --XyZ inside\r\n"
        b"--XyZ--\r\n"
    )
    standin.respond_next(200, {})
    session.post(
        standin.url + "any",
        data=body,
        headers={"Content-Type": 'multipart/form-data; boundary="XyZ"'},
    )
    request = standin.last_request
    assert request.form() == {"field": ["value"]}
    assert request.files() == [("file", "naïve.txt", "", b"data --XyZ inside")]


# --- keep-alive --------------------------------------------------------------------


def test_keepalive_connection_reuse(standin):
    url = standin.api_url("postmark") + "email"
    with requests.Session() as first, requests.Session() as second:
        for _ in range(3):
            assert first.post(url, json={}, headers=POSTMARK_HEADERS).ok
        assert second.post(url, json={}, headers=POSTMARK_HEADERS).ok
    ids = [request.connection_id for request in standin.requests]
    assert ids[0] == ids[1] == ids[2]
    assert ids[3] != ids[0]
    assert standin.connections_opened == 2


def test_keepalive_is_fast(standin, session):
    # Responses stalled by Nagle/delayed ACK would take ~40ms each.
    url = standin.api_url("postmark") + "email"
    start = time.perf_counter()
    for _ in range(40):
        assert session.post(
            url, json={"To": "a@example.com"}, headers=POSTMARK_HEADERS
        ).ok
    assert time.perf_counter() - start < 0.8
    assert len({request.connection_id for request in standin.requests}) == 1


def test_connection_close_honored(standin):
    url = standin.api_url("postmark") + "email"
    for _ in range(2):
        response = requests.post(
            url, json={}, headers={**POSTMARK_HEADERS, "Connection": "close"}
        )
        assert response.headers["Connection"] == "close"
    first, second = standin.requests
    assert first.connection_id != second.connection_id


def raw_exchange(standin, request_bytes):
    """Send raw bytes on a new connection; the response bytes, once it's closed."""
    with socket.create_connection(("127.0.0.1", standin.port), timeout=5) as sock:
        sock.sendall(request_bytes)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_request_headers_parsed(standin, session):
    response = session.post(
        standin.api_url("other") + "x",
        files={"f": ("a.txt", b"hi")},
        headers={"X-Repeated": "1", "x-other": "two"},
    )
    assert response.status_code == 404
    headers = standin.last_request.headers
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    assert headers.get_content_type() == "multipart/form-data"
    assert headers["X-OTHER"] == "two"
    assert standin.last_request.body_length == int(headers["Content-Length"])


def test_http_10_request_closes_connection(standin):
    response = raw_exchange(standin, b"GET /other/x HTTP/1.0\r\nHost: a\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 404 ")
    assert b"\r\nConnection: close\r\n" in response


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (b"NONSENSE\r\n\r\n", b"400"),
        (b"GET /x HTTP/2.0\r\n\r\n", b"400"),
        (b"GET /x HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", b"431"),
        (b"GET /x HTTP/1.1\r\nX-A: " + b"b" * 70000 + b"\r\n\r\n", b"431"),
    ],
)
def test_malformed_requests_answered(standin, request_bytes, status):
    response = raw_exchange(standin, request_bytes)
    assert response.startswith(b"HTTP/1.1 " + status + b" ")
    assert standin.requests == []


# --- scripted responses ------------------------------------------------------------


def test_respond_next_fifo(standin, session):
    standin.respond_next(500, {"ErrorCode": 999, "Message": "Oops"})
    standin.respond_next(422, "Bad thing", content_type="text/plain")
    standin.respond_next(200, b"\x00\x01", content_type="application/octet-stream")
    standin.respond_next(429, None, headers={"Retry-After": "3"})
    assert standin.pending_responses == 4

    url = standin.api_url("postmark") + "email"
    response = postmark_post(session, standin, "email", {})
    assert response.status_code == 500
    assert response.json() == {"ErrorCode": 999, "Message": "Oops"}
    response = session.get(standin.url + "whatever")  # any path
    assert (response.status_code, response.text) == (422, "Bad thing")
    assert response.headers["Content-Type"] == "text/plain"
    response = session.post(url)
    assert (response.status_code, response.content) == (200, b"\x00\x01")
    response = session.post(url)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.headers["Content-Length"] == "0"
    assert response.content == b""

    # queue exhausted: default answers again, on the same connection
    assert standin.pending_responses == 0
    assert postmark_post(session, standin, "email", {}).status_code == 200
    assert len({request.connection_id for request in standin.requests}) == 1


def test_respond_next_list_body(standin, session):
    standin.respond_next(
        200, [{"To": "a@example.com", "ErrorCode": 406, "Message": "Inactive"}]
    )
    response = postmark_post(session, standin, "email/batch", [{"To": "a@example.com"}])
    assert response.json() == [
        {"To": "a@example.com", "ErrorCode": 406, "Message": "Inactive"}
    ]


def test_delay_causes_timeout(standin, session):
    standin.respond_next(delay=1.0)
    start = time.perf_counter()
    with pytest.raises(requests.exceptions.ReadTimeout):
        postmark_post(session, standin, "email", {}, timeout=0.2)
    assert time.perf_counter() - start < 0.8
    assert standin.last_request.endpoint == "email"  # recorded before the delay

    # The server keeps working (requests opens a fresh connection)
    assert postmark_post(session, standin, "email", {}, timeout=2).status_code == 200


def test_default_delay(standin, session):
    standin.set_default_delay(0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        postmark_post(session, standin, "email", {}, timeout=0.1)
    standin.respond_next(200, {}, delay=0)  # explicit delay overrides the default
    assert postmark_post(session, standin, "email", {}, timeout=0.4).json() == {}
    standin.set_default_delay(0)
    assert postmark_post(session, standin, "email", {}, timeout=0.4).ok


def test_drop(standin, session):
    assert postmark_post(session, standin, "email", {}).ok
    standin.respond_next(drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        postmark_post(session, standin, "email", {"To": "dropped@example.com"})
    assert standin.last_request.json() == {"To": "dropped@example.com"}
    response = postmark_post(session, standin, "email", {})
    assert response.ok
    first, dropped, after = (request.connection_id for request in standin.requests)
    assert first == dropped
    assert after != dropped


def test_set_handler(standin, session):
    def sendgrid(request):
        return Response(202, b"", content_type="")

    standin.set_handler("sendgrid", sendgrid)
    response = session.post(standin.api_url("sendgrid") + "v3/mail/send", json={})
    assert response.status_code == 202
    standin.set_handler("sendgrid", None)
    response = session.post(standin.api_url("sendgrid") + "v3/mail/send", json={})
    assert response.status_code == 404


def test_handler_exception_gives_500(session):
    def broken(request):
        raise RuntimeError("handler bug")

    with StandIn() as server:
        server.set_handler("broken", broken)
        response = session.post(server.api_url("broken") + "x")
        assert response.status_code == 500
        assert "handler bug" in response.text
        assert len(server.errors) == 1


# --- bodies ------------------------------------------------------------------------


def test_big_body_round_trip(standin, session):
    size = 20 * 1024 * 1024
    content = bytes(range(256)) * (size // 256)
    response = session.post(
        standin.api_url("mailgun") + "mg.example.com/messages",
        auth=("api", "k"),
        data={"to": "a@example.com"},
        files=[("attachment", ("big.bin", content, "application/octet-stream"))],
    )
    assert response.status_code == 200
    request = standin.last_request
    assert request.body_length > size
    [(field_name, filename, content_type, received)] = request.files()
    assert (field_name, filename, content_type) == (
        "attachment",
        "big.bin",
        "application/octet-stream",
    )
    assert received == content

    # ... and a big scripted response back, on the same connection
    standin.respond_next(200, content, content_type="application/octet-stream")
    response = session.post(standin.url + "echo", data=content)
    assert response.content == content
    assert standin.last_request.body == content
    assert len({r.connection_id for r in standin.requests}) == 1


def test_record_bodies_false(session):
    content = b"x" * (5 * 1024 * 1024)
    with StandIn(record_bodies=False) as server:
        response = session.post(
            server.api_url("postmark") + "email/batch",
            json=[{"To": "a@example.com", "TextBody": content.decode()}],
            headers=POSTMARK_HEADERS,
        )
        # the default answer still sees the body
        assert response.json()[0]["To"] == "a@example.com"
        request = server.last_request
        assert request.body == b""
        assert request.body_length > len(content)


def test_chunked_request_body(standin, session):
    def chunks():
        yield b"hello, "
        yield b"chunked "
        yield b"world"

    standin.respond_next(200, {})
    session.post(standin.url + "chunks", data=chunks())
    request = standin.last_request
    assert request.header("Transfer-Encoding") == "chunked"
    assert request.body == b"hello, chunked world"


def test_query_string(standin, session):
    session.get(standin.api_url("postmark") + "email?x=1&y=2")
    request = standin.last_request
    assert request.path == "/postmark/email?x=1&y=2"
    assert request.endpoint == "email"
    assert request.query == "x=1&y=2"


# --- bookkeeping and lifecycle -----------------------------------------------------


def test_clear_and_reset(standin, session):
    assert standin.last_request is None
    postmark_post(session, standin, "email", {})
    assert len(standin.requests) == 1
    standin.clear()
    assert standin.requests == []
    assert standin.last_request is None
    standin.respond_next(500)
    standin.set_default_delay(1)
    standin.reset()
    assert standin.pending_responses == 0
    assert standin.default_delay == 0
    assert postmark_post(session, standin, "email", {}, timeout=0.5).status_code == 200


def test_explicit_start_stop_with_open_connections():
    server = StandIn().start()
    assert server.running
    url = server.api_url("postmark") + "email"
    sessions = [requests.Session() for _ in range(3)]
    try:
        for s in sessions:
            assert s.post(url, json={}, headers=POSTMARK_HEADERS).ok
        server.respond_next(delay=10)  # a handler stuck in a long delay
        with pytest.raises(requests.exceptions.ReadTimeout):
            sessions[0].post(url, json={}, headers=POSTMARK_HEADERS, timeout=0.1)
        start = time.perf_counter()
        server.stop()
        assert time.perf_counter() - start < 1.0
        assert not server.running
        assert server.errors == []
        with pytest.raises(requests.exceptions.ConnectionError):
            sessions[1].post(url, json={}, headers=POSTMARK_HEADERS, timeout=1)
    finally:
        for s in sessions:
            s.close()
    server.stop()  # idempotent


def test_concurrent_requests(standin):
    import concurrent.futures

    url = standin.api_url("postmark") + "email"

    def send(i):
        with requests.Session() as s:
            return [
                s.post(
                    url, json={"To": f"{i}-{n}@example.com"}, headers=POSTMARK_HEADERS
                ).json()["To"]
                for n in range(5)
            ]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, range(8)))
    assert results == [[f"{i}-{n}@example.com" for n in range(5)] for i in range(8)]
    assert len(standin.requests) == 40
    assert len({request.connection_id for request in standin.requests}) == 8


def test_cli():
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        [sys.executable, "-m", "example.standin", "--port", "0"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/)", first_line)
        assert match, first_line
        response = requests.post(
            match[1] + "postmark/email",
            json={"To": "a@example.com"},
            headers=POSTMARK_HEADERS,
        )
        assert response.json()["To"] == "a@example.com"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=5)
        assert process.returncode == 0, stderr
        assert "POST /postmark/email" in stdout
        assert stderr == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

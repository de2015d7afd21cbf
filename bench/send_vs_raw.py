"""Send time through a backend vs. the raw requests floor, over real HTTP.

The StandIn runs in a child process. For each ESP, five "sides" each send N
requests over their own single keep-alive connection:

backend
    the backend sends N typical messages through one opened connection
    (``connection.open()``, then ``send_messages([message])`` per message);
raw
    a plain ``requests.Session`` posts the request the backend made for its first
    message, pre-built: same method, URL, headers and body bytes. This is the floor.
session-raw
    (diagnostic) the same, through the backend's own session class
    (AnymailSession, which does less per request than requests.Session: it
    reads proxy settings from the environment once per connection).
    backend / session-raw is the cost of Anymail's pipeline by itself.
params
    (diagnostic) a plain ``requests.Session`` calls ``request(**kwargs)`` with the
    keyword arguments the backend passed for its first message, so requests itself
    encodes the body (JSON string / multipart) every time. backend - params is
    Anymail's own cost; params - raw is requests' body encoding.
minimal
    (diagnostic) the least any client of the ESP's API does per message, written
    by hand for the typical message: its fields into the API's JSON or form
    (no address parsing, validation or options), ``request()``, parse the JSON
    answer and keep the response on the message. minimal / raw shows how much of
    the target any library could spend on this machine.

Each round sends N messages per side, interleaved in chunks of 20 with the order
rotating between chunks, so load changes on the machine hit all sides alike.
Reported: medians over rounds of ms/message, and the median per-round ratio
backend / raw. Target: <= 1.10.

Run alone: ``python -m bench.send_vs_raw [-n 300] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import time
from collections.abc import Callable

import requests

from .common import (
    ESPS,
    Result,
    get_connection,
    median,
    print_table,
    setup_django,
    typical_message,
)
from .standin_process import StandInProcess

TARGET_RATIO = 1.10
CHUNK = 20


def capture_request(connection, message) -> tuple[dict, requests.PreparedRequest]:
    """Send `message` through the open `connection`.

    Returns the kwargs the backend passed to Session.request, and the
    PreparedRequest requests built from them.
    """
    session = connection.session
    kwargs_seen, prepared_seen = [], []
    original_request, original_send = session.request, session.send

    def capturing_request(*args, **kwargs):
        assert not args, "expected keyword arguments only"
        kwargs_seen.append(dict(kwargs))
        return original_request(**kwargs)

    def capturing_send(request, **kwargs):
        prepared_seen.append(request.copy())
        return original_send(request, **kwargs)

    session.request, session.send = capturing_request, capturing_send
    try:
        connection.send_messages([message])
    finally:
        del session.request, session.send  # back to the class's methods
    (kwargs,) = kwargs_seen
    (prepared,) = prepared_seen
    return kwargs, prepared


def check_response(response: requests.Response) -> None:
    if response.status_code != 200:
        raise AssertionError(f"request answered {response.status_code}")


def minimal_postmark_kwargs(message) -> dict:
    """Postmark's JSON body for the typical message, built directly."""
    return {
        "data": json.dumps(
            {
                "From": message.from_email,
                "To": ", ".join(message.to),
                "Subject": message.subject,
                "TextBody": message.body,
                "HtmlBody": message.alternatives[0][0],
                "Attachments": [
                    {
                        "Name": name,
                        "Content": base64.b64encode(content.encode()).decode(),
                        "ContentType": mimetype,
                    }
                    for name, content, mimetype in message.attachments
                ],
                "Metadata": message.metadata,
                "Tag": message.tags[0],
            }
        )
    }


def minimal_mailgun_kwargs(message) -> dict:
    """Mailgun's form fields and files for the typical message, built directly."""
    data = {
        "from": message.from_email,
        "to": message.to,
        "subject": message.subject,
        "text": message.body,
        "html": message.alternatives[0][0],
        "o:tag": message.tags,
    }
    data.update((f"v:{key}", value) for key, value in message.metadata.items())
    files = [
        ("attachment", (name, content.encode(), mimetype))
        for name, content, mimetype in message.attachments
    ]
    return {"data": data, "files": files}


MINIMAL_KWARGS = {
    "postmark": minimal_postmark_kwargs,
    "mailgun": minimal_mailgun_kwargs,
}


class Sides:
    """The four ways of sending, each timed per chunk."""

    def __init__(self, connection, expected_status: str, minimal_kwargs):
        self.connection = connection
        self.minimal_kwargs = minimal_kwargs
        self.expected = {expected_status}
        kwargs, prepared = capture_request(connection, typical_message())
        body = prepared.body
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.prepared = prepared
        self.kwargs = kwargs
        self.raw_session = requests.Session()
        self.session_raw_session = type(connection.session)()
        self.params_session = requests.Session()
        self.minimal_session = requests.Session()

    def close(self) -> None:
        self.raw_session.close()
        self.session_raw_session.close()
        self.params_session.close()
        self.minimal_session.close()

    def backend(self, messages: list) -> float:
        connection = self.connection
        start = time.perf_counter()
        for message in messages:
            connection.send_messages([message])
        elapsed = time.perf_counter() - start
        for message in messages:
            if message.anymail_status.status != self.expected:
                raise AssertionError(f"unexpected status {message.anymail_status!r}")
        return elapsed

    def raw(self, messages: list, session=None) -> float:
        request, body = self.prepared, self.body
        session = session or self.raw_session
        method, url, headers = request.method, request.url, dict(request.headers)
        start = time.perf_counter()
        for _ in messages:
            check_response(
                session.request(method, url, data=body, headers=headers, timeout=30)
            )
        return time.perf_counter() - start

    def session_raw(self, messages: list) -> float:
        return self.raw(messages, self.session_raw_session)

    def params(self, messages: list) -> float:
        session, kwargs = self.params_session, self.kwargs
        start = time.perf_counter()
        for _ in messages:
            check_response(session.request(**kwargs))
        return time.perf_counter() - start

    def minimal(self, messages: list) -> float:
        session, build = self.minimal_session, self.minimal_kwargs
        request = self.prepared
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in ("content-type", "content-length")
        }
        if "data" in self.kwargs and isinstance(self.kwargs["data"], str):
            headers["Content-Type"] = "application/json"  # (JSON APIs)
        start = time.perf_counter()
        for message in messages:
            response = session.request(
                request.method,
                request.url,
                headers=headers,
                timeout=30,
                **build(message),
            )
            check_response(response)
            response.json()
            message.anymail_status.esp_response = response
        return time.perf_counter() - start


def measure(server: StandInProcess, esp: str, n: int, rounds: int) -> dict:
    connections_before = server.stats()["connections_opened"]
    connection = get_connection(esp, server.api_url(esp))
    connection.open()
    sides = Sides(connection, ESPS[esp].sent_status, MINIMAL_KWARGS[esp])
    order: list[tuple[str, Callable[[list], float]]] = [
        ("backend", sides.backend),
        ("raw", sides.raw),
        ("session-raw", sides.session_raw),
        ("params", sides.params),
        ("minimal", sides.minimal),
    ]
    try:
        for _, side in order:  # warm-up (discarded)
            side([typical_message() for _ in range(CHUNK)])
        per_round: dict[str, list[float]] = {name: [] for name, _ in order}
        for _ in range(rounds):
            messages = [typical_message() for _ in range(n)]
            totals = dict.fromkeys(per_round, 0.0)
            gc.collect()
            for index, first in enumerate(range(0, n, CHUNK)):
                batch = messages[first : first + CHUNK]
                shift = index % len(order)
                for name, side in order[shift:] + order[:shift]:
                    totals[name] += side(batch)
            for name, total in totals.items():
                per_round[name].append(total / n)
    finally:
        sides.close()
        connection.close()
    stats = server.stats()
    ratios = [
        b / r for b, r in zip(per_round["backend"], per_round["raw"], strict=True)
    ]
    minimal_ratios = [
        m / r for m, r in zip(per_round["minimal"], per_round["raw"], strict=True)
    ]
    pipeline_ratios = [
        b / r
        for b, r in zip(per_round["backend"], per_round["session-raw"], strict=True)
    ]
    return {
        **{name: median(times) for name, times in per_round.items()},
        "ratio": median(ratios),
        "ratio_range": (min(ratios), max(ratios)),
        "minimal_ratio": median(minimal_ratios),
        "pipeline_ratio": median(pipeline_ratios),
        "connections": stats["connections_opened"] - connections_before,
        "errors": stats["errors"],
        "body_bytes": len(sides.body),
    }


def run(n: int = 300, rounds: int = 5) -> list[Result]:
    setup_django()
    results = []
    with StandInProcess(record_bodies=False) as server:
        for esp in ESPS:
            m = measure(server, esp, n, rounds)
            low, high = m["ratio_range"]
            note = (
                f"backend {m['backend'] * 1e3:.3f}, raw {m['raw'] * 1e3:.3f}, "
                f"raw via AnymailSession {m['session-raw'] * 1e3:.3f} "
                f"(pipeline alone {m['pipeline_ratio']:.2f}x), "
                f"requests-encodes {m['params'] * 1e3:.3f}, "
                f"minimal client {m['minimal'] * 1e3:.3f} "
                f"({m['minimal_ratio']:.2f}x) ms/msg; "
                f"rounds {low:.2f}-{high:.2f}x; body {m['body_bytes']} B"
            )
            # one connection per side (5), all kept alive
            one_connection_each = m["connections"] == 5
            if not one_connection_each:
                note += f"; {m['connections']} TCP connections, expected 5"
            if m["errors"]:
                note += f"; STAND-IN ERRORS {m['errors']}"
            results.append(
                Result(
                    f"Send time vs raw requests (N={n} x {rounds})",
                    esp,
                    f"{m['ratio']:.2f}x",
                    f"<= {TARGET_RATIO:.2f}x",
                    m["ratio"] <= TARGET_RATIO and one_connection_each,
                    note,
                )
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.send_vs_raw")
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print_table(run(args.n, args.rounds))


if __name__ == "__main__":
    main()

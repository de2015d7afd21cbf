"""Per-message library CPU: build and send one typical message, no network.

``requests.Session.request`` is patched to return a canned Response, so what is
timed is Anymail (message -> payload -> request arguments -> status) plus Django's
EmailMessage construction, not requests' own encoding or any I/O.

Run alone: ``python -m bench.cpu [--profile ESP]``.
"""

from __future__ import annotations

import argparse
import gc
import time
from contextlib import contextmanager
from unittest import mock

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

FAKE_API_URL = "https://esp.invalid/"


def canned_response(esp: str, url: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.reason = "OK"
    response.url = url
    response.encoding = "utf-8"
    response.headers["Content-Type"] = "application/json"
    response._content = ESPS[esp].canned_body
    return response


@contextmanager
def stubbed_requests(esp: str):
    """Patch requests.Session.request to answer like `esp` without any I/O."""

    def fake_request(self, method, url, **kwargs):
        return canned_response(esp, url)

    with mock.patch.object(requests.Session, "request", fake_request):
        yield


def time_sends(esp: str, n: int, warmup: int) -> dict[str, float]:
    """Median seconds per message for: build, send, build+send; and for
    message.send() with a new connection per message."""
    expected = {ESPS[esp].sent_status}
    with stubbed_requests(esp):
        connection = get_connection(esp, FAKE_API_URL)
        connection.open()
        build, send, total = [], [], []
        for i in range(warmup + n):
            t0 = time.perf_counter()
            message = typical_message()
            t1 = time.perf_counter()
            connection.send_messages([message])
            t2 = time.perf_counter()
            if i >= warmup:
                build.append(t1 - t0)
                send.append(t2 - t1)
                total.append(t2 - t0)
        connection.close()
        if message.anymail_status.status != expected:
            raise AssertionError(f"{esp}: unexpected {message.anymail_status!r}")

        fresh = []
        for i in range(warmup + n):
            t0 = time.perf_counter()
            message = typical_message(connection=get_connection(esp, FAKE_API_URL))
            message.send()
            if i >= warmup:
                fresh.append(time.perf_counter() - t0)
    return {
        "build": median(build),
        "send": median(send),
        "total": median(total),
        "fresh_connection": median(fresh),
    }


def run(n: int = 2000, warmup: int = 200) -> list[Result]:
    setup_django()
    results = []
    for esp in ESPS:
        gc.collect()
        times = time_sends(esp, n, warmup)
        results.append(
            Result(
                "CPU per message (open connection)",
                esp,
                f"{times['total'] * 1e6:.0f} us",
                note=f"build {times['build'] * 1e6:.0f} us + "
                f"send {times['send'] * 1e6:.0f} us; median of {n}",
            )
        )
        results.append(
            Result(
                "CPU per message (message.send())",
                esp,
                f"{times['fresh_connection'] * 1e6:.0f} us",
                note="new connection (requests.Session) per message",
            )
        )
    return results


def profile(esp: str, n: int = 2000) -> None:
    """Print a cProfile of `n` stubbed sends through one open connection."""
    import cProfile
    import pstats

    setup_django()
    messages = [typical_message() for _ in range(n)]
    with stubbed_requests(esp):
        connection = get_connection(esp, FAKE_API_URL)
        connection.open()
        connection.send_messages(messages[:10])  # warm up
        profiler = cProfile.Profile()
        profiler.runcall(connection.send_messages, messages)
        connection.close()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu")
    parser.add_argument("--profile", choices=sorted(ESPS), help="cProfile one ESP")
    parser.add_argument("-n", type=int, default=2000)
    args = parser.parse_args()
    if args.profile:
        profile(args.profile, args.n)
        return
    print_table(run(args.n))


if __name__ == "__main__":
    main()

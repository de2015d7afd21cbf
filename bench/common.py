"""Shared pieces for the benchmarks: Django setup, the ESPs, messages and results."""

from __future__ import annotations

from dataclasses import dataclass

#: Recipients of the typical message
TO = ["alice@example.com", "Bob Example <bob@example.com>"]

SMALL_ATTACHMENT = ("report.csv", "day,sent\nmon,12\ntue,15\nwed,9\n", "text/csv")

HTML_BODY = (
    "<html><body><h1>Your weekly report</h1>"
    "<p>Hi! Here is your <b>weekly</b> report. " + "Lorem ipsum dolor sit amet. " * 20
) + "</p></body></html>"
TEXT_BODY = "Hi! Here is your weekly report. " + "Lorem ipsum dolor sit amet. " * 20


@dataclass(frozen=True)
class Esp:
    """How to reach one ESP's backend, and what it answers."""

    backend: str  # EMAIL_BACKEND path
    #: What the real API answers for the typical message (for stubbed sends)
    canned_body: bytes
    #: anymail_status.status expected for a successful send
    sent_status: str


ESPS = {
    "postmark": Esp(
        backend="anymail.backends.postmark.EmailBackend",
        canned_body=(
            b'{"To": "alice@example.com, Bob Example <bob@example.com>",'
            b' "SubmittedAt": "2025-01-01T00:00:00.000Z",'
            b' "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",'
            b' "ErrorCode": 0, "Message": "OK"}'
        ),
        sent_status="sent",
    ),
    "mailgun": Esp(
        backend="anymail.backends.mailgun.EmailBackend",
        canned_body=(
            b'{"id": "<20250101000000.1.ABCDEF@mg.example.com>",'
            b' "message": "Queued. Thank you."}'
        ),
        sent_status="queued",
    ),
}


def setup_django() -> None:
    """Configure minimal Django settings (idempotent). Credentials are fake."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "anymail"],
        USE_TZ=True,
        DEFAULT_FROM_EMAIL="Bench <bench@example.com>",
        # Benchmark-only fake credentials: the stand-in accepts anything.
        ANYMAIL={
            "POSTMARK_SERVER_TOKEN": "bench-postmark-server-token",
            "MAILGUN_API_KEY": "bench-mailgun-api-key",
            "MAILGUN_SENDER_DOMAIN": "mg.example.com",
        },
    )
    django.setup()


def typical_message(**kwargs):
    """HTML + text, 2 recipients, a small attachment, a tag and metadata."""
    from anymail.message import AnymailMessage

    message = AnymailMessage(
        subject="Your weekly report",
        body=TEXT_BODY,
        to=TO,
        tags=["report"],
        metadata={"user_id": "8675309", "report": "weekly"},
        **kwargs,
    )
    message.attach_alternative(HTML_BODY, "text/html")
    message.attach(*SMALL_ATTACHMENT)
    return message


def get_connection(esp: str, api_url: str):
    from django.core.mail import get_connection

    return get_connection(ESPS[esp].backend, api_url=api_url)


@dataclass
class Result:
    """One row of the results table."""

    benchmark: str
    esp: str
    measured: str
    target: str = "-"
    #: True/False against the target; None when there is no target (info only)
    passed: bool | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "info"}[self.passed]


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def print_table(results: list[Result]) -> None:
    headers = ("Benchmark", "ESP", "Measured", "Target", "Result")
    rows = [(r.benchmark, r.esp, r.measured, r.target, r.verdict) for r in results]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(5)]

    def line(cells) -> str:
        return "  ".join(
            cell.rjust(width) if i in (2, 3) else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    print(line(headers))
    print("  ".join("-" * width for width in widths))
    for result, row in zip(results, rows, strict=True):
        print(line(row))
        if result.note:
            print(f"    {result.note}")

"""Anymail demo: send messages over real HTTP to local stand-ins of ESP APIs.

Run with ``make demo`` or ``python -m example.demo``. Nothing leaves the machine:
the ESP APIs are served by :mod:`example.standin` on 127.0.0.1.

For each ESP the demo sends one :class:`~anymail.message.AnymailMessage` (text and
HTML bodies, an inline image, a CSV attachment, a tag and metadata) and prints what
the stand-in received and the resulting ``message.anymail_status``. Then the
stand-in plays the ESP's webhook side: it posts an authenticated "delivered" event
for that message to the demo's own Django app (served over real HTTP by
:mod:`example.webapp`), and the demo prints the
:class:`~anymail.signals.AnymailTrackingEvent` its ``tracking`` receiver got. A last
step scripts an API error and shows the :exc:`~anymail.exceptions.AnymailAPIError`.

The demo doubles as a smoke test: every step checks its results, and the exit
status is non-zero if anything unexpected happened.

Steps are plain functions taking a :class:`DemoRun`; to add one, write it and
append it to :data:`STEPS`.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from example import standin_webhooks
from example.standin import ReceivedRequest, StandIn
from example.webapp import DjangoServer

SETTINGS_MODULE = "example.settings"

POSTMARK_BACKEND = "anymail.backends.postmark.EmailBackend"
MAILGUN_BACKEND = "anymail.backends.mailgun.EmailBackend"

RECIPIENTS = ["alice@example.com", "Bob Example <bob@example.com>"]
RECIPIENT_ADDRESSES = {"alice@example.com", "bob@example.com"}

ORDER_CSV = "sku,description,qty\nA-100,Blue mug,2\nB-200,Tea towel,1\n"

RULE = "=" * 72


# --------------------------------------------------------------------------------------
# Run state and checks
# --------------------------------------------------------------------------------------


@dataclass
class DemoRun:
    """State shared by the demo steps.

    The stand-in, the demo's Django app server, the messages sent so far (by ESP),
    the tracking events received, and failed checks so far.
    """

    standin: StandIn
    webapp: DjangoServer
    sent: dict[str, object] = field(default_factory=dict)
    tracking_events: list = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def on_tracking(self, sender, event, esp_name, **kwargs) -> None:
        """The demo's receiver for Anymail's tracking signal."""
        self.tracking_events.append((esp_name, event))

    def check(self, ok: bool, description: str) -> bool:
        """Record (and print) a failed check; returns `ok`."""
        if not ok:
            self.failures.append(description)
            print(f"  !! CHECK FAILED: {description}")
        return bool(ok)

    def single_request(self) -> ReceivedRequest | None:
        """The one request the stand-in received since the last clear()."""
        self.standin.wait_for_requests(1, timeout=2.0)
        requests = list(self.standin.requests)
        self.check(
            len(requests) == 1,
            f"expected the stand-in to receive 1 request, got {len(requests)}",
        )
        return requests[-1] if requests else None


def section(title: str) -> None:
    print(f"\n{RULE}\n{title}\n{RULE}")


def redacted(value: str | None) -> str:
    if not value:
        return "(missing)"
    return f"<redacted, {len(value)} chars>"


def print_received(request: ReceivedRequest) -> None:
    print(f"  Stand-in received: {request.method} {request.path}")
    print(f"    Content-Type: {request.header('Content-Type')}")
    print(f"    Content-Length: {request.body_length}")


def field_line(label: str, value: object, width: int = 12) -> None:
    print(f"    {label + ':':<{width}} {value}")


# --------------------------------------------------------------------------------------
# The message
# --------------------------------------------------------------------------------------


def tiny_png() -> bytes:
    """A valid 1x1 RGBA PNG, built in code."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)  # 1x1, 8-bit RGBA
    scanline = b"\x00" + bytes([0x1F, 0x6F, 0xC5, 0xFF])  # filter 0, one blue pixel
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(scanline))
        + chunk(b"IEND", b"")
    )


def build_demo_message(**kwargs):
    """An AnymailMessage using the common features. kwargs go to the constructor."""
    from anymail.message import AnymailMessage

    options = {
        "subject": "Your order #1234 has shipped",
        "body": "Hi! Your order #1234 is on its way. Details are attached.",
        "to": RECIPIENTS,
        "tags": ["demo"],  # Postmark allows only one tag per message
        "metadata": {"order": "1234"},
    }
    options.update(kwargs)
    message = AnymailMessage(**options)
    cid = message.attach_inline_image(tiny_png(), filename="logo.png")
    message.attach_alternative(
        f'<p><img src="cid:{cid}" alt="Demo Shop" width="16" height="16"></p>'
        "<p>Hi! Your order <b>#1234</b> is on its way. Details are attached.</p>",
        "text/html",
    )
    message.attach("order-1234.csv", ORDER_CSV, "text/csv")
    return message


def send_demo_message(backend_path: str, message=None, **kwargs):
    """Send `message` (default: a new demo message) through `backend_path`.

    kwargs are passed to ``get_connection()`` (e.g. ``api_url=...``).
    Returns the sent message, with its ``anymail_status`` filled in.
    """
    from django.core.mail import get_connection

    if message is None:
        message = build_demo_message()
    message.connection = get_connection(backend_path, **kwargs)
    message.send()
    return message


def print_status(message) -> None:
    status = message.anymail_status
    print("  anymail_status:")
    field_line("status", sorted(status.status or []))
    field_line("message_id", status.message_id)
    print("    recipients:")
    for address, recipient in sorted(status.recipients.items()):
        print(f"      {address:<20} {recipient.status:<8} {recipient.message_id}")


def check_status(run: DemoRun, message, expected_status: str) -> None:
    status = message.anymail_status
    run.check(
        status.status == {expected_status},
        f"anymail_status.status should be {{'{expected_status}'}}, "
        f"got {status.status!r}",
    )
    run.check(
        set(status.recipients) == RECIPIENT_ADDRESSES,
        f"recipient statuses for {sorted(RECIPIENT_ADDRESSES)}, "
        f"got {sorted(status.recipients)}",
    )
    run.check(bool(status.message_id), "anymail_status.message_id is missing")


# --------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------


def step_postmark(run: DemoRun) -> None:
    section("Postmark: send one message")
    run.standin.clear()
    message = send_demo_message(
        POSTMARK_BACKEND, api_url=run.standin.api_url("postmark")
    )
    run.sent["postmark"] = message
    request = run.single_request()
    if request is None:
        return
    print_received(request)
    token = request.header("X-Postmark-Server-Token")
    print(f"    X-Postmark-Server-Token: {redacted(token)}")
    data = request.json()
    print("  JSON body:")
    for key in ("From", "To", "Subject", "Tag"):
        field_line(key, data.get(key))
    field_line("Metadata", json.dumps(data.get("Metadata")))
    attachments = data.get("Attachments") or []
    print("    Attachments:")
    for attachment in attachments:
        content_id = attachment.get("ContentID") or "-"
        print(
            f"      - {attachment.get('Name')}  {attachment.get('ContentType')}"
            f"  ContentID: {content_id}"
        )
    print_status(message)

    run.check(request.method == "POST", f"method POST, got {request.method}")
    run.check(request.endpoint == "email", f"endpoint 'email', got {request.endpoint}")
    run.check(bool(token), "X-Postmark-Server-Token header missing")
    run.check(data.get("Subject") == message.subject, "Subject not as sent")
    run.check(data.get("Tag") == "demo", f"Tag 'demo', got {data.get('Tag')!r}")
    run.check(
        data.get("Metadata") == {"order": "1234"},
        f"Metadata {{'order': '1234'}}, got {data.get('Metadata')!r}",
    )
    run.check(
        sorted(a.get("Name") for a in attachments) == ["logo.png", "order-1234.csv"],
        "Attachments should be logo.png and order-1234.csv",
    )
    run.check(
        any(a.get("ContentID") for a in attachments),
        "the inline image should have a ContentID",
    )
    check_status(run, message, "sent")


def step_mailgun(run: DemoRun) -> None:
    section("Mailgun: send one message")
    run.standin.clear()
    message = send_demo_message(MAILGUN_BACKEND, api_url=run.standin.api_url("mailgun"))
    run.sent["mailgun"] = message
    request = run.single_request()
    if request is None:
        return
    print_received(request)
    auth = request.auth
    if auth:
        print(f"    Authorization: Basic, user {auth[0]!r}, key {redacted(auth[1])}")
    else:
        print("    Authorization: (missing)")
    form = request.form()
    print("  Form fields:")
    for name in ("from", "to", "subject", "o:tag", "v:order"):
        field_line(name, ", ".join(form.get(name, [])) or "(missing)")
    files = request.files()
    print("    Files:")
    for name, filename, content_type, content in files:
        print(f"      - {name}: {filename}  {content_type}  ({len(content)} bytes)")
    print_status(message)

    run.check(request.method == "POST", f"method POST, got {request.method}")
    run.check(
        request.endpoint == "mg.example.com/messages",
        f"endpoint 'mg.example.com/messages', got {request.endpoint}",
    )
    run.check(auth is not None and auth[0] == "api", "Basic auth as user 'api'")
    run.check(form.get("subject") == [message.subject], "subject not as sent")
    run.check(len(form.get("to", [])) == 2, "two 'to' fields")
    run.check(form.get("o:tag") == ["demo"], f"o:tag ['demo'], got {form.get('o:tag')}")
    run.check(
        form.get("v:order") == ["1234"], f"v:order ['1234'], got {form.get('v:order')}"
    )
    run.check(
        sorted(name for name, *_ in files) == ["attachment", "inline"],
        f"one 'attachment' and one 'inline' file, got {[f[0] for f in files]}",
    )
    check_status(run, message, "queued")


def step_api_error(run: DemoRun) -> None:
    from anymail.exceptions import AnymailAPIError

    section("Postmark: an API error (scripted 422 response)")
    run.standin.clear()
    run.standin.respond_next(
        status=422, body={"ErrorCode": 300, "Message": "Invalid 'From' address: 'x'."}
    )
    print("  The stand-in will answer the next request with HTTP 422.")
    try:
        send_demo_message(POSTMARK_BACKEND, api_url=run.standin.api_url("postmark"))
    except AnymailAPIError as error:
        print(f"  Caught {type(error).__name__}:")
        for line in str(error).splitlines():
            print(f"    | {line}")
        run.check(error.status_code == 422, f"status_code 422, got {error.status_code}")
        run.check(
            "Invalid 'From' address" in str(error),
            "the error text should include Postmark's message",
        )
    else:
        run.check(False, "sending should have raised AnymailAPIError")
    run.check(run.standin.pending_responses == 0, "the scripted response was not used")


def deliver_tracking_event(run: DemoRun, esp: str, url_name: str, payload) -> None:
    """Have the stand-in post `payload` to the demo app; print and check the event."""
    from django.conf import settings
    from django.urls import reverse

    url = run.webapp.url(reverse(url_name))
    run.tracking_events.clear()
    status, body = standin_webhooks.post_webhook(
        url, payload, basic_auth=settings.ANYMAIL["WEBHOOK_SECRET"]
    )
    print(f"  Stand-in posted a delivered event to {url}")
    print(f"    response: HTTP {status}")
    run.check(status == 200, f"webhook answered HTTP {status}: {body[:200]!r}")
    run.check(
        len(run.tracking_events) == 1,
        f"expected 1 tracking signal, got {len(run.tracking_events)}",
    )
    if not run.tracking_events:
        return
    esp_name, event = run.tracking_events[0]
    print(f"  tracking signal received (esp_name={esp_name!r}): AnymailTrackingEvent")
    for name in ("event_type", "message_id", "recipient", "timestamp", "tags"):
        field_line(name, getattr(event, name), width=13)
    field_line("metadata", event.metadata, width=13)
    field_line("mta_response", event.mta_response, width=13)

    sent_id = run.sent[esp].anymail_status.recipients["alice@example.com"].message_id
    run.check(event.event_type == "delivered", f"event_type {event.event_type!r}")
    run.check(
        event.message_id == sent_id,
        f"event message_id {event.message_id!r} should match the sent {sent_id!r}",
    )
    run.check(event.recipient == "alice@example.com", f"recipient {event.recipient!r}")
    run.check(event.metadata == {"order": "1234"}, f"metadata {event.metadata!r}")


def step_postmark_webhook(run: DemoRun) -> None:
    section("Postmark: delivery event back through the tracking webhook")
    if not run.check("postmark" in run.sent, "the Postmark send step must run first"):
        return
    message_id = run.sent["postmark"].anymail_status.recipients["alice@example.com"]
    payload = standin_webhooks.postmark_delivery_event(
        message_id.message_id,
        "alice@example.com",
        tag="demo",
        metadata={"order": "1234"},
    )
    deliver_tracking_event(
        run, "postmark", "anymail:postmark_tracking_webhook", payload
    )


def step_mailgun_webhook(run: DemoRun) -> None:
    from django.conf import settings

    section("Mailgun: signed delivered event back through the tracking webhook")
    if not run.check("mailgun" in run.sent, "the Mailgun send step must run first"):
        return
    message_id = run.sent["mailgun"].anymail_status.recipients["alice@example.com"]
    payload = standin_webhooks.mailgun_delivered_event(
        message_id.message_id,
        "alice@example.com",
        signing_key=settings.ANYMAIL["MAILGUN_WEBHOOK_SIGNING_KEY"],
        tags=["demo"],
        user_variables={"order": "1234"},
    )
    deliver_tracking_event(run, "mailgun", "anymail:mailgun_tracking_webhook", payload)


#: The demo steps, run in order.
STEPS: list[Callable[[DemoRun], None]] = [
    step_postmark,
    step_mailgun,
    step_postmark_webhook,
    step_mailgun_webhook,
    step_api_error,
]


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def setup_django() -> None:
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    django.setup()


def main() -> int:
    setup_django()
    from anymail.signals import tracking

    with StandIn() as standin, DjangoServer() as webapp:
        print(f"Local ESP stand-in listening at {standin.url}")
        print(f"Demo Django app (webhooks) listening at {webapp.url('/')}")
        run = DemoRun(standin, webapp)
        tracking.connect(run.on_tracking)
        for step in STEPS:
            try:
                step(run)
            except Exception:
                traceback.print_exc(file=sys.stdout)
                run.check(False, f"{step.__name__} raised an unexpected exception")
        tracking.disconnect(run.on_tracking)
        run.check(not standin.errors, f"stand-in errors: {standin.errors!r}")

    section("Summary")
    if run.failures:
        print(f"  {len(run.failures)} check(s) FAILED:")
        for failure in run.failures:
            print(f"    - {failure}")
        return 1
    print(f"  All {len(STEPS)} steps completed; every check passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

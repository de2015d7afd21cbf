"""Shared pytest fixtures."""

import base64
import io
import json
import logging
import warnings
from unittest import mock

import pytest
import requests
from requests.structures import CaseInsensitiveDict


def pytest_configure(config):
    """Warning filters (later lines take precedence)."""
    from django.utils import deprecation

    if hasattr(deprecation, "RemovedInDjango2028Warning"):
        # Django 6.1 deprecates the email APIs the tests use on purpose
        # (EMAIL_BACKEND, get_connection(), message.connection, MIMEBase parts)
        config.addinivalue_line(
            "filterwarnings",
            "ignore::django.utils.deprecation.RemovedInDjango2028Warning",
        )
    # ... but Anymail's own code must not use anything deprecated
    for category in ("DeprecationWarning", "PendingDeprecationWarning"):
        config.addinivalue_line("filterwarnings", f"error::{category}:anymail")


def make_response(status_code=200, body=b"", reason=None, headers=None, url=""):
    """A real requests.Response, as an ESP API would have answered."""
    response = requests.Response()
    response.status_code = status_code
    response.reason = reason if reason is not None else _default_reason(status_code)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers = {"Content-Type": "application/json", **(headers or {})}
    if isinstance(body, str):
        body = body.encode("utf-8")
    response._content = body
    # a raw stream too, so stream=True callers can iter_content() and close()
    response.raw = io.BytesIO(body)
    response.encoding = "utf-8"
    response.headers = CaseInsensitiveDict(headers or {})
    response.url = url
    return response


def _default_reason(status_code):
    return (
        requests.status_codes._codes.get(status_code, ("",))[0]
        .upper()
        .replace("_", " ")
    )


class RequestsMock:
    """Replaces requests.Session.request; records calls and answers canned responses.

    Set the answer with set_response(...); inspect what the ESP would have
    received with last_call (the keyword arguments), last_json(), calls.
    """

    def __init__(self):
        self.patcher = mock.patch(
            "requests.Session.request", autospec=True, side_effect=self._request
        )
        self.mock = None
        self.responses = []
        self.default_response = dict(status_code=200, body=b"")
        self.calls = []

    def start(self):
        self.mock = self.patcher.start()
        return self

    def stop(self):
        self.patcher.stop()

    def set_response(self, status_code=200, body=b"", reason=None, headers=None):
        """The answer for every following call (until changed)."""
        self.default_response = dict(
            status_code=status_code, body=body, reason=reason, headers=headers
        )

    def queue_response(self, status_code=200, body=b"", reason=None, headers=None):
        """An answer for just the next call (before the default)."""
        self.responses.append(
            dict(status_code=status_code, body=body, reason=reason, headers=headers)
        )

    def set_exception(self, exception):
        """Make every following call raise `exception` (a requests error)."""
        self.default_response = exception

    def _request(self, session, *args, **kwargs):
        assert not args, "Anymail must call Session.request with keyword arguments"
        self.calls.append(kwargs)
        answer = self.responses.pop(0) if self.responses else self.default_response
        if isinstance(answer, BaseException):
            raise answer
        return make_response(url=kwargs.get("url", ""), **answer)

    @property
    def last_call(self):
        assert self.calls, "no API call was made"
        return self.calls[-1]

    def last_json(self):
        return json.loads(self.last_call["data"])

    @property
    def call_count(self):
        return len(self.calls)


@pytest.fixture
def requests_mock():
    """Patch requests.Session.request for the test; yields a RequestsMock."""
    patched = RequestsMock().start()
    yield patched
    patched.stop()


class SignalRecorder:
    """Connects to a signal and records every send's keyword arguments."""

    def __init__(self, signal):
        self.signal = signal
        self.calls = []
        signal.connect(self.receiver, weak=False)

    def receiver(self, **kwargs):
        self.calls.append(kwargs)

    @property
    def events(self):
        return [call["event"] for call in self.calls]

    @property
    def event(self):
        """The only event sent (fails the test if there were zero or several)."""
        assert len(self.calls) == 1, f"expected one event, got {len(self.calls)}"
        return self.calls[0]["event"]

    def disconnect(self):
        self.signal.disconnect(self.receiver)


@pytest.fixture
def tracking_events():
    """Records what Anymail's tracking signal sends (.calls, .events, .event)."""
    from anymail.signals import tracking

    recorder = SignalRecorder(tracking)
    yield recorder
    recorder.disconnect()


@pytest.fixture
def inbound_events():
    """Records what Anymail's inbound signal sends (.calls, .events, .event)."""
    from anymail.signals import inbound

    recorder = SignalRecorder(inbound)
    yield recorder
    recorder.disconnect()


@pytest.fixture
def webhook_client():
    """A Django test client that enforces CSRF, as a real ESP post would meet."""
    from django.test import Client

    return Client(enforce_csrf_checks=True)


def basic_auth_header(credentials):
    """HTTP_AUTHORIZATION value for test client requests: 'Basic <base64>'."""
    import base64

    return "Basic " + base64.b64encode(credentials.encode("utf-8")).decode("ascii")


# Webhook and inbound test scaffolding shared by tests/test_*_webhooks.py and
# tests/test_*_inbound.py (helpers and constants are imported from here;
# fixtures are available automatically).

SECURITY_LOGGER = "django.security.AnymailWebhookValidationFailure"

INSECURE_WARNING = (
    "Your Anymail webhooks are insecure and open to anyone on the web. "
    "You should set WEBHOOK_SECRET in your ANYMAIL settings. "
    "See 'Securing webhooks' in the Anymail docs."
)


def security_messages(caplog):
    """Messages Anymail logged about webhook validation failures."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == SECURITY_LOGGER
    ]


@pytest.fixture
def security_log(caplog):
    """caplog, capturing django.security errors (webhook validation failures)."""
    caplog.set_level(logging.ERROR, logger="django.security")
    return caplog


@pytest.fixture
def quiet():
    """No insecure-webhook warning noise for tests not about it."""
    from anymail.exceptions import AnymailInsecureWebhookWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)
        yield


TRACKING_EVENT_FIELDS = (
    "event_type",
    "timestamp",
    "event_id",
    "message_id",
    "recipient",
    "metadata",
    "tags",
    "reject_reason",
    "description",
    "mta_response",
    "user_agent",
    "click_url",
    "esp_event",
)


def event_fields(event):
    """Every AnymailTrackingEvent attribute, for exact comparison."""
    from anymail.signals import AnymailTrackingEvent

    assert isinstance(event, AnymailTrackingEvent)
    return {name: getattr(event, name) for name in TRACKING_EVENT_FIELDS}


def post_json_with_auth(client, payload, *, auth, url, **extra):
    """POST payload (JSON-encoded unless already str or bytes) to url.

    auth is the HTTP_AUTHORIZATION value (None: no Authorization header).
    """
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    if auth is not None:
        extra["HTTP_AUTHORIZATION"] = auth
    extra.setdefault("content_type", "application/json")
    return client.post(url, body, **extra)


def b64(content):
    """base64 of bytes (or of str, UTF-8 encoded), as text (one line)."""
    if isinstance(content, str):
        content = content.encode("utf-8")
    return base64.b64encode(content).decode("ascii")


def b64_lines(data):
    """base64 of data, as a MIME body: 76-character lines joined by CRLF."""
    encoded = base64.b64encode(data).decode("ascii")
    return "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def encodebytes_crlf(data):
    """base64.encodebytes(data) with CRLF line ends (the last line's too)."""
    return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")

"""Behaviors every requests-based ESP backend shares, tested once per ESP.

Each ESP backend test file (tests/test_<esp>_backend.py) covers what is that
ESP's own: its payload field mapping, its response parsing and its error texts.
What is the same for every ESP is tested here, with a parametrized row per ESP
described by an `Esp` entry in ESPS:

- required credentials: the "You must set ANYMAIL = {...}" texts (and the
  "OPTIONS must define '<kwarg>'" text with a Django 6.1 MAILERS alias), where
  each can be set (ANYMAIL dict, ANYMAIL_ prefixed, bare) and which wins,
  and backend kwargs
- the request for a simple message (method, URL, headers, auth, files,
  timeout; not the body), User-Agent, REQUESTS_TIMEOUT, one session for
  several messages, send_mass_mail, DEBUG_API_REQUESTS redaction
- network errors, API error responses, fail_silently, and serialization
  errors raised before any request

(Amazon SES sends through boto3, not requests, so it has no row here.)
"""

import base64
import io
import json
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
import requests
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils.module_loading import import_string

from anymail.backends.base import BASE64_INLINE_LIMIT
from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailInvalidMailer,
    AnymailRequestsAPIError,
    AnymailSerializationError,
)
from anymail.message import AnymailMessage

from .conftest import make_response
from .messages import message_factory

pytestmark = [
    # constructing these backends warns, as tested in their own files
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailDeprecationWarning"),
]


@dataclass(frozen=True)
class Credential:
    """A setting the backend requires (no default)."""

    setting: str  # e.g. "MAILGUN_API_KEY" (in ANYMAIL, or ANYMAIL_ prefixed)
    kwarg: str  # the backend's keyword argument (and MAILERS OPTIONS key)
    value: str  # the value the tests configure
    bare: bool = True  # also read from a bare Django setting (MAILGUN_API_KEY)
    # reads it from a recorded request call (None: the Esp's sent_credential
    # for the first credential; for others, not checked that way)
    sent: Callable | None = None
    other_value: str = "in-dict"  # a value to configure instead, in some tests
    secret: bool = True  # kept out of error texts and debug output


@dataclass(frozen=True)
class Esp:
    id: str
    backend: str  # dotted path of the EmailBackend
    esp_name: str  # as in error texts ("Don't know how to send this data to ...")
    user_agent_name: str  # as in the User-Agent ("django-anymail/15.2-<name> ...")
    credentials: tuple  # of Credential; the first is the secret the API receives
    sent_credential: Callable  # reads that secret from a recorded request call
    request_headers: dict | None  # exactly, for a simple message
    request_auth: tuple | None
    request_files: list | None
    send_url: str  # where a simple message is posted
    body_type: type  # of the request data: str (serialized JSON), or dict (form)
    success: dict  # RequestsMock.set_response kwargs for a one-recipient success
    error_response: dict  # set_response kwargs for an API error answer
    error_texts: tuple = ()  # parts of the AnymailAPIError text for it
    # message kwargs its payload cannot serialize, and the type named in the error
    # (None: the ESP rejects the feature before serializing; see its own file)
    unserializable: dict | None = None
    unserializable_type: str = "Decimal"
    # the request header that carries the secret (redacted in DEBUG_API_REQUESTS
    # output); None where it travels elsewhere (see that ESP's own file)
    secret_header: str | None = None

    def __str__(self):
        return self.id

    @property
    def settings(self):
        """The ANYMAIL settings dict with all credentials."""
        return {c.setting: c.value for c in self.credentials}

    @property
    def secret(self):
        return self.credentials[0]

    def reader(self, credential):
        """How `credential` can be read from a recorded request (or None)."""
        if credential is self.secret:
            return self.sent_credential
        return credential.sent

    @property
    def backend_class(self):
        return import_string(self.backend)


def header(name):
    return lambda call: call["headers"][name]


def bearer(call):
    authorization = call["headers"]["Authorization"]
    assert authorization.startswith("Bearer ")
    return authorization[len("Bearer ") :]


def auth(index):
    return lambda call: call["auth"][index]


def url_before(path):
    def read(call):
        assert call["url"].endswith(path)
        return call["url"].removesuffix(path)

    return read


def body_field(name):
    return lambda call: json.loads(call["data"])[name]


DECIMAL_METADATA = {"metadata": {"price": Decimal("19.99")}}

ESPS = [
    Esp(
        id="brevo",
        secret_header="api-key",
        backend="anymail.backends.brevo.EmailBackend",
        esp_name="Brevo",
        user_agent_name="brevo",
        credentials=(Credential("BREVO_API_KEY", "api_key", "test-api-key"),),
        sent_credential=header("api-key"),
        request_headers={"api-key": "test-api-key", "Content-Type": "application/json"},
        request_auth=None,
        request_files=None,
        send_url="https://api.brevo.com/v3/smtp/email",
        body_type=str,
        success=dict(status_code=201, body={"messageId": "<id@smtp-relay.mailin.fr>"}),
        error_response=dict(
            status_code=401,
            body={"code": "unauthorized", "message": "Key not found"},
            reason="Unauthorized",
        ),
        error_texts=("Brevo API response 401 (Unauthorized)", "Key not found"),
        unserializable=DECIMAL_METADATA,
    ),
    Esp(
        id="sendinblue",
        secret_header="api-key",
        backend="anymail.backends.sendinblue.EmailBackend",
        esp_name="SendinBlue",
        user_agent_name="sendinblue",
        credentials=(Credential("SENDINBLUE_API_KEY", "api_key", "test-sib-key"),),
        sent_credential=header("api-key"),
        request_headers={"api-key": "test-sib-key", "Content-Type": "application/json"},
        request_auth=None,
        request_files=None,
        send_url="https://api.brevo.com/v3/smtp/email",
        body_type=str,
        success=dict(status_code=201, body={"messageId": "<id@smtp-relay.mailin.fr>"}),
        error_response=dict(
            status_code=400, body={"code": "invalid_parameter", "message": "bad"}
        ),
        error_texts=("SendinBlue API response 400",),
        unserializable=DECIMAL_METADATA,
    ),
    Esp(
        id="mailersend",
        secret_header="Authorization",
        backend="anymail.backends.mailersend.EmailBackend",
        esp_name="MailerSend",
        user_agent_name="mailersend",
        credentials=(
            Credential("MAILERSEND_API_TOKEN", "api_token", "test-api-token"),
        ),
        sent_credential=bearer,
        request_headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": "Bearer test-api-token",
        },
        request_auth=None,
        request_files=None,
        send_url="https://api.mailersend.com/v1/email",
        body_type=str,
        success=dict(
            status_code=202,
            body=b"",
            headers={"Content-Type": "text/html", "X-Message-Id": "1234567890abcdef"},
        ),
        error_response=dict(status_code=401, body={"message": "Unauthenticated."}),
        error_texts=("MailerSend API response 401",),
        unserializable={"merge_global_data": {"price": Decimal("19.99")}},
    ),
    Esp(
        id="mailgun",
        secret_header="Authorization",
        backend="anymail.backends.mailgun.EmailBackend",
        esp_name="Mailgun",
        user_agent_name="mailgun",
        credentials=(Credential("MAILGUN_API_KEY", "api_key", "test_api_key"),),
        sent_credential=auth(1),
        request_headers=None,
        request_auth=("api", "test_api_key"),
        request_files=[],
        send_url="https://api.mailgun.net/v3/example.com/messages",
        body_type=dict,
        success=dict(
            status_code=200,
            body={"id": "<20240101.1.ABC@mg.example.com>", "message": "Queued."},
        ),
        error_response=dict(status_code=400, body={"message": "Bad"}),
        unserializable={"merge_data": {"to@example.com": {"when": date(2024, 1, 1)}}},
        unserializable_type="date",
    ),
    Esp(
        id="mailjet",
        secret_header="Authorization",
        backend="anymail.backends.mailjet.EmailBackend",
        esp_name="Mailjet",
        user_agent_name="mailjet",
        credentials=(
            Credential("MAILJET_API_KEY", "api_key", "test-api-key"),
            Credential(
                "MAILJET_SECRET_KEY", "secret_key", "test-secret-key", sent=auth(1)
            ),
        ),
        sent_credential=auth(0),
        request_headers={"Content-Type": "application/json"},
        request_auth=("test-api-key", "test-secret-key"),
        request_files=None,
        send_url="https://api.mailjet.com/v3.1/send",
        body_type=str,
        success=dict(
            status_code=200,
            body={
                "Messages": [
                    {
                        "Status": "success",
                        "To": [
                            {
                                "Email": "to@example.com",
                                "MessageUUID": "uuid-0",
                                "MessageID": 70650219165027410,
                                "MessageHref": "https://api.mailjet.com/v3/message/1",
                            }
                        ],
                        "Cc": [],
                        "Bcc": [],
                    }
                ]
            },
        ),
        error_response=dict(
            status_code=401, body="Unauthorized", headers={"Content-Type": "text/plain"}
        ),
        error_texts=("Mailjet API response 401",),
        unserializable=DECIMAL_METADATA,
    ),
    Esp(
        id="mailtrap",
        secret_header="Api-Token",
        backend="anymail.backends.mailtrap.EmailBackend",
        esp_name="Mailtrap",
        user_agent_name="mailtrap",
        credentials=(Credential("MAILTRAP_API_TOKEN", "api_token", "test-api-token"),),
        sent_credential=header("Api-Token"),
        request_headers={
            "Api-Token": "test-api-token",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
        request_auth=None,
        request_files=None,
        send_url="https://send.api.mailtrap.io/api/send",
        body_type=str,
        success=dict(
            status_code=200, body={"success": True, "message_ids": ["id-to1"]}
        ),
        error_response=dict(
            status_code=401, body={"success": False, "error": "Invalid API token"}
        ),
        error_texts=("Mailtrap API response 401", "Invalid API token"),
        unserializable={"headers": {"X-Price": Decimal("19.99")}},
    ),
    Esp(
        id="mandrill",
        backend="anymail.backends.mandrill.EmailBackend",
        esp_name="Mandrill",
        user_agent_name="mandrill",
        credentials=(
            Credential("MANDRILL_API_KEY", "api_key", "test-mandrill-api-key"),
        ),
        sent_credential=body_field("key"),
        request_headers=None,
        request_auth=None,
        request_files=None,
        send_url="https://mandrillapp.com/api/1.0/messages/send.json",
        body_type=str,
        success=dict(
            status_code=200,
            body=[
                {
                    "email": "to@example.com",
                    "status": "sent",
                    "reject_reason": None,
                    "_id": "abc123",
                }
            ],
        ),
        error_response=dict(
            status_code=500, body={"status": "error", "name": "Invalid_Key"}
        ),
        unserializable=DECIMAL_METADATA,
    ),
    Esp(
        id="postal",
        secret_header="X-Server-API-Key",
        backend="anymail.backends.postal.EmailBackend",
        esp_name="Postal",
        user_agent_name="postal",
        credentials=(
            Credential("POSTAL_API_KEY", "api_key", "test-postal-server-key"),
            Credential(
                "POSTAL_API_URL",
                "api_url",
                "https://postal.example.com",
                bare=False,
                secret=False,
                sent=url_before("/api/v1/send/message"),
                other_value="https://other.example.com",
            ),
        ),
        sent_credential=header("X-Server-API-Key"),
        request_headers={
            "X-Server-API-Key": "test-postal-server-key",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
        request_auth=None,
        request_files=None,
        send_url="https://postal.example.com/api/v1/send/message",
        body_type=str,
        success=dict(
            status_code=200,
            body={
                "status": "success",
                "time": 1.08,
                "flags": {},
                "data": {
                    "message_id": "9dfc0f5e-5dde-4b5c-9b3b@postal.example.com",
                    "messages": {"to@example.com": {"id": 1531, "token": "xLcaf"}},
                },
            },
        ),
        # (Postal answers errors with HTTP 200)
        error_response=dict(
            status_code=200,
            body={
                "status": "error",
                "time": 0.0,
                "flags": {},
                "data": {"code": "ValidationError", "message": "From is missing"},
            },
        ),
        unserializable=None,  # Postal has no metadata; see test_postal_backend.py
    ),
    Esp(
        id="postmark",
        secret_header="X-Postmark-Server-Token",
        backend="anymail.backends.postmark.EmailBackend",
        esp_name="Postmark",
        user_agent_name="postmark",
        credentials=(
            Credential("POSTMARK_SERVER_TOKEN", "server_token", "test_server_token"),
        ),
        sent_credential=header("X-Postmark-Server-Token"),
        request_headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Postmark-Server-Token": "test_server_token",
        },
        request_auth=None,
        request_files=None,
        send_url="https://api.postmarkapp.com/email",
        body_type=str,
        success=dict(
            status_code=200,
            body={
                "To": "to@example.com",
                "SubmittedAt": "2026-01-05T10:00:00.0000000-05:00",
                "MessageID": "abcdef01-2345-6789-0123-456789abcdef",
                "ErrorCode": 0,
                "Message": "OK",
            },
        ),
        error_response=dict(status_code=500, body=b"Server error"),
        unserializable=DECIMAL_METADATA,
    ),
    Esp(
        id="resend",
        secret_header="Authorization",
        backend="anymail.backends.resend.EmailBackend",
        esp_name="Resend",
        user_agent_name="resend",
        credentials=(Credential("RESEND_API_KEY", "api_key", "re_test_api_key_123"),),
        sent_credential=bearer,
        request_headers={
            "Authorization": "Bearer re_test_api_key_123",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
        request_auth=None,
        request_files=None,
        send_url="https://api.resend.com/emails",
        body_type=str,
        success=dict(
            status_code=200, body={"id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"}
        ),
        error_response=dict(
            status_code=401,
            body={"statusCode": 401, "message": "Missing API key", "name": "missing"},
        ),
        error_texts=("Resend API response 401",),
        unserializable=DECIMAL_METADATA,
    ),
    Esp(
        id="scaleway",
        secret_header="X-Auth-Token",
        backend="anymail.backends.scaleway.EmailBackend",
        esp_name="Scaleway",
        user_agent_name="scaleway",
        credentials=(
            Credential("SCALEWAY_SECRET_KEY", "secret_key", "test-scaleway-secret"),
            Credential(
                "SCALEWAY_PROJECT_ID",
                "project_id",
                "test-project",
                bare=False,
                secret=False,
                sent=body_field("project_id"),
            ),
        ),
        sent_credential=header("X-Auth-Token"),
        request_headers={
            "X-Auth-Token": "test-scaleway-secret",
            "Content-Type": "application/json",
        },
        request_auth=None,
        request_files=None,
        send_url=(
            "https://api.scaleway.com/transactional-email/v1alpha1/regions/fr-par/"
            "emails"
        ),
        body_type=str,
        success=dict(
            status_code=200,
            body={
                "emails": [
                    {
                        "id": "11111111-aaaa-4bbb-8ccc-000000000001",
                        "message_id": "22222222-bbbb-4ccc-8ddd-000000000000",
                        "project_id": "test-project",
                        "mail_from": "from@example.com",
                        "mail_rcpt": "to@example.com",
                        "rcpt_type": "to",
                        "subject": "Subject",
                        "status": "sending",
                        "status_details": "ready to send",
                        "created_at": "2025-01-01T00:00:00Z",
                        "updated_at": "2025-01-01T00:00:00Z",
                    }
                ]
            },
        ),
        error_response=dict(
            status_code=401,
            body={"message": "authentication is denied"},
            reason="Unauthorized",
        ),
        error_texts=(
            "Scaleway API response 401 (Unauthorized)",
            "authentication is denied",
        ),
        unserializable=DECIMAL_METADATA,
    ),
    Esp(
        id="sendgrid",
        secret_header="Authorization",
        backend="anymail.backends.sendgrid.EmailBackend",
        esp_name="SendGrid",
        user_agent_name="sendgrid",
        credentials=(
            Credential("SENDGRID_API_KEY", "api_key", "test-sendgrid-api-key"),
        ),
        sent_credential=bearer,
        request_headers={
            "Authorization": "Bearer test-sendgrid-api-key",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
        request_auth=None,
        request_files=None,
        send_url="https://api.sendgrid.com/v3/mail/send",
        body_type=str,
        success=dict(status_code=202, body=b""),
        error_response=dict(
            status_code=401, body={"errors": [{"message": "Unauthorized."}]}
        ),
        unserializable=DECIMAL_METADATA,
    ),
    Esp(
        id="sparkpost",
        secret_header="Authorization",
        backend="anymail.backends.sparkpost.EmailBackend",
        esp_name="SparkPost",
        user_agent_name="sparkpost",
        credentials=(
            Credential("SPARKPOST_API_KEY", "api_key", "test-sparkpost-api-key"),
        ),
        sent_credential=header("Authorization"),
        request_headers={
            "Authorization": "test-sparkpost-api-key",
            "Content-Type": "application/json",
        },
        request_auth=None,
        request_files=None,
        send_url="https://api.sparkpost.com/api/v1/transmissions/",
        body_type=str,
        success=dict(
            status_code=200,
            body={
                "results": {
                    "id": "7263548172635481",
                    "total_accepted_recipients": 1,
                    "total_rejected_recipients": 0,
                }
            },
        ),
        error_response=dict(
            status_code=401, body={"errors": [{"message": "Unauthorized."}]}
        ),
        unserializable=DECIMAL_METADATA,
    ),
    Esp(
        id="unisender_go",
        secret_header="X-API-KEY",
        backend="anymail.backends.unisender_go.EmailBackend",
        esp_name="Unisender Go",
        # (the base class keeps the space in the ESP name)
        user_agent_name="unisender go",
        credentials=(
            Credential("UNISENDER_GO_API_KEY", "api_key", "test-api-key"),
            Credential(
                "UNISENDER_GO_API_URL",
                "api_url",
                "https://go1.unisender.ru/ru/transactional/api/v1/",
                bare=False,
                secret=False,
                sent=url_before("email/send.json"),
                other_value="https://other.example.com/",
            ),
        ),
        sent_credential=header("X-API-KEY"),
        request_headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-API-KEY": "test-api-key",
        },
        request_auth=None,
        request_files=None,
        send_url="https://go1.unisender.ru/ru/transactional/api/v1/email/send.json",
        body_type=str,
        success=dict(
            status_code=200,
            body={
                "status": "success",
                "job_id": "1ZymBc-00041N-9X",
                "emails": ["to@example.com"],
            },
        ),
        error_response=dict(
            status_code=400,
            body={"status": "error", "message": "Can not decode key", "code": 102},
        ),
        error_texts=("Unisender Go API response 400", "Can not decode key"),
        unserializable=DECIMAL_METADATA,
    ),
]

SERIALIZING_ESPS = [esp for esp in ESPS if esp.unserializable is not None]

CREDENTIAL_CASES = [
    pytest.param(esp, credential, id=f"{esp.id}-{credential.setting}")
    for esp in ESPS
    for credential in esp.credentials
]


@pytest.fixture(params=ESPS, ids=str)
def esp(request):
    return request.param


@pytest.fixture
def esp_settings(esp):
    """The ESP is the EMAIL_BACKEND, with all its credentials in ANYMAIL."""
    with override_settings(EMAIL_BACKEND=esp.backend, ANYMAIL=esp.settings):
        yield


@pytest.fixture
def api(esp, esp_settings, requests_mock):
    """requests_mock answering a successful send to one recipient."""
    requests_mock.set_response(**esp.success)
    return requests_mock


make_message = message_factory(body="Text Body")


def anymail_settings(esp, **extra):
    return override_settings(ANYMAIL={**esp.settings, **extra})


def missing_text(credential):
    names = [f"ANYMAIL_{credential.setting}"]
    if credential.bare:
        names.append(credential.setting)
    return (
        f"You must set ANYMAIL = {{'{credential.setting}': ...}} or "
        f"{' or '.join(names)} in your Django settings"
    )


# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("esp, credential", CREDENTIAL_CASES)
def test_missing_credential(esp, credential):
    others = {c.setting: c.value for c in esp.credentials if c is not credential}
    with (
        override_settings(ANYMAIL=others),
        pytest.raises(AnymailConfigurationError) as excinfo,
    ):
        mail.get_connection(esp.backend)
    assert str(excinfo.value) == missing_text(credential)
    assert isinstance(excinfo.value, ImproperlyConfigured)
    assert not isinstance(excinfo.value, AnymailInvalidMailer)
    for other in others.values():
        assert other not in str(excinfo.value)


@pytest.mark.parametrize("esp, credential", CREDENTIAL_CASES)
def test_missing_credential_with_alias(esp, credential):
    """With a Django 6.1 MAILERS alias, the OPTIONS key is named instead."""
    others = {c.kwarg: c.value for c in esp.credentials if c is not credential}
    with (
        override_settings(ANYMAIL={}),
        pytest.raises(AnymailInvalidMailer) as excinfo,
    ):
        esp.backend_class(alias="default", **others)
    assert isinstance(excinfo.value, AnymailConfigurationError)
    assert str(excinfo.value).endswith(f"OPTIONS must define '{credential.kwarg}'")
    assert credential.setting not in str(excinfo.value)
    for other in others.values():
        assert other not in str(excinfo.value)


@pytest.mark.parametrize(
    "esp, credential", [p for p in CREDENTIAL_CASES if not p.values[1].bare]
)
def test_credential_not_read_from_bare_setting(esp, credential):
    others = {c.setting: c.value for c in esp.credentials if c is not credential}
    with (
        override_settings(ANYMAIL=others, **{credential.setting: credential.value}),
        pytest.raises(AnymailConfigurationError) as excinfo,
    ):
        mail.get_connection(esp.backend)
    assert str(excinfo.value) == missing_text(credential)


def credential_sources(esp):
    """(id, credential, settings) for each place each credential can be set.

    (Only credentials whose value can be read back from the request.)
    """
    for credential in esp.credentials:
        if esp.reader(credential) is None:
            continue
        others = {c.setting: c.value for c in esp.credentials if c is not credential}
        name, value = credential.setting, credential.other_value
        yield (
            "ANYMAIL dict",
            credential,
            {"ANYMAIL": {**others, name: value}},
        )
        yield (
            "ANYMAIL_ prefixed",
            credential,
            {
                "ANYMAIL": others,
                f"ANYMAIL_{name}": value,
            },
        )
        if credential.bare:
            yield "bare", credential, {"ANYMAIL": others, name: value}


@pytest.mark.parametrize(
    "esp, credential, settings_kwargs",
    [
        pytest.param(
            esp, credential, settings_kwargs, id=f"{esp.id}-{credential.setting}-{src}"
        )
        for esp in ESPS
        for src, credential, settings_kwargs in credential_sources(esp)
    ],
)
def test_credential_sources(esp, credential, settings_kwargs, requests_mock):
    requests_mock.set_response(**esp.success)
    with override_settings(EMAIL_BACKEND=esp.backend, **settings_kwargs):
        make_message().send()
    assert esp.reader(credential)(requests_mock.last_call) == credential.other_value


def test_anymail_dict_wins_over_prefixed_and_bare(esp, requests_mock):
    requests_mock.set_response(**esp.success)
    secret = esp.secret
    with override_settings(
        EMAIL_BACKEND=esp.backend,
        ANYMAIL=esp.settings,
        **{f"ANYMAIL_{secret.setting}": "prefixed", secret.setting: "bare"},
    ):
        make_message().send()
    assert esp.sent_credential(requests_mock.last_call) == secret.value


@pytest.mark.parametrize("esp", [esp for esp in ESPS if esp.secret.bare], ids=str)
def test_prefixed_wins_over_bare(esp, requests_mock):
    requests_mock.set_response(**esp.success)
    secret = esp.secret
    others = {c.setting: c.value for c in esp.credentials[1:]}
    with override_settings(
        EMAIL_BACKEND=esp.backend,
        ANYMAIL=others,
        **{f"ANYMAIL_{secret.setting}": "prefixed", secret.setting: "bare"},
    ):
        make_message().send()
    assert esp.sent_credential(requests_mock.last_call) == "prefixed"


def test_credential_kwarg_wins_over_settings(api, esp):
    connection = mail.get_connection(**{esp.secret.kwarg: "from-kwarg"})
    assert connection.send_messages([make_message()]) == 1
    assert esp.sent_credential(api.last_call) == "from-kwarg"


def test_credentials_from_kwargs_alone(esp, requests_mock):
    requests_mock.set_response(**esp.success)
    kwargs = {c.kwarg: c.value for c in esp.credentials}
    with override_settings(ANYMAIL={}):
        connection = mail.get_connection(esp.backend, **kwargs)
    assert connection.send_messages([make_message()]) == 1
    assert esp.sent_credential(requests_mock.last_call) == esp.secret.value
    assert requests_mock.last_call["url"] == esp.send_url


# ---------------------------------------------------------------------------
# The API call
# ---------------------------------------------------------------------------


def test_simple_send_request(api, esp):
    sent = mail.send_mail(
        "Subject here", "Here is the message.", "from@example.com", ["to@example.com"]
    )
    assert sent == 1
    assert api.call_count == 1
    call = api.last_call
    assert call["method"] == "POST"
    assert call["url"] == esp.send_url
    assert call["headers"] == esp.request_headers
    assert call["auth"] == esp.request_auth
    assert call["params"] is None
    assert call["files"] == esp.request_files
    assert call["timeout"] == 30
    # (what the body holds is tested in that ESP's own file)
    assert type(call["data"]) is esp.body_type


JSON_ESPS = [esp for esp in ESPS if esp.body_type is str]


@pytest.mark.parametrize("esp", JSON_ESPS, ids=str)
def test_large_attachment_base64_streamed_into_body(api, esp):
    # (no full-size base64 str copies: see Base64Bytes)
    content = bytes(range(256)) * (BASE64_INLINE_LIMIT // 256 + 1)
    message = make_message()
    message.attach("big.bin", content, "application/octet-stream")
    message.send()
    body = api.last_call["data"]
    assert isinstance(body, bytearray)
    json.loads(body)
    assert base64.b64encode(content) in body


def test_user_agent(api, esp):
    make_message().send()
    session = api.mock.call_args.args[0]
    assert isinstance(session, requests.Session)
    assert session.headers["User-Agent"] == (
        f"django-anymail/15.2-{esp.user_agent_name}"
        f" python-requests/{requests.__version__}"
    )


def body_text(call):
    """The request body as text (JSON string, or form fields for Mailgun)."""
    data = call["data"]
    return data if isinstance(data, str) else json.dumps(data)


def test_one_session_per_send_messages(api, esp):
    connection = mail.get_connection()
    messages = [
        AnymailMessage("Subject One", "1", "from@example.com", ["a@example.com"]),
        AnymailMessage("Subject Two", "2", "from@example.com", ["b@example.com"]),
    ]
    assert connection.send_messages(messages) == 2
    assert api.call_count == 2
    first, second = (body_text(call) for call in api.calls)
    assert "Subject One" in first and "a@example.com" in first
    assert "Subject Two" not in first and "b@example.com" not in first
    assert "Subject Two" in second and "b@example.com" in second
    assert [call["url"] for call in api.calls] == [esp.send_url, esp.send_url]
    sessions = [call.args[0] for call in api.mock.call_args_list]
    assert sessions[0] is sessions[1]
    assert connection.session is None  # closed after sending


def test_send_mass_mail(api):
    # (plain Django EmailMessages, through Django's API)
    count = mail.send_mass_mail(
        [
            ("S1", "B1", "from@example.com", ["a@example.com"]),
            ("S2", "B2", "from@example.com", ["b@example.com"]),
        ]
    )
    assert count == 2
    first, second = (body_text(call) for call in api.calls)
    assert '"S1"' in first and "a@example.com" in first
    assert '"S2"' not in first and "b@example.com" not in first
    assert '"S2"' in second and "b@example.com" in second


def test_requests_timeout_setting(api, esp):
    with anymail_settings(esp, REQUESTS_TIMEOUT=5.5):
        make_message().send()
    assert api.last_call["timeout"] == 5.5


# ---------------------------------------------------------------------------
# Failures
# ---------------------------------------------------------------------------


def test_network_error(api, esp):
    api.set_exception(requests.ConnectionError("connection refused"))
    message = make_message()
    with pytest.raises(AnymailRequestsAPIError) as excinfo:
        message.send()
    error = excinfo.value
    assert isinstance(error, requests.ConnectionError)
    assert isinstance(error, AnymailAPIError)
    assert str(error) == (
        f"Error posting to {esp.send_url}:\n"
        "requests.exceptions.ConnectionError: connection refused"
    )
    for credential in esp.credentials:
        if credential.secret:
            assert credential.value not in str(error)
    assert error.email_message is message
    assert message.anymail_status.status is None
    assert message.anymail_status.message_id is None
    assert message.anymail_status.recipients == {}
    assert message.anymail_status.esp_response is None


def test_api_error_fail_silently(api, esp):
    api.set_response(**esp.error_response)
    message = make_message()
    with pytest.warns(DeprecationWarning):
        connection = mail.get_connection(fail_silently=True)
    assert connection.send_messages([message]) == 0
    assert api.call_count == 1
    assert message.anymail_status.status is None


def test_api_error_fail_silently_send_mail(api, esp):
    api.set_response(**esp.error_response)
    with pytest.warns(DeprecationWarning):
        sent = mail.send_mail(
            "Subject", "Body", "from@example.com", ["to@example.com"],
            fail_silently=True,
        )  # fmt: skip
    assert sent == 0


@pytest.mark.parametrize("esp", SERIALIZING_ESPS, ids=str)
def test_serialization_error_before_request(api, esp):
    message = make_message(**esp.unserializable)
    with pytest.raises(AnymailSerializationError) as excinfo:
        message.send()
    assert isinstance(excinfo.value, TypeError)
    assert str(excinfo.value) == (
        f"Don't know how to send this data to {esp.esp_name}."
        " Try converting it to a string or number first.\n"
        f"Object of type '{esp.unserializable_type}' is not JSON serializable"
    )
    assert esp.secret.value not in str(excinfo.value)
    assert api.call_count == 0
    status = message.anymail_status
    assert status.status is None
    assert status.message_id is None
    assert status.recipients == {}
    assert status.esp_response is None


@pytest.mark.parametrize("esp", [esp for esp in ESPS if esp.secret_header], ids=str)
def test_debug_api_requests_redacts_secret(esp, esp_settings):
    # (a real Session.request, so the debug response hook runs)
    def send(session, request, **kwargs):
        response = make_response(**esp.success, url=request.url)
        response.request = request
        for hook in session.hooks["response"]:
            hook(response)
        return response

    output = io.StringIO()
    message = make_message()
    with (
        anymail_settings(esp, DEBUG_API_REQUESTS=True),
        mock.patch("requests.Session.send", autospec=True, side_effect=send),
        redirect_stdout(output),
    ):
        assert message.send() == 1
    printed = output.getvalue()
    assert printed.startswith(f"\n===== Anymail API request\nPOST {esp.send_url}\n")
    assert f"\n{esp.secret_header}: <redacted>\n" in printed
    for credential in esp.credentials:
        if credential.secret:
            assert credential.value not in printed
        else:  # (not redacted)
            assert credential.value in printed
    assert "Subject" in printed  # the body is shown
    assert message.anymail_status.status is not None


def test_api_error_response(api, esp):
    api.set_response(**esp.error_response)
    message = make_message()
    with pytest.raises(AnymailRequestsAPIError) as excinfo:
        message.send()
    error = excinfo.value
    assert isinstance(error, AnymailAPIError)
    assert error.status_code == esp.error_response["status_code"]
    assert error.email_message is message
    assert error.esp_name == esp.esp_name
    if esp.error_texts:  # the first starts the text
        assert str(error).startswith(esp.error_texts[0])
    for text in esp.error_texts:
        assert text in str(error)
    for credential in esp.credentials:
        if credential.secret:
            assert credential.value not in str(error)
            assert credential.value not in repr(error)
    assert message.anymail_status.status is None
    assert message.anymail_status.message_id is None
    assert error.response is not None
    assert error.response.status_code == esp.error_response["status_code"]

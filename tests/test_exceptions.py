"""Tests for anymail.exceptions: hierarchy, constructors and str() format."""

import json
import pickle
import warnings

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation

from anymail.exceptions import (
    AnymailAPIError,
    AnymailCancelSend,
    AnymailConfigurationError,
    AnymailDeprecationWarning,
    AnymailError,
    AnymailImproperlyInstalled,
    AnymailInsecureWebhookWarning,
    AnymailInvalidAddress,
    AnymailInvalidMailer,
    AnymailNotSupportedWarning,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
    AnymailWarning,
    AnymailWebhookValidationFailure,
    _LazyError,
)
from tests.conftest import make_response

try:
    from django.core.mail import InvalidMailer as DjangoInvalidMailer
except ImportError:  # Django < 6.1
    DjangoInvalidMailer = None


class FakeBackend:
    esp_name = "Fake ESP"


def raise_chained(exc, cause):
    """Raise exc from cause, and return the caught exc."""
    try:
        raise exc from cause
    except type(exc) as caught:
        return caught


# ---------------------------------------------------------------------------
# 6.1 hierarchy


@pytest.mark.parametrize(
    "cls, bases",
    [
        (AnymailError, (Exception,)),
        (AnymailAPIError, (AnymailError,)),
        (AnymailRequestsAPIError, (AnymailAPIError, requests.HTTPError)),
        (AnymailRecipientsRefused, (AnymailError,)),
        (AnymailInvalidAddress, (AnymailError, ValueError)),
        (AnymailUnsupportedFeature, (AnymailError, ValueError)),
        (AnymailSerializationError, (AnymailError, TypeError)),
        (AnymailCancelSend, (AnymailError,)),
        (AnymailWebhookValidationFailure, (AnymailError, SuspiciousOperation)),
        (AnymailConfigurationError, (ImproperlyConfigured,)),
        (AnymailInvalidMailer, (AnymailConfigurationError, ImproperlyConfigured)),
        (AnymailImproperlyInstalled, (AnymailConfigurationError, ImportError)),
        (AnymailWarning, (Warning,)),
        (AnymailInsecureWebhookWarning, (AnymailWarning,)),
        (AnymailDeprecationWarning, (AnymailWarning, DeprecationWarning)),
        (AnymailNotSupportedWarning, (AnymailWarning,)),
    ],
)
def test_hierarchy(cls, bases):
    for base in bases:
        assert issubclass(cls, base)


@pytest.mark.parametrize(
    "cls",
    [
        AnymailConfigurationError,
        AnymailInvalidMailer,
        AnymailImproperlyInstalled,
        AnymailWarning,
        AnymailInsecureWebhookWarning,
        AnymailDeprecationWarning,
        AnymailNotSupportedWarning,
    ],
)
def test_not_anymail_errors(cls):
    # fail_silently only hides AnymailError
    assert not issubclass(cls, AnymailError)


def test_warning_categories_distinct():
    assert not issubclass(AnymailInsecureWebhookWarning, DeprecationWarning)
    assert not issubclass(AnymailNotSupportedWarning, DeprecationWarning)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("old", AnymailDeprecationWarning, stacklevel=1)
    assert [w.category for w in caught] == [AnymailDeprecationWarning]


def test_invalid_mailer_django_base():
    if DjangoInvalidMailer is not None:
        assert issubclass(AnymailInvalidMailer, DjangoInvalidMailer)
        err = AnymailInvalidMailer("OPTIONS must define 'x'", alias="default")
        assert str(err) == "MAILERS['default']: OPTIONS must define 'x'"
    else:
        err = AnymailInvalidMailer("OPTIONS must define 'x'", alias="default")
        assert str(err) == "OPTIONS must define 'x'"
    assert isinstance(err, AnymailConfigurationError)
    assert isinstance(err, ImproperlyConfigured)


# ---------------------------------------------------------------------------
# AnymailError constructor


def test_anymail_error_attributes_default_none():
    err = AnymailError("msg")
    for attr in (
        "backend",
        "email_message",
        "payload",
        "status_code",
        "response",
        "esp_name",
    ):
        assert getattr(err, attr) is None
    assert err.args == ("msg",)
    assert str(err) == "msg"


def test_anymail_error_attributes_stored():
    backend = FakeBackend()
    message = object()
    payload = object()
    err = AnymailError("msg", backend=backend, email_message=message, payload=payload)
    assert err.backend is backend
    assert err.email_message is message
    assert err.payload is payload
    assert err.esp_name == "Fake ESP"  # from backend
    err = AnymailError("msg", backend=backend, esp_name="Explicit")
    assert err.esp_name == "Explicit"


def test_anymail_error_str_joins_args():
    assert str(AnymailError("one", "two", 3)) == "one two 3"
    assert str(AnymailError()) == ""
    assert str(AnymailUnsupportedFeature("Test does not support tags")) == (
        "Test does not support tags"
    )


# ---------------------------------------------------------------------------
# 6.2 str(): cause line


def test_str_with_builtin_cause():
    err = raise_chained(AnymailAPIError("Problem"), ValueError("bad value  "))
    assert str(err) == "Problem\nValueError: bad value"


def test_str_with_qualified_cause():
    cause = requests.exceptions.SSLError("Something bad")
    err = raise_chained(AnymailAPIError("Error posting to https://x/:"), cause)
    assert str(err) == (
        "Error posting to https://x/:\nrequests.exceptions.SSLError: Something bad"
    )


def test_str_with_json_decode_cause():
    try:
        json.loads("")
    except ValueError as decode_error:
        err = raise_chained(
            AnymailAPIError("Invalid JSON in Test API response"), decode_error
        )
    assert str(err) == (
        "Invalid JSON in Test API response\n"
        "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)"
    )


def test_str_ignores_implicit_context():
    try:
        try:
            raise ValueError("context only")
        except ValueError:
            raise AnymailAPIError("Problem")  # noqa: B904
    except AnymailAPIError as err:
        assert err.__context__ is not None
        assert str(err) == "Problem"


def test_str_cause_suppressed_context():
    try:
        try:
            raise ValueError("hidden")
        except ValueError:
            raise AnymailSerializationError(esp_name="Postmark") from None
    except AnymailSerializationError as err:
        assert str(err) == (
            "Don't know how to send this data to Postmark."
            " Try converting it to a string or number first."
        )


def test_str_nested_anymail_causes():
    inner = raise_chained(AnymailInvalidAddress("Inner problem"), ValueError("root"))
    outer = raise_chained(AnymailInvalidAddress("Outer problem"), inner)
    assert str(outer) == (
        "Outer problem\n"
        "anymail.exceptions.AnymailInvalidAddress: Inner problem\n"
        "ValueError: root"
    )


def test_str_cause_with_empty_message():
    err = raise_chained(AnymailAPIError("Problem"), KeyError())
    assert str(err) == "Problem\nKeyError"


def test_str_only_cause():
    err = raise_chained(AnymailAPIError(), RuntimeError("boom"))
    assert str(err) == "RuntimeError: boom"


# ---------------------------------------------------------------------------
# 6.2 str(): API response description


def test_str_json_response():
    response = make_response(400, {"message": "Helpful explanation from your ESP"})
    err = AnymailAPIError(status_code=400, response=response, esp_name="Mailgun")
    assert str(err) == (
        "Mailgun API response 400 (BAD REQUEST):\n"
        "{\n"
        '  "message": "Helpful explanation from your ESP"\n'
        "}"
    )


def test_str_json_response_non_ascii_escaped():
    response = make_response(422, {"errors": ["Ungültig", 3], "nested": {"a": None}})
    err = AnymailAPIError("Failed", status_code=422, response=response, esp_name="X")
    assert str(err) == (
        "Failed\n"
        "X API response 422 (UNPROCESSABLE ENTITY):\n"
        "{\n"
        '  "errors": [\n'
        '    "Ung\\u00fcltig",\n'
        "    3\n"
        "  ],\n"
        '  "nested": {\n'
        '    "a": null\n'
        "  }\n"
        "}"
    )


def test_str_non_json_response():
    response = make_response(500, "Invalid API key", reason="Internal Server Error")
    err = AnymailAPIError(status_code=500, response=response, esp_name="Postmark")
    assert str(err) == (
        "Postmark API response 500 (Internal Server Error): 'Invalid API key'"
    )


def test_str_response_text_uses_repr():
    response = make_response(502, 'It\'s "bad"\n', reason="Bad Gateway")
    err = AnymailAPIError(status_code=502, response=response)
    assert str(err) == "ESP API response 502 (Bad Gateway): 'It\\'s \"bad\"\\n'"


def test_str_empty_response_text():
    response = make_response(503, b"", reason="Service Unavailable")
    err = AnymailAPIError(status_code=503, response=response, esp_name="Brevo")
    assert str(err) == "Brevo API response 503 (Service Unavailable): ''"


def test_str_response_without_text():
    class Bare:
        reason = "Teapot"

        def json(self):
            raise ValueError("not json")

    err = AnymailAPIError("Msg", status_code=418, response=Bare(), esp_name="E")
    assert str(err) == "Msg\nE API response 418 (Teapot)"


def test_str_reason_bytes():
    response = make_response(500, "x", reason=b"Caf\xc3\xa9 UTF-8")
    assert str(AnymailAPIError(status_code=500, response=response)) == (
        "ESP API response 500 (Café UTF-8): 'x'"
    )
    response = make_response(500, "x", reason=b"Caf\xe9 Latin-1")
    assert str(AnymailAPIError(status_code=500, response=response)) == (
        "ESP API response 500 (Café Latin-1): 'x'"
    )


def test_str_no_response_section_without_status_code():
    response = make_response(400, {"message": "ignored"})
    err = AnymailAPIError("Just this", response=response, esp_name="Mailgun")
    assert err.response is response
    assert str(err) == "Just this"


def test_str_args_cause_and_response():
    response = make_response(200, "not json", reason="OK")
    try:
        response.json()
    except ValueError as decode_error:
        err = raise_chained(
            AnymailRequestsAPIError(
                "Invalid JSON in Postmark API response",
                response=response,
                esp_name="Postmark",
            ),
            decode_error,
        )
    lines = str(err).split("\n")
    assert lines[0] == "Invalid JSON in Postmark API response"
    assert lines[1].startswith("requests.exceptions.JSONDecodeError: ")
    assert lines[2] == "Postmark API response 200 (OK): 'not json'"
    assert len(lines) == 3


def test_str_esp_name_from_backend():
    response = make_response(401, "nope", reason="Unauthorized")
    err = AnymailAPIError(status_code=401, response=response, backend=FakeBackend())
    assert str(err) == "Fake ESP API response 401 (Unauthorized): 'nope'"


# ---------------------------------------------------------------------------
# AnymailRequestsAPIError


def test_requests_api_error_from_response():
    response = make_response(400, {"message": "bad"})
    request = requests.Request("POST", "https://api.example.com/send").prepare()
    response.request = request
    err = AnymailRequestsAPIError(response=response, esp_name="Mailgun")
    assert err.response is response
    assert err.request is request
    assert err.status_code == 400
    assert err.args == ()
    assert isinstance(err, requests.RequestException)
    assert str(err) == (
        'Mailgun API response 400 (BAD REQUEST):\n{\n  "message": "bad"\n}'
    )


def test_requests_api_error_without_response():
    err = AnymailRequestsAPIError("Error posting to https://api.example.com/:")
    assert err.response is None
    assert err.status_code is None
    assert str(err) == "Error posting to https://api.example.com/:"


def test_requests_api_error_status_code_from_response_wins():
    response = make_response(404, "missing", reason="Not Found")
    err = AnymailRequestsAPIError(status_code=999, response=response)
    assert err.status_code == 404
    assert str(err) == "ESP API response 404 (Not Found): 'missing'"


# ---------------------------------------------------------------------------
# Other constructors


def test_recipients_refused():
    err = AnymailRecipientsRefused()
    assert str(err) == "All message recipients were rejected or invalid"
    assert err.args == ("All message recipients were rejected or invalid",)
    err = AnymailRecipientsRefused("Custom text", esp_name="Test", payload="p")
    assert str(err) == "Custom text"
    assert err.esp_name == "Test"
    assert err.payload == "p"


def test_recipients_refused_no_response_section():
    response = make_response(200, {"ok": True})
    err = AnymailRecipientsRefused(response=response, backend=FakeBackend())
    assert err.response is response
    assert str(err) == "All message recipients were rejected or invalid"


def test_serialization_error_default_texts():
    assert str(AnymailSerializationError()) == (
        "Don't know how to send this data to the ESP."
        " Try converting it to a string or number first."
    )
    assert str(AnymailSerializationError(esp_name="Postmark")) == (
        "Don't know how to send this data to Postmark."
        " Try converting it to a string or number first."
    )
    err = AnymailSerializationError(backend=FakeBackend())
    assert str(err) == (
        "Don't know how to send this data to Fake ESP."
        " Try converting it to a string or number first."
    )
    assert err.esp_name == "Fake ESP"
    err = AnymailSerializationError(backend=FakeBackend(), esp_name="Override")
    assert str(err).startswith("Don't know how to send this data to Override.")


def test_serialization_error_orig_err():
    orig = TypeError("Object of type 'Decimal' is not JSON serializable")
    err = AnymailSerializationError(orig_err=orig, esp_name="Postmark")
    assert str(err) == (
        "Don't know how to send this data to Postmark."
        " Try converting it to a string or number first.\n"
        "Object of type 'Decimal' is not JSON serializable"
    )
    assert isinstance(err, TypeError)
    err = AnymailSerializationError("Custom message", orig_err=ValueError("why"))
    assert str(err) == "Custom message\nwhy"
    assert str(AnymailSerializationError("Only message")) == "Only message"


def test_improperly_installed():
    err = AnymailImproperlyInstalled("boto3", install_extra="amazon-ses")
    assert str(err) == (
        "The boto3 package isn't installed but is needed for this ESP.\n"
        '(Be sure to use `pip install "django-anymail[amazon-ses]"`.)'
    )
    assert isinstance(err, ImportError)
    assert isinstance(err, ImproperlyConfigured)


def test_improperly_installed_defaults_and_feature():
    assert str(AnymailImproperlyInstalled("cryptography")) == (
        "The cryptography package isn't installed but is needed for this ESP.\n"
        '(Be sure to use `pip install "django-anymail[<esp>]"`.)'
    )
    err = AnymailImproperlyInstalled(
        missing_package="uts46",
        install_extra="<your-esp>,uts46",
        feature='IDNA_ENCODER="uts46"',
    )
    assert str(err) == (
        'The uts46 package isn\'t installed but is needed for IDNA_ENCODER="uts46".\n'
        '(Be sure to use `pip install "django-anymail[<your-esp>,uts46]"`.)'
    )


def test_configuration_error_is_plain_improperly_configured():
    err = AnymailConfigurationError("You must set something")
    assert str(err) == "You must set something"
    assert not hasattr(err, "esp_name")


def test_webhook_validation_failure():
    err = AnymailWebhookValidationFailure(
        "Missing or invalid basic auth in Anymail Test webhook"
    )
    assert str(err) == "Missing or invalid basic auth in Anymail Test webhook"
    assert isinstance(err, SuspiciousOperation)


def test_cancel_send():
    err = AnymailCancelSend()
    assert str(err) == ""
    assert isinstance(err, AnymailError)


# ---------------------------------------------------------------------------
# _LazyError


def test_lazy_error_inert_until_used():
    error = AnymailImproperlyInstalled("somepackage")
    lazy = _LazyError(error)
    lazy.some_attribute = "ok"  # setting attributes is fine
    assert lazy.some_attribute == "ok"
    with pytest.raises(AnymailImproperlyInstalled) as excinfo:
        lazy()
    assert excinfo.value is error
    with pytest.raises(AnymailImproperlyInstalled) as excinfo:
        lazy.encode("x")
    assert excinfo.value is error
    with pytest.raises(AnymailImproperlyInstalled):
        getattr(lazy, "anything_else")  # noqa: B009


def failed_send_error():
    return AnymailRequestsAPIError(
        "Failed",
        backend=FakeBackend(),
        response=make_response(500, {"Message": "boom"}, url="https://api.example/"),
    )


@pytest.mark.parametrize(
    "make_error",
    [
        lambda: AnymailError("x", status_code=400, esp_name="Fake ESP"),
        lambda: AnymailAPIError("x"),
        failed_send_error,
        lambda: AnymailRecipientsRefused(),
        lambda: AnymailInvalidAddress("Invalid email address ''"),
        lambda: AnymailUnsupportedFeature("Fake ESP does not support tags"),
        lambda: AnymailSerializationError(orig_err=TypeError("Decimal")),
        lambda: AnymailCancelSend(),
        lambda: AnymailWebhookValidationFailure("bad signature"),
        lambda: AnymailConfigurationError("You must set ..."),
        lambda: AnymailInvalidMailer("bad", alias="default"),
        lambda: AnymailImproperlyInstalled("boto3", "amazon-ses", "Amazon SES"),
    ],
)
def test_errors_pickle(make_error):
    # e.g. into a task queue's result store
    error = make_error()
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is type(error)
    assert restored.args == error.args
    assert str(restored) == str(error)

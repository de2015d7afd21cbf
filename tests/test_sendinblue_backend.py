"""Tests for the deprecated SendinBlue alias of the Brevo sending backend.

(The Brevo behavior itself is covered in test_brevo_backend.py.)
"""

import json
from unittest import mock

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import override_settings

from anymail.backends.brevo import BrevoPayload
from anymail.backends.brevo import EmailBackend as BrevoEmailBackend
from anymail.backends.sendinblue import EmailBackend, SendinBluePayload
from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailDeprecationWarning,
    AnymailRequestsAPIError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage
from anymail.signals import post_send, pre_send

BACKEND = "anymail.backends.sendinblue.EmailBackend"
CREDENTIALS = {"SENDINBLUE_API_KEY": "test-sib-key"}
DEPRECATION_MESSAGE = (
    "`anymail.backends.sendinblue.EmailBackend` has been renamed"
    " `anymail.backends.brevo.EmailBackend`."
)

pytestmark = pytest.mark.filterwarnings(
    "ignore::anymail.exceptions.AnymailDeprecationWarning"
)


@pytest.fixture(autouse=True)
def sendinblue_settings():
    with override_settings(EMAIL_BACKEND=BACKEND, ANYMAIL=CREDENTIALS):
        yield


@pytest.fixture
def api(requests_mock):
    requests_mock.set_response(201, {"messageId": "<sib-id@smtp-relay.mailin.fr>"})
    return requests_mock


@pytest.fixture
def message():
    return AnymailMessage(
        "Subject", "Text Body", "from@example.com", ["to@example.com"]
    )


class TestDeprecation:
    def test_warns_on_every_construction(self):
        for _ in range(2):
            with pytest.warns(AnymailDeprecationWarning) as record:
                mail.get_connection()
            # (Django 6.1 adds its own deprecation warning for get_connection)
            ours = [w for w in record if w.category is AnymailDeprecationWarning]
            assert [str(w.message) for w in ours] == [DEPRECATION_MESSAGE]
            assert issubclass(ours[0].category, DeprecationWarning)

    def test_brevo_backend_does_not_warn(self, recwarn):
        with override_settings(ANYMAIL={"BREVO_API_KEY": "k"}):
            BrevoEmailBackend()
        assert [w for w in recwarn if w.category is AnymailDeprecationWarning] == []

    def test_is_brevo_subclass(self):
        assert issubclass(EmailBackend, BrevoEmailBackend)
        assert EmailBackend.esp_name == "SendinBlue"
        assert SendinBluePayload is BrevoPayload


class TestSettings:
    def test_api_key_header(self, api, message):
        message.send()
        assert api.last_call["headers"] == {
            "api-key": "test-sib-key",
            "Content-Type": "application/json",
        }

    def test_no_fallback_to_brevo_settings(self):
        with (
            override_settings(ANYMAIL={"BREVO_API_KEY": "brevo-key"}),
            pytest.raises(AnymailConfigurationError) as excinfo,
        ):
            mail.get_connection()
        assert str(excinfo.value) == (
            "You must set ANYMAIL = {'SENDINBLUE_API_KEY': ...} or "
            "ANYMAIL_SENDINBLUE_API_KEY or SENDINBLUE_API_KEY in your Django settings"
        )

    def test_sendinblue_prefixed_settings(self, api):
        anymail = {
            **CREDENTIALS,
            "SENDINBLUE_API_URL": "https://sib.example.com/v3",
            "SENDINBLUE_SEND_DEFAULTS": {"tags": ["sib-default"]},
            "SENDINBLUE_WORKAROUND_DISPLAY_NAME_BUGS": False,
            "SENDINBLUE_PREVENT_HEADER_ENCODING_BUGS": False,
            "SENDINBLUE_IDNA_ENCODER": "idna2003",
            # Brevo-prefixed settings are not used by the alias
            "BREVO_SEND_DEFAULTS": {"tags": ["brevo-default"]},
            "BREVO_API_URL": "https://brevo.example.com/v3/",
        }
        msg = AnymailMessage(
            "S",
            "B",
            '"Odesílatel, z adresy" <from@example.com>',
            ["to@faß.example"],
            headers={"X-Extra": "Ünïcode"},
        )
        with override_settings(ANYMAIL=anymail):
            msg.send()
        assert api.last_call["url"] == "https://sib.example.com/v3/smtp/email"
        data = api.last_json()
        assert data["tags"] == ["sib-default"]
        assert data["sender"]["name"] == "Odesílatel, z adresy"
        assert data["headers"] == {"X-Extra": "Ünïcode"}
        assert data["to"] == [{"email": "to@fass.example"}]

    def test_kwargs_consumed(self):
        with mock.patch.object(
            BaseEmailBackend, "__init__", autospec=True, return_value=None
        ) as django_init:
            EmailBackend(
                api_key="k",
                api_url="https://x.example/",
                workaround_display_name_bugs=True,
                prevent_header_encoding_bugs=True,
                alias="sib",
            )
        assert django_init.call_args.kwargs == {"alias": "sib"}


class TestSending:
    def test_same_url_and_payload_as_brevo(self, api):
        def send(backend):
            msg = AnymailMessage(
                "Subject", "Body", "From <from@example.com>", ["a@example.com"],
                cc=["cc@example.com"], tags=["t"], metadata={"k": "v"},
                merge_data={"a@example.com": {"x": 1}},
            )  # fmt: skip
            msg.connection = backend
            msg.send()
            return api.last_call

        sib_call = send(mail.get_connection())
        brevo_call = send(BrevoEmailBackend(api_key="test-sib-key"))
        assert sib_call["url"] == "https://api.brevo.com/v3/smtp/email"
        assert sib_call["url"] == brevo_call["url"]
        assert sib_call["headers"] == brevo_call["headers"]
        assert json.loads(sib_call["data"]) == json.loads(brevo_call["data"])

    def test_status(self, api, message):
        message.send()
        assert message.anymail_status.status == {"queued"}
        assert message.anymail_status.message_id == "<sib-id@smtp-relay.mailin.fr>"

    def test_unsupported_feature_names_sendinblue(self, api, message):
        message.track_opens = True
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == "SendinBlue does not support track_opens"

    def test_invalid_response_names_sendinblue(self, api, message):
        api.set_response(201, {"unexpected": True})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Invalid SendinBlue API response format")

    def test_signals_esp_name(self, api, message):
        received = []

        def receiver(sender, **kwargs):
            received.append((sender, kwargs["esp_name"]))

        pre_send.connect(receiver)
        post_send.connect(receiver)
        try:
            message.send()
        finally:
            pre_send.disconnect(receiver)
            post_send.disconnect(receiver)
        assert received == [(EmailBackend, "SendinBlue"), (EmailBackend, "SendinBlue")]

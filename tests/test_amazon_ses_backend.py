"""Tests for the Amazon SES (SES v2, boto3) sending backend."""

import email
import email.policy
import importlib
import json
import sys
from datetime import datetime, timezone
from decimal import Decimal
from email import encoders
from email.mime.base import MIMEBase
from unittest import mock

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
)
from botocore.stub import Stubber
from django.core import mail
from django.core.mail import BadHeaderError
from django.core.mail.backends.base import BaseEmailBackend
from django.test import override_settings

from anymail._boto import boto_client_config
from anymail.backends.amazon_ses import EmailBackend
from anymail.exceptions import (
    AnymailAPIError,
    AnymailImproperlyInstalled,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image
from anymail.signals import pre_send

BACKEND = "anymail.backends.amazon_ses.EmailBackend"
SESSION_PATH = "anymail.backends.amazon_ses.boto3.session.Session"
USER_AGENT_EXTRA = "django-anymail/15.2-amazon-ses"
MESSAGE_ID = "0100018a-5f4e-4c1d-9b7e-000000000000-000000"
RESPONSE_METADATA = {
    "RequestId": "b6a8c7d2-0000-4000-8000-000000000000",
    "HTTPStatusCode": 200,
    "HTTPHeaders": {"content-type": "application/json"},
    "RetryAttempts": 0,
}
IDENTITY_ARN = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
SEND_EMAIL_RESPONSE = {"MessageId": MESSAGE_ID, "ResponseMetadata": RESPONSE_METADATA}
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
    b"\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f"
    b"\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
# Every standard EmailMessage attribute, with a send default for it
STANDARD_ATTR_DEFAULTS = {
    "from_email": "default@example.com",
    "to": ["default-to@example.com"],
    "cc": ["default-cc@example.com"],
    "bcc": ["default-bcc@example.com"],
    "subject": "Default subject",
    "reply_to": ["default-reply@example.com"],
    "extra_headers": {"X-Default": "yes"},
    "body": "Default body",
    "alternatives": [("<p>Default</p>", "text/html")],
    "attachments": [("default.txt", "default", "text/plain")],
}


def bulk_response(*results):
    """A SendBulkEmail response; each result is "SUCCESS" or a result dict."""
    entries = []
    for n, result in enumerate(results):
        if result == "SUCCESS":
            result = {"Status": "SUCCESS", "MessageId": f"bulk-id-{n}"}
        entries.append(result)
    return {"BulkEmailEntryResults": entries, "ResponseMetadata": RESPONSE_METADATA}


def client_error(
    code="MessageRejected",
    text="Email address is not verified.",
    operation="SendEmail",
):
    response = {
        "Error": {"Type": "Sender", "Code": code, "Message": text},
        "ResponseMetadata": {**RESPONSE_METADATA, "HTTPStatusCode": 400},
    }
    return ClientError(response, operation)


class SesMock:
    """The patched boto3 Session class, its session and its sesv2 client."""

    def __init__(self, session_class):
        self.session_class = session_class
        self.session = session_class.return_value
        self.client = self.session.client.return_value
        self.client.send_email.return_value = SEND_EMAIL_RESPONSE
        self.client.send_bulk_email.return_value = bulk_response("SUCCESS")

    def params(self, method="send_email"):
        """The keyword params of the (one) client call."""
        call = getattr(self.client, method)
        assert call.call_count == 1
        assert call.call_args.args == ()
        return call.call_args.kwargs

    def bulk_params(self):
        return self.params("send_bulk_email")

    def raw(self):
        return self.params()["Content"]["Raw"]["Data"]

    def mime(self):
        return email.message_from_bytes(self.raw(), policy=email.policy.default)

    def assert_not_called(self):
        assert self.client.send_email.call_count == 0
        assert self.client.send_bulk_email.call_count == 0


@pytest.fixture(autouse=True)
def ses_settings():
    with override_settings(EMAIL_BACKEND=BACKEND, ANYMAIL={}):
        yield


@pytest.fixture
def ses():
    with mock.patch(SESSION_PATH) as session_class:
        yield SesMock(session_class)


@pytest.fixture
def message():
    return AnymailMessage(
        "Subject", "Text Body", "from@example.com", ["to@example.com"]
    )


@pytest.fixture
def template_message():
    return AnymailMessage(
        from_email="from@example.com", to=["to@example.com"], template_id="Welcome"
    )


def anymail_settings(**settings):
    return override_settings(ANYMAIL=settings)


# ---------------------------------------------------------------------------


class TestImport:
    def test_missing_boto3(self):
        with mock.patch.dict(sys.modules, {"boto3": None}):
            del sys.modules["anymail.backends.amazon_ses"]
            with pytest.raises(AnymailImproperlyInstalled) as excinfo:
                importlib.import_module("anymail.backends.amazon_ses")
        assert str(excinfo.value) == (
            "The boto3 package isn't installed but is needed for this ESP.\n"
            '(Be sure to use `pip install "django-anymail[amazon-ses]"`.)'
        )
        assert isinstance(excinfo.value, ImportError)


class TestBotoClientConfig:
    """anymail._boto.boto_client_config, shared with the Amazon SES webhooks."""

    def test_user_agent(self):
        config = boto_client_config("Amazon SES")
        assert isinstance(config, Config)
        assert config.user_agent_extra == USER_AGENT_EXTRA

    def test_merges_user_config_dict(self):
        user_config = {"connect_timeout": 5, "retries": {"max_attempts": 2}}
        config = boto_client_config("Amazon SES", user_config)
        assert config.connect_timeout == 5
        assert config.retries == {"max_attempts": 2}
        assert config.user_agent_extra == USER_AGENT_EXTRA
        assert user_config == {"connect_timeout": 5, "retries": {"max_attempts": 2}}

    def test_user_config_object_wins(self):
        user_config = Config(user_agent_extra="my-app/1.0", region_name="eu-west-1")
        config = boto_client_config("Amazon SES", user_config)
        assert config.user_agent_extra == "my-app/1.0"
        assert config.region_name == "eu-west-1"
        assert config is not user_config

    def test_esp_id_in_user_agent(self):
        config = boto_client_config("Some ESP")
        assert config.user_agent_extra.endswith("-some-esp")


class TestBotoCalls:
    def test_simple_send(self, ses):
        sent = mail.send_mail(
            "Subject here", "Here is the message", "from@example.com",
            ["to@example.com"],
        )  # fmt: skip
        assert sent == 1
        ses.session_class.assert_called_once_with()
        ses.session.client.assert_called_once_with("sesv2", config=mock.ANY)
        params = ses.params()
        assert set(params) == {"Destination", "Content"}
        assert params["Destination"] == {"ToAddresses": ["to@example.com"]}
        raw = params["Content"]["Raw"]["Data"]
        assert isinstance(raw, bytes)
        assert b"\nSubject: Subject here\n" in raw
        assert b"\nFrom: from@example.com\n" in raw
        assert b"\nTo: to@example.com\n" in raw
        assert b"\n\nHere is the message" in raw
        assert b"\r\n" not in raw
        assert ses.client.send_bulk_email.call_count == 0

    def test_user_agent(self, ses, message):
        message.send()
        config = ses.session.client.call_args.kwargs["config"]
        assert isinstance(config, Config)
        assert config.user_agent_extra == USER_AGENT_EXTRA

    def test_one_client_per_connection(self, ses):
        messages = [
            ("One", "1", "from@example.com", ["a@example.com"]),
            ("Two", "2", "from@example.com", ["b@example.com"]),
        ]
        assert mail.send_mass_mail(messages) == 2
        assert ses.session_class.call_count == 1
        assert ses.session.client.call_count == 1
        assert ses.client.send_email.call_count == 2
        first, second = ses.client.send_email.call_args_list
        assert first.kwargs["Destination"] == {"ToAddresses": ["a@example.com"]}
        assert second.kwargs["Destination"] == {"ToAddresses": ["b@example.com"]}
        ses.client.close.assert_called_once_with()

    def test_client_closed_after_send(self, ses, message):
        connection = mail.get_connection()
        message.connection = connection
        message.send()
        ses.client.close.assert_called_once_with()
        assert connection.client is None

    def test_client_closed_after_error(self, ses, message):
        ses.client.send_email.side_effect = client_error()
        with pytest.raises(AnymailAPIError):
            message.send()
        ses.client.close.assert_called_once_with()

    def test_caller_opened_connection_kept_open(self, ses, message):
        connection = mail.get_connection()
        assert connection.open() is True
        assert connection.open() is False
        connection.send_messages([message])
        connection.send_messages([message])
        assert ses.session.client.call_count == 1
        assert ses.client.send_email.call_count == 2
        assert ses.client.close.call_count == 0
        connection.close()
        ses.client.close.assert_called_once_with()
        assert connection.client is None
        connection.close()  # (no client: nothing to do)
        assert ses.client.close.call_count == 1

    def test_new_session_for_each_open(self, ses, message):
        message.send()
        message.send()
        assert ses.session_class.call_count == 2
        assert ses.session.client.call_count == 2

    def test_client_creation_error(self, ses, message):
        ses.session.client.side_effect = NoCredentialsError()
        with pytest.raises(NoCredentialsError):
            message.send()

    def test_client_creation_error_fail_silently(self, ses, message):
        ses.session.client.side_effect = NoCredentialsError()
        with pytest.warns(DeprecationWarning):
            sent = message.send(fail_silently=True)
        assert sent == 0
        ses.assert_not_called()
        assert message.anymail_status.status is None

    def test_send_without_open_client(self, ses, message):
        backend = mail.get_connection()
        with pytest.raises(RuntimeError):
            backend._send(message)
        ses.assert_not_called()

    def test_pre_send_esp_name(self, ses, message):
        received = []

        def receiver(sender, message, esp_name, **kwargs):
            received.append((sender, esp_name))

        pre_send.connect(receiver)
        try:
            message.send()
        finally:
            pre_send.disconnect(receiver)
        assert received == [(EmailBackend, "Amazon SES")]


class TestSettings:
    def test_no_required_settings(self, ses, message):
        # (credentials come from boto3's usual chain)
        backend = EmailBackend(alias="default")
        assert backend.session_params == {}
        assert set(backend.client_params) == {"config"}
        message.connection = backend
        assert message.send() == 1

    def test_client_params(self, ses, message):
        client_params = {"region_name": "eu-west-1", "aws_access_key_id": "AKIA-TEST"}
        with anymail_settings(AMAZON_SES_CLIENT_PARAMS=client_params):
            message.send()
        ses.session.client.assert_called_once_with(
            "sesv2",
            region_name="eu-west-1",
            aws_access_key_id="AKIA-TEST",
            config=mock.ANY,
        )
        config = ses.session.client.call_args.kwargs["config"]
        assert config.user_agent_extra == USER_AGENT_EXTRA
        assert client_params == {
            "region_name": "eu-west-1",
            "aws_access_key_id": "AKIA-TEST",
        }  # not changed

    def test_client_config_dict(self, ses, message):
        client_params = {"config": {"connect_timeout": 5, "read_timeout": 30}}
        with anymail_settings(AMAZON_SES_CLIENT_PARAMS=client_params):
            message.send()
        config = ses.session.client.call_args.kwargs["config"]
        assert isinstance(config, Config)
        assert config.connect_timeout == 5
        assert config.read_timeout == 30
        assert config.user_agent_extra == USER_AGENT_EXTRA
        assert client_params == {"config": {"connect_timeout": 5, "read_timeout": 30}}

    def test_client_config_object(self, ses, message):
        user_config = Config(region_name="ap-south-1", retries={"max_attempts": 2})
        with anymail_settings(AMAZON_SES_CLIENT_PARAMS={"config": user_config}):
            message.send()
        config = ses.session.client.call_args.kwargs["config"]
        assert config.region_name == "ap-south-1"
        assert config.retries == {"max_attempts": 2}
        assert config.user_agent_extra == USER_AGENT_EXTRA
        assert user_config.user_agent_extra is None  # not changed

    def test_user_agent_extra_override(self, ses, message):
        client_params = {"config": {"user_agent_extra": "my-app/1.0"}}
        with anymail_settings(AMAZON_SES_CLIENT_PARAMS=client_params):
            message.send()
        config = ses.session.client.call_args.kwargs["config"]
        assert config.user_agent_extra == "my-app/1.0"

    def test_session_params(self, ses, message):
        with anymail_settings(AMAZON_SES_SESSION_PARAMS={"profile_name": "anymail"}):
            message.send()
        ses.session_class.assert_called_once_with(profile_name="anymail")

    def test_flat_settings(self, ses, message):
        with override_settings(
            ANYMAIL_AMAZON_SES_CLIENT_PARAMS={"region_name": "us-west-2"},
            ANYMAIL_AMAZON_SES_SESSION_PARAMS={"profile_name": "flat"},
            ANYMAIL_AMAZON_SES_CONFIGURATION_SET_NAME="FlatSet",
        ):
            message.send()
        ses.session_class.assert_called_once_with(profile_name="flat")
        ses.session.client.assert_called_once_with(
            "sesv2", region_name="us-west-2", config=mock.ANY
        )
        assert ses.params()["ConfigurationSetName"] == "FlatSet"

    def test_no_bare_settings(self, ses, message):
        with override_settings(
            AMAZON_SES_CLIENT_PARAMS={"region_name": "us-west-2"},
            AMAZON_SES_SESSION_PARAMS={"profile_name": "bare"},
            AMAZON_SES_CONFIGURATION_SET_NAME="BareSet",
        ):
            message.send()
        ses.session_class.assert_called_once_with()
        ses.session.client.assert_called_once_with("sesv2", config=mock.ANY)
        assert "ConfigurationSetName" not in ses.params()

    def test_settings_via_kwargs(self, ses, message):
        message.connection = mail.get_connection(
            client_params={"region_name": "ca-central-1"},
            session_params={"profile_name": "kw"},
            configuration_set_name="KwSet",
            message_tag_name="Campaign",
        )
        message.tags = ["welcome"]
        message.send()
        ses.session_class.assert_called_once_with(profile_name="kw")
        ses.session.client.assert_called_once_with(
            "sesv2", region_name="ca-central-1", config=mock.ANY
        )
        params = ses.params()
        assert params["ConfigurationSetName"] == "KwSet"
        assert params["EmailTags"] == [{"Name": "Campaign", "Value": "welcome"}]

    def test_kwargs_consumed(self):
        with mock.patch.object(
            BaseEmailBackend, "__init__", autospec=True, return_value=None
        ) as django_init:
            EmailBackend(
                client_params={},
                session_params={},
                configuration_set_name="Set",
                message_tag_name="Tag",
                alias="ses",
            )
        assert django_init.call_args.kwargs == {"alias": "ses"}

    def test_settings_read_at_construction(self, ses, message):
        with anymail_settings(AMAZON_SES_CONFIGURATION_SET_NAME="Before"):
            backend = mail.get_connection()
        message.connection = backend
        with anymail_settings(AMAZON_SES_CONFIGURATION_SET_NAME="After"):
            message.send()
        assert ses.params()["ConfigurationSetName"] == "Before"

    def test_configuration_set_name(self, ses, message):
        with anymail_settings(AMAZON_SES_CONFIGURATION_SET_NAME="TrackingSet"):
            message.send()
        assert ses.params()["ConfigurationSetName"] == "TrackingSet"

    def test_esp_extra_overrides_configuration_set(self, ses, message):
        message.esp_extra = {"ConfigurationSetName": "OtherSet"}
        with anymail_settings(AMAZON_SES_CONFIGURATION_SET_NAME="TrackingSet"):
            message.send()
        assert ses.params()["ConfigurationSetName"] == "OtherSet"

    def test_credentials_not_in_error_text(self, ses, message):
        client_params = {
            "aws_access_key_id": "AKIA-SECRET-ID",
            "aws_secret_access_key": "super-secret-key",
        }
        ses.client.send_email.side_effect = client_error()
        with (
            anymail_settings(AMAZON_SES_CLIENT_PARAMS=client_params),
            pytest.raises(AnymailAPIError) as excinfo,
        ):
            message.send()
        text = str(excinfo.value)
        assert "Email address is not verified." in text
        assert "AKIA-SECRET-ID" not in text
        assert "super-secret-key" not in text


class TestRawAddresses:
    def test_address_formatting(self, ses):
        message = AnymailMessage(
            from_email='"Example, Inc." <from@example.com>',
            to=["Recipient <to1@example.com>", "to2@example.com"],
            cc=["Carbon Copy <cc@example.com>"],
            bcc=["Blind <bcc@example.com>"],
        )
        message.send()
        assert ses.params()["Destination"] == {
            "ToAddresses": ["to1@example.com", "to2@example.com"],
            "CcAddresses": ["cc@example.com"],
            "BccAddresses": ["bcc@example.com"],
        }
        mime = ses.mime()
        assert mime["From"] == '"Example, Inc." <from@example.com>'
        assert mime["To"] == "Recipient <to1@example.com>, to2@example.com"
        assert mime["Cc"] == "Carbon Copy <cc@example.com>"
        assert mime["Bcc"] is None
        assert b"bcc@example.com" not in ses.raw()

    def test_unicode_names_and_idn_domains(self, ses):
        message = AnymailMessage(
            from_email="Odesílatel <from@příklad.example.cz>",
            to=["Příjemce <to@příklad.example.cz>"],
            bcc=["bcc@příklad.example.cz"],
        )
        message.send()
        assert ses.params()["Destination"] == {
            "ToAddresses": ["to@xn--pklad-zsa96e.example.cz"],
            "BccAddresses": ["bcc@xn--pklad-zsa96e.example.cz"],
        }
        raw = ses.raw()
        assert b"\nFrom: =?utf-8?" in raw  # RFC 2047 display name
        assert b"<from@xn--pklad-zsa96e.example.cz>" in raw
        mime = ses.mime()
        assert mime["From"] == "Odesílatel <from@xn--pklad-zsa96e.example.cz>"
        assert mime["To"] == "Příjemce <to@xn--pklad-zsa96e.example.cz>"

    def test_idna_encoder_setting(self, ses):
        message = AnymailMessage(
            from_email="from@example.com", to=["to@faß.example"], body="Hi"
        )
        with anymail_settings(AMAZON_SES_IDNA_ENCODER="idna2003"):
            message.send()
        assert ses.params()["Destination"] == {"ToAddresses": ["to@fass.example"]}
        assert ses.mime()["To"] == "to@fass.example"

    def test_caller_message_unchanged(self, ses):
        message = AnymailMessage(
            from_email="Odesílatel <from@příklad.example.cz>",
            to=["to@příklad.example.cz"],
            cc=["cc@příklad.example.cz"],
            reply_to=["reply@příklad.example.cz"],
        )
        message.send()
        assert message.from_email == "Odesílatel <from@příklad.example.cz>"
        assert message.to == ["to@příklad.example.cz"]
        assert message.cc == ["cc@příklad.example.cz"]
        assert message.reply_to == ["reply@příklad.example.cz"]

    def test_long_header_round_trip(self, ses, message):
        message.to = ['"Người nhận a very very long, name" <to@example.com>']
        message.cc = ['"Người nhận a very very long, name" <cc@example.com>']
        message.send()
        mime = ses.mime()
        assert mime["To"] == '"Người nhận a very very long, name" <to@example.com>'
        assert mime["Cc"] == '"Người nhận a very very long, name" <cc@example.com>'

    def test_reply_to(self, ses, message):
        message.reply_to = ["Reply <reply@example.com>", "other@example.com"]
        message.send()
        assert "ReplyToAddresses" not in ses.params()
        assert ses.mime()["Reply-To"] == "Reply <reply@example.com>, other@example.com"

    def test_reply_to_header_overrides(self, ses, message):
        message.reply_to = ["attr@example.com"]
        message.extra_headers = {"Reply-To": "header@example.com"}
        message.send()
        assert ses.mime()["Reply-To"] == "header@example.com"
        assert "ReplyToAddresses" not in ses.params()

    def test_from_header(self, ses, message):
        message.from_email = "Envelope <envelope@example.com>"
        message.extra_headers = {"From": "Header From <header@example.com>"}
        message.send()
        params = ses.params()
        assert params["FeedbackForwardingEmailAddress"] == "envelope@example.com"
        assert "FromEmailAddress" not in params
        assert ses.mime()["From"] == "Header From <header@example.com>"

    def test_from_header_with_envelope_sender(self, ses, message):
        message.extra_headers = {"From": "header@example.com"}
        message.envelope_sender = "bounces@example.com"
        message.send()
        assert ses.params()["FeedbackForwardingEmailAddress"] == "bounces@example.com"
        assert ses.mime()["From"] == "header@example.com"

    def test_envelope_sender(self, ses, message):
        message.envelope_sender = "Bounce Handler <bounces@příklad.example.cz>"
        message.send()
        assert ses.params()["FeedbackForwardingEmailAddress"] == (
            "bounces@xn--pklad-zsa96e.example.cz"
        )
        assert ses.mime()["From"] == "from@example.com"

    def test_spoofed_to_header(self, ses, message):
        message.to = ["real@example.com"]
        message.extra_headers = {"To": "Shown <shown@example.com>"}
        message.send()
        assert ses.params()["Destination"] == {"ToAddresses": ["real@example.com"]}
        assert ses.mime()["To"] == "Shown <shown@example.com>"
        assert b"real@example.com" not in ses.raw()

    def test_spoofed_to_header_any_case(self, ses, message):
        message.to = ["real@example.com"]
        message.extra_headers = {"to": "shown@example.com"}
        message.send()
        assert ses.mime().get_all("To") == ["shown@example.com"]
        assert b"real@example.com" not in ses.raw()


class TestRawContent:
    def test_no_optional_params(self, ses, message):
        message.send()
        assert ses.params() == {
            "Destination": {"ToAddresses": ["to@example.com"]},
            "Content": {"Raw": {"Data": mock.ANY}},
        }
        mime = ses.mime()
        assert mime["X-Metadata"] is None
        assert mime["X-Tag"] is None

    def test_unicode_subject(self, ses, message):
        message.subject = "Předmět zprávy"
        message.send()
        assert b"\nSubject: =?utf-8?" in ses.raw()
        assert ses.mime()["Subject"] == "Předmět zprávy"

    def test_seven_bit_clean(self, ses, message):
        message.subject = "Ünïcödé"
        message.body = "Prostý text"
        message.attach_alternative("<p>HTML s háčky</p>", "text/html")
        message.attach("data.csv", "jméno,hodnota\n", "text/csv")
        message.tags = ["štítek"]
        message.send()
        assert ses.raw().isascii()

    def test_single_part_8bit_body_reencoded(self, ses, message):
        message.body = "Prostý text"
        message.send()
        raw = ses.raw()
        assert b"Content-Transfer-Encoding: quoted-printable" in raw
        assert b"\n\nProst=C3=BD=20text" in raw
        assert b"8bit" not in raw
        # (Django >= 6 ends text parts with a newline)
        assert ses.mime().get_content().rstrip("\n") == "Prostý text"

    def test_8bit_parts_reencoded(self, ses, message):
        message.body = "Prostý text"
        message.attach_alternative("<p>Prostý HTML</p>", "text/html")
        message.attach("data.csv", "jméno,hodnota\n", "text/csv")
        data_part = MIMEBase("application", "data")
        data_part.set_payload("binární data".encode())
        encoders.encode_7or8bit(data_part)
        assert data_part["Content-Transfer-Encoding"] == "8bit"
        message.attach(data_part)
        message.send()
        encodings = [
            (part.get_content_type(), part["Content-Transfer-Encoding"])
            for part in ses.mime().walk()
        ]
        assert encodings == [
            ("multipart/mixed", None),
            ("multipart/alternative", None),
            ("text/plain", "quoted-printable"),
            ("text/html", "quoted-printable"),
            ("text/csv", "quoted-printable"),
            ("application/data", "base64"),
        ]
        parts = list(ses.mime().walk())
        assert parts[4].get_content() == "jméno,hodnota\n"
        assert parts[5].get_content() == "binární data".encode()
        # the caller's own MIME part isn't changed
        assert data_part["Content-Transfer-Encoding"] == "8bit"
        assert data_part.get_payload(decode=True) == "binární data".encode()

    def test_html_body(self, ses, message):
        message.body = "<p>HTML only</p>"
        message.content_subtype = "html"
        message.send()
        mime = ses.mime()
        assert mime.get_content_type() == "text/html"
        assert mime.get_content().rstrip("\n") == "<p>HTML only</p>"

    def test_any_alternatives(self, ses, message):
        message.attach_alternative("<p>First</p>", "text/html")
        message.attach_alternative("<p>Second</p>", "text/html")
        message.attach_alternative("Another text", "text/plain")
        message.attach_alternative("<html amp4email></html>", "text/x-amp-html")
        message.attach_alternative("whatever", "text/x-whatever")
        message.send()
        alternative = ses.mime().get_payload()
        assert [
            (part.get_content_type(), part.get_content().rstrip("\n"))
            for part in alternative
        ] == [
            ("text/plain", "Text Body"),
            ("text/html", "<p>First</p>"),
            ("text/html", "<p>Second</p>"),
            ("text/plain", "Another text"),
            ("text/x-amp-html", "<html amp4email></html>"),
            ("text/x-whatever", "whatever"),
        ]

    def test_attachments(self, ses, message):
        message.attach("test.txt", "Attachment text", "text/plain")
        message.attach("test.pdf", b"%PDF-1.4 fake", "application/pdf")
        cid = attach_inline_image(message, PNG, filename="logo.png")
        message.attach_alternative(f"<img src='cid:{cid}'>", "text/html")
        message.send()
        attachments = {
            part.get_filename(): part for part in ses.mime().iter_attachments()
        }
        assert set(attachments) == {"test.txt", "test.pdf", "logo.png"}
        text = attachments["test.txt"].get_content()
        assert text.rstrip("\n") == "Attachment text"  # Django >= 6 adds "\n"
        assert attachments["test.pdf"].get_content_type() == "application/pdf"
        assert attachments["test.pdf"].get_content() == b"%PDF-1.4 fake"
        image = attachments["logo.png"]
        assert image["Content-ID"] == f"<{cid}>"
        assert image.get_content_disposition() == "inline"
        assert image.get_content() == PNG

    def test_attached_email_message(self, ses, message):
        forwarded = mail.EmailMessage(
            "Forwarded", "Original body", to=["x@example.com"]
        )
        message.attach("original.eml", forwarded, "message/rfc822")
        message.send()
        parts = [part.get_content_type() for part in ses.mime().walk()]
        assert parts == [
            "multipart/mixed",
            "text/plain",
            "message/rfc822",
            "text/plain",
        ]
        assert b"Subject: Forwarded" in ses.raw()

    def test_extra_headers(self, ses, message):
        message.extra_headers = {
            "X-Custom": "custom value",
            "List-Unsubscribe": "<mailto:unsub@example.com>",
        }
        message.send()
        mime = ses.mime()
        assert mime["X-Custom"] == "custom value"
        assert mime["List-Unsubscribe"] == "<mailto:unsub@example.com>"

    def test_header_injection(self, ses, message):
        message.subject = "Injected\nBcc: victim@example.com"
        with pytest.raises(BadHeaderError):
            message.send()
        ses.assert_not_called()

    def test_metadata(self, ses, message):
        message.metadata = {"user_id": 12345, "items": 6.5, "näme": "Välue"}
        message.send()
        raw = ses.raw()
        assert (
            b'\nX-Metadata: {"user_id": 12345, "items": 6.5, '
            b'"n\\u00e4me": "V\\u00e4lue"}\n'
        ) in raw
        metadata = json.loads(ses.mime()["X-Metadata"])
        assert metadata == {"user_id": 12345, "items": 6.5, "näme": "Välue"}

    def test_empty_metadata(self, ses, message):
        message.metadata = {}
        message.send()
        assert b"\nX-Metadata: {}\n" in ses.raw()

    def test_serialization_error(self, ses, message):
        message.metadata = {"price": Decimal("19.99")}
        with pytest.raises(AnymailSerializationError) as excinfo:
            message.send()
        assert str(excinfo.value) == (
            "Don't know how to send this data to Amazon SES. "
            "Try converting it to a string or number first.\n"
            "Object of type 'Decimal' is not JSON serializable"
        )
        ses.assert_not_called()
        assert message.anymail_status.esp_response is None

    def test_tags(self, ses, message):
        message.tags = ["receipt", "repeat user", "štítek"]
        message.send()
        raw = ses.raw()
        assert b"\nX-Tag: receipt\n" in raw
        assert b"\nX-Tag: repeat user\n" in raw
        assert b"\nX-Tag: =?utf-8?" in raw
        assert ses.mime().get_all("X-Tag") == ["receipt", "repeat user", "štítek"]
        assert "EmailTags" not in ses.params()

    def test_metadata_header_before_tags(self, ses, message):
        message.tags = ["one"]
        message.metadata = {"a": 1}
        message.send()
        raw = ses.raw()
        assert raw.index(b"\nX-Metadata: ") < raw.index(b"\nX-Tag: one")

    def test_message_tag_name(self, ses, message):
        message.tags = ["Welcome"]
        with anymail_settings(AMAZON_SES_MESSAGE_TAG_NAME="Campaign"):
            message.send()
        params = ses.params()
        assert params["EmailTags"] == [{"Name": "Campaign", "Value": "Welcome"}]
        assert ses.mime().get_all("X-Tag") == ["Welcome"]

    def test_message_tag_name_without_tags(self, ses, message):
        message.tags = []
        with anymail_settings(AMAZON_SES_MESSAGE_TAG_NAME="Campaign"):
            message.send()
        assert "EmailTags" not in ses.params()

    def test_esp_extra(self, ses, message):
        message.tags = ["Welcome"]
        message.esp_extra = {
            "EmailTags": [{"Name": "Other", "Value": "tag"}],
            "FromEmailAddressIdentityArn": IDENTITY_ARN,
            "ListManagementOptions": {"ContactListName": "News", "TopicName": "Weekly"},
        }
        with anymail_settings(AMAZON_SES_MESSAGE_TAG_NAME="Campaign"):
            message.send()
        params = ses.params()
        assert params["EmailTags"] == [{"Name": "Other", "Value": "tag"}]
        assert params["FromEmailAddressIdentityArn"] == IDENTITY_ARN
        assert params["ListManagementOptions"] == {
            "ContactListName": "News",
            "TopicName": "Weekly",
        }

    def test_esp_extra_replaces_built_params(self, ses, message):
        message.esp_extra = {"Destination": {"ToAddresses": ["override@example.com"]}}
        message.send()
        assert ses.params()["Destination"] == {"ToAddresses": ["override@example.com"]}

    def test_spec_example(self, ses):
        message = AnymailMessage(
            "Hello", "Body", "from@example.com", ["to@example.com"],
            bcc=["b@example.com"], envelope_sender="bounces@example.com",
            metadata={"a": 1}, tags=["Welcome"],
        )  # fmt: skip
        with anymail_settings(
            AMAZON_SES_CONFIGURATION_SET_NAME="TrackingSet",
            AMAZON_SES_MESSAGE_TAG_NAME="Campaign",
        ):
            message.send()
        assert ses.params() == {
            "Destination": {
                "ToAddresses": ["to@example.com"],
                "BccAddresses": ["b@example.com"],
            },
            "FeedbackForwardingEmailAddress": "bounces@example.com",
            "ConfigurationSetName": "TrackingSet",
            "EmailTags": [{"Name": "Campaign", "Value": "Welcome"}],
            "Content": {"Raw": {"Data": mock.ANY}},
        }
        raw = ses.raw()
        assert b'\nX-Metadata: {"a": 1}\nX-Tag: Welcome\n' in raw

    def test_send_defaults_for_anymail_attrs(self, ses, message):
        defaults = {
            "metadata": {"default": "yes"},
            "tags": ["default-tag"],
            "esp_extra": {"ConfigurationSetName": "DefaultSet"},
            "envelope_sender": "bounces@example.com",
        }
        with anymail_settings(AMAZON_SES_SEND_DEFAULTS=defaults):
            message.send()
        params = ses.params()
        assert params["ConfigurationSetName"] == "DefaultSet"
        assert params["FeedbackForwardingEmailAddress"] == "bounces@example.com"
        mime = ses.mime()
        assert json.loads(mime["X-Metadata"]) == {"default": "yes"}
        assert mime.get_all("X-Tag") == ["default-tag"]


class TestTemplateSend:
    def test_spec_example(self, ses):
        message = AnymailMessage(
            from_email="shop@example.com",
            to=["alice@example.com"],
            cc=["cc@example.com"],
            template_id="Welcome",
            merge_global_data={"site": "Ex"},
            merge_data={"alice@example.com": {"name": "Alice"}},
            headers={"List-Unsubscribe": "<https://example.com/a>"},
            metadata={"id": 1},
            tags=["Welcome"],
        )
        message.send()
        assert ses.bulk_params() == {
            "FromEmailAddress": "shop@example.com",
            "DefaultContent": {
                "Template": {
                    "TemplateName": "Welcome",
                    "TemplateData": '{"site": "Ex"}',
                }
            },
            "BulkEmailEntries": [
                {
                    "Destination": {
                        "ToAddresses": ["alice@example.com"],
                        "CcAddresses": ["cc@example.com"],
                    },
                    "ReplacementEmailContent": {
                        "ReplacementTemplate": {
                            "ReplacementTemplateData": '{"name": "Alice"}'
                        }
                    },
                    "ReplacementHeaders": [
                        {
                            "Name": "List-Unsubscribe",
                            "Value": "<https://example.com/a>",
                        },
                        {"Name": "X-Metadata", "Value": '{"id": 1}'},
                        {"Name": "X-Tag", "Value": "Welcome"},
                    ],
                }
            ],
        }
        assert ses.client.send_email.call_count == 0

    def test_template_without_merge_data(self, ses, template_message):
        template_message.send()
        assert ses.bulk_params() == {
            "FromEmailAddress": "from@example.com",
            "DefaultContent": {"Template": {"TemplateName": "Welcome"}},
            "BulkEmailEntries": [
                {
                    "Destination": {"ToAddresses": ["to@example.com"]},
                    "ReplacementEmailContent": {
                        "ReplacementTemplate": {"ReplacementTemplateData": "{}"}
                    },
                }
            ],
        }

    def test_address_formatting(self, ses):
        message = AnymailMessage(
            from_email='"Example, Inc." <from@example.com>',
            to=["罗伯特 <bob@example.com>", "Amy <amy@příklad.example.cz>"],
            cc=["Čeněk <cc@example.com>", "cc2@example.com"],
            bcc=["Blind <bcc@příklad.example.cz>"],
            reply_to=["Odpověď <reply@example.com>", "r2@example.com"],
            template_id="Welcome",
        )
        ses.client.send_bulk_email.return_value = bulk_response("SUCCESS", "SUCCESS")
        message.send()
        params = ses.bulk_params()
        assert params["FromEmailAddress"] == '"Example, Inc." <from@example.com>'
        assert params["ReplyToAddresses"] == [
            "=?utf-8?b?T2Rwb3bEm8SP?= <reply@example.com>",
            "r2@example.com",
        ]
        shared = {
            "CcAddresses": [
                "=?utf-8?b?xIxlbsSbaw==?= <cc@example.com>",
                "cc2@example.com",
            ],
            "BccAddresses": ["bcc@xn--pklad-zsa96e.example.cz"],
        }
        assert [entry["Destination"] for entry in params["BulkEmailEntries"]] == [
            {"ToAddresses": ["=?utf-8?b?572X5Lyv54m5?= <bob@example.com>"], **shared},
            {"ToAddresses": ["Amy <amy@xn--pklad-zsa96e.example.cz>"], **shared},
        ]

    def test_unicode_from_name(self, ses, template_message):
        template_message.from_email = "Odesílatel <from@example.com>"
        template_message.send()
        assert ses.bulk_params()["FromEmailAddress"] == (
            "=?utf-8?q?Odes=C3=ADlatel?= <from@example.com>"
        )

    def test_merge_data(self, ses):
        message = AnymailMessage(
            from_email="from@example.com",
            to=["alice@example.com", "Bob <bob@example.com>", "carol@example.com"],
            template_id="Welcome",
            merge_data={
                "alice@example.com": {"name": "Alice", "group": "Developers"},
                "bob@example.com": {"name": "Bob"},
                "nobody@example.com": {"name": "Not a recipient"},
            },
            merge_global_data={"group": "Users", "site": "ExampleCo"},
        )
        ses.client.send_bulk_email.return_value = bulk_response(
            "SUCCESS", "SUCCESS", "SUCCESS"
        )
        message.send()
        params = ses.bulk_params()
        assert params["DefaultContent"]["Template"] == {
            "TemplateName": "Welcome",
            "TemplateData": '{"group": "Users", "site": "ExampleCo"}',
        }
        assert [
            entry["ReplacementEmailContent"]["ReplacementTemplate"][
                "ReplacementTemplateData"
            ]
            for entry in params["BulkEmailEntries"]
        ] == ['{"name": "Alice", "group": "Developers"}', '{"name": "Bob"}', "{}"]
        assert "Not a recipient" not in json.dumps(params)

    def test_headers_and_merge_headers(self, ses):
        message = AnymailMessage(
            from_email="from@example.com",
            to=["alice@example.com", "bob@example.com", "carol@example.com"],
            template_id="Welcome",
            headers={
                "List-Unsubscribe": "<https://example.com/u/default>",
                "X-Äpp": "ä",
            },
            merge_headers={
                "alice@example.com": {
                    "list-unsubscribe": "<https://example.com/u/alice>",
                    "X-Extra": "alice",
                },
                "bob@example.com": {},
            },
        )
        ses.client.send_bulk_email.return_value = bulk_response(
            "SUCCESS", "SUCCESS", "SUCCESS"
        )
        message.send()
        entries = ses.bulk_params()["BulkEmailEntries"]
        assert entries[0]["ReplacementHeaders"] == [
            {"Name": "List-Unsubscribe", "Value": "<https://example.com/u/alice>"},
            {"Name": "X-Äpp", "Value": "ä"},
            {"Name": "X-Extra", "Value": "alice"},
        ]
        default_headers = [
            {"Name": "List-Unsubscribe", "Value": "<https://example.com/u/default>"},
            {"Name": "X-Äpp", "Value": "ä"},
        ]
        assert entries[1]["ReplacementHeaders"] == default_headers
        assert entries[2]["ReplacementHeaders"] == default_headers

    def test_replacement_headers_omitted_when_empty(self, ses, template_message):
        template_message.merge_headers = {"to@example.com": {}}
        template_message.send()
        entry = ses.bulk_params()["BulkEmailEntries"][0]
        assert "ReplacementHeaders" not in entry

    def test_merge_headers_none(self, ses, template_message):
        template_message.merge_headers = None
        template_message.send()
        assert "ReplacementHeaders" not in ses.bulk_params()["BulkEmailEntries"][0]

    def test_metadata_and_merge_metadata(self, ses):
        message = AnymailMessage(
            from_email="from@example.com",
            to=["alice@example.com", "bob@example.com"],
            template_id="Welcome",
            metadata={"meta1": "test", "meta2": "default"},
            merge_metadata={"alice@example.com": {"meta2": "meta-alice"}},
            tags=["one", "two"],
        )
        ses.client.send_bulk_email.return_value = bulk_response("SUCCESS", "SUCCESS")
        message.send()
        entries = ses.bulk_params()["BulkEmailEntries"]
        assert entries[0]["ReplacementHeaders"] == [
            {"Name": "X-Metadata", "Value": '{"meta1": "test", "meta2": "meta-alice"}'},
            {"Name": "X-Tag", "Value": "one"},
            {"Name": "X-Tag", "Value": "two"},
        ]
        assert entries[1]["ReplacementHeaders"] == [
            {"Name": "X-Metadata", "Value": '{"meta1": "test", "meta2": "default"}'},
            {"Name": "X-Tag", "Value": "one"},
            {"Name": "X-Tag", "Value": "two"},
        ]

    def test_merge_metadata_only_for_some(self, ses):
        message = AnymailMessage(
            from_email="from@example.com",
            to=["alice@example.com", "bob@example.com"],
            template_id="Welcome",
            merge_metadata={"alice@example.com": {"uid": 7}},
        )
        ses.client.send_bulk_email.return_value = bulk_response("SUCCESS", "SUCCESS")
        message.send()
        entries = ses.bulk_params()["BulkEmailEntries"]
        assert entries[0]["ReplacementHeaders"] == [
            {"Name": "X-Metadata", "Value": '{"uid": 7}'}
        ]
        assert "ReplacementHeaders" not in entries[1]

    def test_message_tag_name(self, ses, template_message):
        template_message.tags = ["Welcome"]
        with anymail_settings(AMAZON_SES_MESSAGE_TAG_NAME="Campaign"):
            template_message.send()
        params = ses.bulk_params()
        assert params["DefaultEmailTags"] == [{"Name": "Campaign", "Value": "Welcome"}]
        assert "EmailTags" not in params

    def test_envelope_sender(self, ses, template_message):
        template_message.envelope_sender = "bounces@příklad.example.cz"
        template_message.send()
        assert ses.bulk_params()["FeedbackForwardingEmailAddress"] == (
            "bounces@xn--pklad-zsa96e.example.cz"
        )

    def test_from_header(self, ses, template_message):
        template_message.from_email = "envelope@example.com"
        template_message.extra_headers = {
            "From": "Header <header@example.com>",
            "Reply-To": "reply@example.com",
        }
        template_message.send()
        params = ses.bulk_params()
        assert params["FromEmailAddress"] == "Header <header@example.com>"
        assert params["FeedbackForwardingEmailAddress"] == "envelope@example.com"
        assert params["ReplyToAddresses"] == ["reply@example.com"]
        assert "ReplacementHeaders" not in params["BulkEmailEntries"][0]

    def test_configuration_set_and_esp_extra(self, ses, template_message):
        template_message.esp_extra = {
            "FromEmailAddressIdentityArn": "arn:aws:ses:us-east-1:1:identity/x",
            "DefaultEmailTags": [{"Name": "From", "Value": "extra"}],
        }
        with anymail_settings(AMAZON_SES_CONFIGURATION_SET_NAME="TrackingSet"):
            template_message.send()
        params = ses.bulk_params()
        assert params["ConfigurationSetName"] == "TrackingSet"
        assert params["FromEmailAddressIdentityArn"] == (
            "arn:aws:ses:us-east-1:1:identity/x"
        )
        assert params["DefaultEmailTags"] == [{"Name": "From", "Value": "extra"}]

    def test_template_id_from_send_defaults(self, ses, message):
        message.body = ""
        message.subject = ""
        with anymail_settings(AMAZON_SES_SEND_DEFAULTS={"template_id": "Default"}):
            message.send()
        params = ses.bulk_params()
        assert params["DefaultContent"] == {"Template": {"TemplateName": "Default"}}
        assert ses.client.send_email.call_count == 0

    def test_template_id_none_cancels_default(self, ses, message):
        message.template_id = None
        with anymail_settings(AMAZON_SES_SEND_DEFAULTS={"template_id": "Default"}):
            message.send()
        assert ses.client.send_bulk_email.call_count == 0
        assert ses.params()["Destination"] == {"ToAddresses": ["to@example.com"]}

    def test_standard_send_defaults_applied(self, ses, template_message):
        defaults = {"bcc": ["audit@example.com"], "reply_to": ["help@example.com"]}
        with anymail_settings(AMAZON_SES_SEND_DEFAULTS=defaults):
            template_message.send()
        params = ses.bulk_params()
        assert params["ReplyToAddresses"] == ["help@example.com"]
        assert params["BulkEmailEntries"][0]["Destination"] == {
            "ToAddresses": ["to@example.com"],
            "BccAddresses": ["audit@example.com"],
        }

    def test_empty_subject_and_body_allowed(self, ses, template_message):
        template_message.subject = ""
        template_message.body = ""
        template_message.send()
        assert ses.client.send_bulk_email.call_count == 1

    def test_serialization_error(self, ses, template_message):
        template_message.merge_data = {"to@example.com": {"total": Decimal("1.5")}}
        with pytest.raises(AnymailSerializationError):
            template_message.send()
        ses.assert_not_called()


class TestUnsupportedFeatures:
    @staticmethod
    def assert_unsupported(ses, message, feature):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == f"Amazon SES does not support {feature}"
        ses.assert_not_called()

    def test_multiple_from(self, ses, message):
        message.from_email = "one@example.com, two@example.com"
        self.assert_unsupported(ses, message, "multiple from emails")

    def test_multiple_from_header(self, ses, message):
        message.extra_headers = {"From": "one@example.com, two@example.com"}
        self.assert_unsupported(ses, message, "multiple from emails")

    def test_send_at(self, ses, message):
        message.send_at = datetime(2030, 1, 1, tzinfo=timezone.utc)
        self.assert_unsupported(ses, message, "send_at")

    @pytest.mark.parametrize("value", [True, False])
    def test_track_clicks(self, ses, message, value):
        message.track_clicks = value
        self.assert_unsupported(ses, message, "track_clicks")

    @pytest.mark.parametrize("value", [True, False])
    def test_track_opens(self, ses, message, value):
        message.track_opens = value
        self.assert_unsupported(ses, message, "track_opens")

    def test_merge_data_without_template(self, ses, message):
        message.merge_data = {}
        self.assert_unsupported(ses, message, "merge_data without template_id")

    def test_merge_global_data_without_template(self, ses, message):
        message.merge_global_data = {"a": 1}
        self.assert_unsupported(ses, message, "global_merge_data without template_id")

    def test_merge_headers_without_template(self, ses, message):
        message.merge_headers = {"to@example.com": {"X-A": "1"}}
        self.assert_unsupported(ses, message, "merge_headers without template_id")

    def test_merge_metadata_without_template(self, ses, message):
        message.merge_metadata = {"to@example.com": {"a": 1}}
        self.assert_unsupported(ses, message, "merge_metadata")

    def test_multiple_tags_with_tag_name(self, ses, message):
        message.tags = ["one", "two"]
        with anymail_settings(AMAZON_SES_MESSAGE_TAG_NAME="Campaign"):
            self.assert_unsupported(
                ses, message,
                "multiple tags with the AMAZON_SES_MESSAGE_TAG_NAME setting",
            )  # fmt: skip

    def test_unusual_content_subtype(self, ses, message):
        message.content_subtype = "calendar"
        self.assert_unsupported(
            ses, message, "alternative part with type 'text/calendar'"
        )

    @pytest.mark.parametrize("attr", list(STANDARD_ATTR_DEFAULTS))
    def test_send_defaults_for_standard_attrs(self, ses, message, attr):
        defaults = {attr: STANDARD_ATTR_DEFAULTS[attr]}
        with anymail_settings(SEND_DEFAULTS=defaults):
            self.assert_unsupported(
                ses, message, f"Anymail send defaults for '{attr}' with Amazon SES"
            )

    def test_send_default_present_but_overridden(self, ses, message):
        with anymail_settings(AMAZON_SES_SEND_DEFAULTS={"bcc": ["audit@example.com"]}):
            self.assert_unsupported(
                ses, message, "Anymail send defaults for 'bcc' with Amazon SES"
            )


class TestTemplateUnsupportedFeatures:
    assert_unsupported = staticmethod(TestUnsupportedFeatures.assert_unsupported)

    def test_subject(self, ses, template_message):
        template_message.subject = "Override"
        self.assert_unsupported(ses, template_message, "overriding template subject")

    def test_body(self, ses, template_message):
        template_message.body = "Override"
        self.assert_unsupported(
            ses, template_message, "overriding template body content"
        )

    def test_html_body(self, ses, template_message):
        template_message.body = "<p>Override</p>"
        template_message.content_subtype = "html"
        self.assert_unsupported(
            ses, template_message, "overriding template body content"
        )

    @pytest.mark.parametrize("mimetype", ["text/plain", "text/html"])
    def test_body_alternative(self, ses, template_message, mimetype):
        template_message.attach_alternative("Override", mimetype)
        self.assert_unsupported(
            ses, template_message, "overriding template body content"
        )

    def test_amp_alternative(self, ses, template_message):
        template_message.attach_alternative(
            "<html amp4email></html>", "text/x-amp-html"
        )
        self.assert_unsupported(
            ses, template_message, "alternative part with type 'text/x-amp-html'"
        )

    def test_multiple_html_parts(self, ses):
        message = AnymailMessage(
            from_email="from@example.com", to=["to@example.com"], template_id="T"
        )
        message.attach_alternative("", "text/html")
        message.attach_alternative("<p>Second</p>", "text/html")
        self.assert_unsupported(ses, message, "multiple html parts")

    def test_attachments(self, ses, template_message):
        template_message.attach("test.txt", "text", "text/plain")
        self.assert_unsupported(ses, template_message, "attachments with template")

    def test_inline_image(self, ses, template_message):
        attach_inline_image(template_message, PNG)
        self.assert_unsupported(ses, template_message, "attachments with template")

    def test_spoofed_to(self, ses, template_message):
        template_message.extra_headers = {"To": "shown@example.com"}
        self.assert_unsupported(ses, template_message, "spoofing `To` header")

    def test_send_at(self, ses, template_message):
        template_message.send_at = datetime(2030, 1, 1, tzinfo=timezone.utc)
        self.assert_unsupported(ses, template_message, "send_at")

    def test_track_clicks(self, ses, template_message):
        template_message.track_clicks = True
        self.assert_unsupported(ses, template_message, "track_clicks")

    def test_track_opens(self, ses, template_message):
        template_message.track_opens = False
        self.assert_unsupported(ses, template_message, "track_opens")

    def test_multiple_tags_with_tag_name(self, ses, template_message):
        template_message.tags = ["one", "two"]
        with anymail_settings(AMAZON_SES_MESSAGE_TAG_NAME="Campaign"):
            self.assert_unsupported(
                ses, template_message,
                "multiple tags with the AMAZON_SES_MESSAGE_TAG_NAME setting",
            )  # fmt: skip

    def test_multiple_from(self, ses, template_message):
        template_message.from_email = "one@example.com, two@example.com"
        self.assert_unsupported(ses, template_message, "multiple from emails")


@pytest.fixture
def ignore_unsupported():
    with anymail_settings(IGNORE_UNSUPPORTED_FEATURES=True):
        yield


@pytest.mark.usefixtures("ignore_unsupported")
class TestIgnoreUnsupportedFeatures:
    def test_multiple_from_uses_first(self, ses, message):
        message.from_email = "one@example.com, two@example.com"
        message.send()
        assert ses.mime()["From"] == "one@example.com"

    def test_multiple_tags_uses_first_for_email_tags(self, ses, message):
        message.tags = ["one", "two"]
        with anymail_settings(
            IGNORE_UNSUPPORTED_FEATURES=True, AMAZON_SES_MESSAGE_TAG_NAME="Campaign"
        ):
            message.send()
        assert ses.params()["EmailTags"] == [{"Name": "Campaign", "Value": "one"}]
        assert ses.mime().get_all("X-Tag") == ["one", "two"]

    def test_raw_dropped_features(self, ses, message):
        message.send_at = datetime(2030, 1, 1, tzinfo=timezone.utc)
        message.track_clicks = True
        message.track_opens = True
        message.merge_data = {"to@example.com": {"a": 1}}
        message.merge_global_data = {"b": 2}
        message.merge_headers = {"to@example.com": {"X-C": "3"}}
        message.merge_metadata = {"to@example.com": {"d": 4}}
        message.send()
        assert ses.params() == {
            "Destination": {"ToAddresses": ["to@example.com"]},
            "Content": {"Raw": {"Data": mock.ANY}},
        }
        raw = ses.raw()
        assert b"2030" not in raw
        assert b"X-C" not in raw
        assert b"X-Metadata" not in raw

    def test_send_defaults_for_standard_attrs_dropped(self, ses, message):
        with anymail_settings(
            IGNORE_UNSUPPORTED_FEATURES=True,
            AMAZON_SES_SEND_DEFAULTS={"bcc": ["audit@example.com"], "tags": ["t"]},
        ):
            message.send()
        assert ses.params()["Destination"] == {"ToAddresses": ["to@example.com"]}
        assert ses.mime().get_all("X-Tag") == ["t"]

    def test_template_dropped_features(self, ses, template_message):
        template_message.subject = "Override"
        template_message.body = "Override"
        template_message.attach_alternative("<p>Override</p>", "text/html")
        template_message.attach_alternative(
            "<html amp4email></html>", "text/x-amp-html"
        )
        template_message.attach("test.txt", "text", "text/plain")
        template_message.extra_headers = {"To": "shown@example.com", "X-Kept": "yes"}
        template_message.send()
        params = ses.bulk_params()
        assert "Override" not in json.dumps(params)
        assert "shown@example.com" not in json.dumps(params)
        assert params["BulkEmailEntries"][0]["ReplacementHeaders"] == [
            {"Name": "X-Kept", "Value": "yes"}
        ]


class TestResponses:
    def test_send_email_status(self, ses):
        message = AnymailMessage(
            "Subject", "Body", "from@example.com",
            ["to1@example.com", "Someone <to2@example.com>"],
            cc=["cc@example.com"], bcc=["bcc@example.com"],
        )  # fmt: skip
        assert message.send() == 1
        status = message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == MESSAGE_ID
        assert set(status.recipients) == {
            "to1@example.com",
            "to2@example.com",
            "cc@example.com",
            "bcc@example.com",
        }
        for recipient in status.recipients.values():
            assert recipient.status == "queued"
            assert recipient.message_id == MESSAGE_ID
        assert status.esp_response == SEND_EMAIL_RESPONSE

    @pytest.mark.parametrize(
        "response, error",
        [
            ({"ResponseMetadata": RESPONSE_METADATA}, "'MessageId'"),
            (["not", "a", "dict"], "list indices must be integers or slices, not str"),
            (None, "'NoneType' object is not subscriptable"),
        ],
    )
    def test_send_email_unparsable_response(self, ses, message, response, error):
        ses.client.send_email.return_value = response
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        assert str(excinfo.value) == (
            f"{error} parsing Amazon SES send result {response!r}"
        )
        status = message.anymail_status
        assert status.esp_response == response
        assert status.status is None
        assert status.recipients == {}

    def test_bulk_status(self, ses):
        message = AnymailMessage(
            from_email="from@example.com",
            to=["alice@example.com", "Bob <bob@example.com>"],
            cc=["cc@example.com"],
            template_id="Welcome",
        )
        response = bulk_response(
            {"Status": "SUCCESS", "MessageId": "id-1"},
            {"Status": "ACCOUNT_DAILY_QUOTA_EXCEEDED", "Error": "Daily quota exceeded"},
        )
        ses.client.send_bulk_email.return_value = response
        assert message.send() == 1
        status = message.anymail_status
        assert status.status == {"queued", "failed"}
        assert status.message_id == {"id-1", None}
        assert set(status.recipients) == {"alice@example.com", "bob@example.com"}
        assert status.recipients["alice@example.com"].status == "queued"
        assert status.recipients["alice@example.com"].message_id == "id-1"
        assert status.recipients["bob@example.com"].status == "failed"
        assert status.recipients["bob@example.com"].message_id is None
        assert status.esp_response == response

    def test_bulk_single_success(self, ses, template_message):
        ses.client.send_bulk_email.return_value = bulk_response("SUCCESS")
        template_message.send()
        assert template_message.anymail_status.message_id == "bulk-id-0"
        assert template_message.anymail_status.status == {"queued"}

    def test_bulk_mixed_failures_not_an_error(self, ses):
        message = AnymailMessage(
            from_email="from@example.com",
            to=["a@example.com", "b@example.com"],
            template_id="Welcome",
        )
        ses.client.send_bulk_email.return_value = bulk_response(
            {"Status": "MESSAGE_REJECTED", "Error": "Rejected"},
            {"Status": "FAILED", "Error": "Failed"},
        )
        assert message.send() == 1  # ("failed" isn't refused)
        assert message.anymail_status.status == {"failed"}

    def test_bulk_all_same_failure(self, ses):
        message = AnymailMessage(
            from_email="from@example.com",
            to=["a@example.com", "b@example.com"],
            template_id="Welcome",
        )
        response = bulk_response(
            {
                "Status": "TEMPLATE_NOT_FOUND",
                "Error": "Template Welcome does not exist",
            },
            {"Status": "TEMPLATE_NOT_FOUND", "Error": "(second error)"},
        )
        ses.client.send_bulk_email.return_value = response
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        assert str(excinfo.value) == "Template Welcome does not exist"
        assert excinfo.value.response == response
        assert message.anymail_status.esp_response == response
        assert message.anymail_status.status is None

    def test_bulk_all_same_failure_without_error_text(self, ses, template_message):
        ses.client.send_bulk_email.return_value = bulk_response(
            {"Status": "ACCOUNT_SUSPENDED"}
        )
        with pytest.raises(AnymailAPIError) as excinfo:
            template_message.send()
        assert str(excinfo.value) == "ACCOUNT_SUSPENDED"

    def test_bulk_count_mismatch(self, ses):
        message = AnymailMessage(
            from_email="from@example.com",
            to=["a@example.com", "b@example.com"],
            template_id="Welcome",
        )
        response = bulk_response("SUCCESS")
        ses.client.send_bulk_email.return_value = response
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        assert str(excinfo.value) == (
            "Sent to 2 destinations, but only 1 statuses in Amazon SES send result "
            f"{response!r}"
        )

    @pytest.mark.parametrize(
        "response, error",
        [
            ({"ResponseMetadata": RESPONSE_METADATA}, "'BulkEmailEntryResults'"),
            ({"BulkEmailEntryResults": [{"MessageId": "x"}]}, "'Status'"),
            ({"BulkEmailEntryResults": 7}, "'int' object is not iterable"),
            ({"BulkEmailEntryResults": ["SUCCESS"]}, "string indices must be"),
        ],
    )
    def test_bulk_unparsable_response(self, ses, template_message, response, error):
        ses.client.send_bulk_email.return_value = response
        with pytest.raises(AnymailAPIError) as excinfo:
            template_message.send()
        text = str(excinfo.value)
        assert text.startswith(error)
        assert text.endswith(f" parsing Amazon SES send result {response!r}")
        assert template_message.anymail_status.esp_response == response

    def test_client_error(self, ses, message):
        error = client_error()
        ses.client.send_email.side_effect = error
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        err = excinfo.value
        assert str(err) == (
            "An error occurred (MessageRejected) when calling the SendEmail "
            "operation: Email address is not verified.\n"
            "botocore.exceptions.ClientError: An error occurred (MessageRejected) "
            "when calling the SendEmail operation: Email address is not verified."
        )
        assert err.__cause__ is error
        assert err.response == error.response
        assert err.response["Error"]["Code"] == "MessageRejected"
        assert err.status_code is None
        assert err.esp_name == "Amazon SES"
        assert err.email_message is message
        status = message.anymail_status
        assert status.esp_response is None
        assert status.status is None
        assert status.message_id is None
        assert status.recipients == {}

    def test_bulk_client_error(self, ses, template_message):
        ses.client.send_bulk_email.side_effect = client_error(
            "NotFoundException", "Template does not exist", "SendBulkEmail"
        )
        with pytest.raises(AnymailAPIError) as excinfo:
            template_message.send()
        assert str(excinfo.value).startswith(
            "An error occurred (NotFoundException) when calling the SendBulkEmail "
            "operation: Template does not exist\n"
        )
        assert excinfo.value.response["Error"]["Code"] == "NotFoundException"

    @pytest.mark.parametrize(
        "error",
        [
            ParamValidationError(report="Invalid type for parameter Destination"),
            NoCredentialsError(),
            EndpointConnectionError(endpoint_url="https://email.example.invalid/"),
        ],
    )
    def test_botocore_errors(self, ses, message, error):
        ses.client.send_email.side_effect = error
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        err = excinfo.value
        assert str(err).split("\n")[0] == str(error).split("\n")[0]
        assert err.__cause__ is error
        assert err.response is None
        assert err.status_code is None

    def test_fail_silently(self, ses, message):
        ses.client.send_email.side_effect = client_error()
        with pytest.warns(DeprecationWarning):
            sent = message.send(fail_silently=True)
        assert sent == 0
        assert message.anymail_status.status is None
        ses.client.close.assert_called_once_with()

    def test_other_exceptions_not_wrapped(self, ses, message):
        ses.client.send_email.side_effect = KeyError("unexpected")
        with pytest.raises(KeyError):
            message.send()


class StubbedSes:
    """Real boto3 sesv2 clients, with canned responses from botocore's Stubber.

    The Stubber checks each call's params against the SES v2 service model.
    """

    def __init__(self):
        self.responses = []  # (method, response) for each client created
        self.stubbers = []
        self.expect_all_used = True
        self.real_session_class = boto3.session.Session

    def make_session(self, **session_params):
        session = self.real_session_class(
            region_name="us-east-1",
            aws_access_key_id="AKIA-TEST",
            aws_secret_access_key="test-secret",
        )
        create_client = session.client

        def client(service_name, **client_params):
            real_client = create_client(service_name, **client_params)
            stubber = Stubber(real_client)
            for method, response in self.responses:
                stubber.add_response(method, response)
            stubber.activate()
            self.stubbers.append(stubber)
            return real_client

        session.client = client
        return session


@pytest.fixture
def stubbed_ses():
    stubbed = StubbedSes()
    with mock.patch(SESSION_PATH, side_effect=stubbed.make_session):
        yield stubbed
    assert stubbed.stubbers
    if stubbed.expect_all_used:
        for stubber in stubbed.stubbers:
            stubber.assert_no_pending_responses()


class TestRealBotoClient:
    def test_send_email(self, stubbed_ses):
        stubbed_ses.responses = [("send_email", {"MessageId": MESSAGE_ID})]
        message = AnymailMessage(
            "Subject", "Body", "From <from@example.com>", ["to@example.com"],
            cc=["cc@example.com"], bcc=["bcc@example.com"],
            reply_to=["reply@example.com"], envelope_sender="bounce@example.com",
            metadata={"a": 1}, tags=["Welcome"],
            esp_extra={"ListManagementOptions": {"ContactListName": "News"}},
        )  # fmt: skip
        message.attach("test.txt", "text", "text/plain")
        with anymail_settings(
            AMAZON_SES_CONFIGURATION_SET_NAME="TrackingSet",
            AMAZON_SES_MESSAGE_TAG_NAME="Campaign",
        ):
            assert message.send() == 1
        assert message.anymail_status.message_id == MESSAGE_ID
        client = stubbed_ses.stubbers[0].client
        assert client.meta.config.user_agent_extra == USER_AGENT_EXTRA

    def test_send_bulk_email(self, stubbed_ses):
        results = [
            {"Status": "SUCCESS", "MessageId": "id-a"},
            {"Status": "SUCCESS", "MessageId": "id-b"},
        ]
        stubbed_ses.responses = [
            ("send_bulk_email", {"BulkEmailEntryResults": results})
        ]
        message = AnymailMessage(
            from_email="From <from@example.com>",
            to=["a@example.com", "b@example.com"],
            cc=["cc@example.com"],
            bcc=["bcc@example.com"],
            reply_to=["reply@example.com"],
            envelope_sender="bounce@example.com",
            template_id="Welcome",
            merge_data={"a@example.com": {"name": "A"}},
            merge_global_data={"site": "Example"},
            headers={"List-Unsubscribe": "<https://example.com/u>"},
            merge_headers={"b@example.com": {"X-Extra": "b"}},
            metadata={"a": 1},
            merge_metadata={"a@example.com": {"b": 2}},
            tags=["Welcome"],
        )
        with anymail_settings(
            AMAZON_SES_CONFIGURATION_SET_NAME="TrackingSet",
            AMAZON_SES_MESSAGE_TAG_NAME="Campaign",
        ):
            assert message.send() == 1
        assert message.anymail_status.message_id == {"id-a", "id-b"}

    def test_invalid_params_rejected_by_model(self, stubbed_ses, message):
        stubbed_ses.responses = [("send_email", {"MessageId": MESSAGE_ID})]
        message.esp_extra = {"NotAnSesParam": True}
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        assert "Unknown parameter in input" in str(excinfo.value)
        assert isinstance(excinfo.value.__cause__, ParamValidationError)
        assert excinfo.value.response is None
        stubbed_ses.expect_all_used = False  # (rejected before the "call")

"""Amazon SES inbound webhook: SES receipt notifications, posted by Amazon SNS."""

import base64
import importlib.util
import io
import json
import logging
import os
import pickle
import sys
import warnings
from datetime import datetime, timedelta, timezone
from unittest import mock

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.test import RequestFactory, override_settings
from django.urls import path
from s3_encryption.exceptions import (
    S3EncryptionClientError,
    S3EncryptionClientSecurityError,
)
from s3_encryption.materials.materials import CommitmentPolicy

import anymail.webhooks.amazon_ses as amazon_ses_webhooks
from anymail import __version__ as ANYMAIL_VERSION
from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailInsecureWebhookWarning,
)
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.amazon_ses import (
    AmazonSESBaseWebhookView,
    AmazonSESInboundWebhookView,
    AmazonSESTrackingWebhookView,
    AnymailBotoClientAPIError,
    AnymailBotoClientSecurityError,
)

from .conftest import b64_lines, basic_auth_header, security_messages

urlpatterns = [
    path(
        "anymail/amazon_ses/inbound/",
        AmazonSESInboundWebhookView.as_view(),
        name="amazon_ses_inbound_webhook",
    ),
    path(
        "anymail/amazon_ses/tracking/",
        AmazonSESTrackingWebhookView.as_view(),
        name="amazon_ses_tracking_webhook",
    ),
]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.usefixtures("quiet")]

URL = "/anymail/amazon_ses/inbound/"
TRACKING_URL = "/anymail/amazon_ses/tracking/"
TOPIC_ARN = "arn:aws:sns:us-east-1:111122223333:SES_Inbound"
SNS_MESSAGE_ID = "8a3f2c1d-7b6e-5d4c-9a8b-1c2d3e4f5a6b"
SES_MESSAGE_ID = "jc0n3ht7ame5og1ht1ec9ccd2d7ep80brh6bks81"
MAIL_TIMESTAMP = "2024-05-01T10:00:00.123Z"
MAIL_DATETIME = datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=timezone.utc)
BUCKET = "inbound-mail-bucket"
OBJECT_KEY = f"incoming/{SES_MESSAGE_ID}"
KMS_KEY_ARN = (
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

SECRET = {"WEBHOOK_SECRET": "sns-user:s3cret"}
AUTH = basic_auth_header("sns-user:s3cret")

# A 1x1 PNG, and the start of a PDF with its binary marker bytes
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"


# A message as SES receives it: non-ASCII headers (RFC 2047 and RFC 2231),
# quoted-printable text and HTML bodies, an inline image and an attachment
RAW_MESSAGE = (
    "Return-Path: <bounces+a1b2@mail.sender.example>\r\n"
    "Received: from mail.sender.example (mail.sender.example [203.0.113.5])\r\n"
    " by inbound-smtp.us-east-1.amazonaws.com with SMTP id jc0n3ht7ame5\r\n"
    " for inbox@inbound.example.com; Wed, 01 May 2024 10:00:00 +0000 (UTC)\r\n"
    "From: =?utf-8?q?Fran=C3=A7oise_M=C3=BCller?= <francoise@sender.example>\r\n"
    "To: Inbox <inbox@inbound.example.com>,\r\n"
    " =?utf-8?b?5bGx55Sw5aSq6YOO?= <taro@inbound.example.com>\r\n"
    "Cc: copy@inbound.example.com\r\n"
    "Subject: =?utf-8?q?R=C3=A9sum=C3=A9_for_the_caf=C3=A9_=E2=98=95?=\r\n"
    "Date: Wed, 01 May 2024 11:59:58 +0200\r\n"
    "Message-ID: <CAF3e+abc123@mail.sender.example>\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="mixed-1"\r\n'
    "\r\n"
    "--mixed-1\r\n"
    'Content-Type: multipart/related; boundary="related-1"\r\n'
    "\r\n"
    "--related-1\r\n"
    'Content-Type: multipart/alternative; boundary="alt-1"\r\n'
    "\r\n"
    "--alt-1\r\n"
    'Content-Type: text/plain; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Hi! My r=C3=A9sum=C3=A9 is attached.\r\n"
    "\r\n"
    "=E2=80=94 Fran=C3=A7oise\r\n"
    "--alt-1\r\n"
    'Content-Type: text/html; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    '<p>Hi! My r=C3=A9sum=C3=A9 is attached.</p><img src=3D"cid:logo123@sender.e=\r\n'
    'xample">\r\n'
    "--alt-1--\r\n"
    "--related-1\r\n"
    'Content-Type: image/png; name="logo.png"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    "Content-ID: <logo123@sender.example>\r\n"
    'Content-Disposition: inline; filename="logo.png"\r\n'
    "\r\n" + b64_lines(PNG) + "\r\n"
    "--related-1--\r\n"
    "--mixed-1\r\n"
    'Content-Type: application/pdf; name="resume.pdf"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment;\r\n"
    " filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n"
    "\r\n" + b64_lines(PDF) + "\r\n"
    "--mixed-1--\r\n"
)

# (the line break before a boundary belongs to the boundary)
EXPECTED_TEXT = "Hi! My résumé is attached.\n\n— Françoise"
EXPECTED_HTML = (
    '<p>Hi! My résumé is attached.</p><img src="cid:logo123@sender.example">'
)

# The spec's sample content
SIMPLE_MESSAGE = (
    "From: a@sender.example\r\nTo: in@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"
)


# ---------------------------------------------------------------------------
# Payload builders


def ses_received_event(
    action=None, content=RAW_MESSAGE, spam_status="PASS", **receipt_changes
):
    """An SES receipt notification (the SNS Message), as a dict."""
    if action is None:
        action = {"type": "SNS", "topicArn": TOPIC_ARN, "encoding": "UTF8"}
    receipt = {
        "timestamp": "2024-05-01T10:00:00.640Z",
        "processingTimeMillis": 517,
        "recipients": ["inbox@inbound.example.com"],
        "spamVerdict": {"status": spam_status},
        "virusVerdict": {"status": "PASS"},
        "spfVerdict": {"status": "PASS"},
        "dkimVerdict": {"status": "PASS"},
        "dmarcVerdict": {"status": "PASS"},
        "action": action,
    }
    receipt.update(receipt_changes)
    event = {
        "notificationType": "Received",
        "mail": {
            "timestamp": MAIL_TIMESTAMP,
            "source": "bounces+a1b2@mail.sender.example",
            "messageId": SES_MESSAGE_ID,
            "destination": [
                "inbox@inbound.example.com",
                "taro@inbound.example.com",
                "copy@inbound.example.com",
            ],
            "headersTruncated": False,
            "headers": [
                {"name": "Return-Path", "value": "<bounces+a1b2@mail.sender.example>"},
                {"name": "Subject", "value": "Résumé for the café ☕"},
            ],
            "commonHeaders": {
                "returnPath": "bounces+a1b2@mail.sender.example",
                "from": ["Françoise Müller <francoise@sender.example>"],
                "date": "Wed, 01 May 2024 11:59:58 +0200",
                "to": ["Inbox <inbox@inbound.example.com>"],
                "messageId": "<CAF3e+abc123@mail.sender.example>",
                "subject": "Résumé for the café ☕",
            },
        },
        "receipt": receipt,
    }
    if content is not None:
        event["content"] = content
    return event


def s3_action(bucket=BUCKET, key=OBJECT_KEY):
    return {
        "type": "S3",
        "topicArn": TOPIC_ARN,
        "bucketName": bucket,
        "objectKeyPrefix": "incoming",
        "objectKey": key,
    }


def s3_event(**kwargs):
    """An SES receipt notification from an S3 action (no content)."""
    return ses_received_event(action=s3_action(**kwargs), content=None)


def sns_envelope(sns_type="Notification", **fields):
    envelope = {
        "Type": sns_type,
        "MessageId": SNS_MESSAGE_ID,
        "TopicArn": TOPIC_ARN,
        "Subject": "Amazon SES Email Receipt Notification",
        "Timestamp": "2024-05-01T10:00:01.234Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE-SIGNATURE==",
        "SigningCertURL": (
            "https://sns.us-east-1.amazonaws.com/"
            "SimpleNotificationService-0000000000000000000000.pem"
        ),
    }
    envelope.update(fields)
    return envelope


def sns_notification(ses_event):
    message = ses_event if isinstance(ses_event, str) else json.dumps(ses_event)
    return sns_envelope(
        "Notification",
        Message=message,
        UnsubscribeURL=(
            "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
            f"&SubscriptionArn={TOPIC_ARN}:0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
        ),
    )


def post_sns(client, body, url=URL, content_type="text/plain; charset=UTF-8", **extra):
    """POST `body` (dict → JSON) as SNS does, with its x-amz-sns-* headers."""
    headers = {"HTTP_USER_AGENT": "Amazon Simple Notification Service Agent"}
    if isinstance(body, dict):
        headers["HTTP_X_AMZ_SNS_MESSAGE_TYPE"] = str(body.get("Type"))
        headers["HTTP_X_AMZ_SNS_MESSAGE_ID"] = str(body.get("MessageId"))
        headers["HTTP_X_AMZ_SNS_TOPIC_ARN"] = str(body.get("TopicArn"))
        body = json.dumps(body)
    headers.update(extra)
    return client.post(url, body, content_type=content_type, **headers)


def post_ses_event(client, ses_event, **kwargs):
    return post_sns(client, sns_notification(ses_event), **kwargs)


class FakeS3Body:
    """A GetObject Body: serves `data` from iter_chunks(n), records its use."""

    def __init__(self, data, fail_with=None):
        self.data = data
        self.fail_with = fail_with
        self.chunk_sizes = []
        self.pieces = []
        self.closed = False

    def iter_chunks(self, chunk_size):
        self.chunk_sizes.append(chunk_size)
        for start in range(0, len(self.data), chunk_size):
            piece = self.data[start : start + chunk_size]
            self.pieces.append(piece)
            yield piece
        if self.fail_with is not None:
            raise self.fail_with

    def close(self):
        self.closed = True


def stubbed_s3_client():
    """A real botocore S3 client, answering from a Stubber (no network)."""
    client = botocore.session.Session().create_client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="example-secret",
    )
    stubber = Stubber(client)
    stubber.activate()
    return client, stubber


# ---------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def boto_session():
    """The (mocked) boto3 Session class, as the webhook module sees it."""
    with mock.patch("anymail.webhooks.amazon_ses.boto3.session.Session") as session:
        yield session


@pytest.fixture
def boto_clients(boto_session):
    """Separate mock clients per service: boto_clients["s3"], ["kms"], ["sns"].

    (The sessions' client(service, ...) calls are still recorded on
    boto_session.return_value.client.)
    """
    clients = {}

    def client(service_name, **kwargs):
        return clients.setdefault(service_name, mock.MagicMock(name=service_name))

    boto_session.return_value.client.side_effect = client
    for name in ("s3", "kms", "sns"):
        client(name)
    return clients


@pytest.fixture
def s3_object(boto_clients):
    """Makes the mock s3 client's get_object answer with a FakeS3Body of `data`."""

    def serve(data, fail_with=None):
        body = FakeS3Body(data, fail_with=fail_with)
        boto_clients["s3"].get_object.return_value = {
            "Body": body,
            "ContentLength": len(data),
            "ContentType": "application/octet-stream",
        }
        return body

    return serve


# ---------------------------------------------------------------------------
# SNS receipt action (content in the notification)


class TestSNSAction:
    def test_realistic_message(self, webhook_client, inbound_events, boto_session):
        ses_event = ses_received_event()
        response = post_ses_event(webhook_client, ses_event)
        assert response.status_code == 200
        assert response.content == b""

        [call] = inbound_events.calls
        assert call["sender"] is AmazonSESInboundWebhookView
        assert call["esp_name"] == "Amazon SES"
        event = call["event"]
        assert isinstance(event, AnymailInboundEvent)
        assert event.event_type == "inbound"
        assert event.event_id == SES_MESSAGE_ID
        assert event.timestamp == MAIL_DATETIME
        assert event.esp_event == ses_event
        boto_session.assert_not_called()  # nothing to download

        message = event.message
        assert isinstance(message, AnymailInboundMessage)
        assert message.envelope_sender == "bounces+a1b2@mail.sender.example"
        assert message.envelope_recipient == "inbox@inbound.example.com"
        assert message.spam_detected is False
        assert message.spam_score is None
        assert message.stripped_text is None
        assert message.stripped_html is None

        assert message.from_email.addr_spec == "francoise@sender.example"
        assert message.from_email.display_name == "Françoise Müller"
        assert [(a.display_name, a.addr_spec) for a in message.to] == [
            ("Inbox", "inbox@inbound.example.com"),
            ("山田太郎", "taro@inbound.example.com"),
        ]
        assert [a.addr_spec for a in message.cc] == ["copy@inbound.example.com"]
        assert message.subject == "Résumé for the café ☕"
        assert message.date == datetime(
            2024, 5, 1, 11, 59, 58, tzinfo=timezone(timedelta(hours=2))
        )
        assert message["Message-ID"] == "<CAF3e+abc123@mail.sender.example>"
        assert message.text == EXPECTED_TEXT
        assert message.html == EXPECTED_HTML
        assert message.defects == []

        [attachment] = message.attachments
        assert attachment.get_filename() == "résumé.pdf"
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_content_bytes() == PDF

        assert list(message.content_id_map) == ["logo123@sender.example"]
        image = message.content_id_map["logo123@sender.example"]
        assert image.get_filename() == "logo.png"
        assert image.get_content_type() == "image/png"
        assert image.get_content_bytes() == PNG
        assert message.inlines == [image]

    def test_spec_sample(self, webhook_client, inbound_events):
        ses_event = {
            "notificationType": "Received",
            "mail": {
                "source": "bounce@sender.example",
                "timestamp": "2024-05-01T10:00:00.000Z",
                "messageId": "inb-1",
                "destination": ["in@example.com"],
            },
            "receipt": {
                "recipients": ["in@example.com"],
                "spamVerdict": {"status": "PASS"},
                "action": {
                    "type": "SNS",
                    "encoding": "UTF8",
                    "topicArn": "arn:aws:sns:us-east-1:123456789012:Inbound",
                },
            },
            "content": SIMPLE_MESSAGE,
        }
        assert post_ses_event(webhook_client, ses_event).status_code == 200
        event = inbound_events.event
        assert event.event_id == "inb-1"
        assert event.timestamp == datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
        assert event.message.envelope_sender == "bounce@sender.example"
        assert event.message.envelope_recipient == "in@example.com"
        assert event.message.spam_detected is False
        assert event.message.subject == "Hi"
        assert event.message.text == "Hello\n"

    def test_utf8_content_with_8bit_text(self, webhook_client, inbound_events):
        # With UTF8 encoding SES sends an 8bit UTF-8 body as JSON text
        content = (
            "From: sender@example.com\r\n"
            "To: inbox@inbound.example.com\r\n"
            "Subject: Grüße\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "\r\n"
            "It's a body… with ümlauts\r\n"
        )
        post_ses_event(webhook_client, ses_received_event(content=content))
        message = inbound_events.event.message
        assert message.subject == "Grüße"
        assert message.text == "It's a body… with ümlauts\n"
        # the raw payload keeps its CRLF line ending
        assert message.get_content_bytes() == ("It's a body… with ümlauts\r\n".encode())

    @pytest.mark.parametrize("encoding", ["BASE64", "base64"])
    def test_base64_content(self, webhook_client, inbound_events, encoding):
        # Base64 keeps bytes that aren't UTF-8 (here an 8bit ISO-8859-1 part)
        raw = (
            b"From: sender@example.com\r\n"
            b"To: inbox@inbound.example.com\r\n"
            b"Subject: =?iso-8859-1?q?Fa=E7ade?=\r\n"
            b"Content-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n"
            b"\r\n"
            b"Fa\xe7ade r\xe9nov\xe9e\r\n"
        )
        action = {"type": "SNS", "topicArn": TOPIC_ARN, "encoding": encoding}
        ses_event = ses_received_event(
            action=action, content=base64.b64encode(raw).decode("ascii")
        )
        assert post_ses_event(webhook_client, ses_event).status_code == 200
        message = inbound_events.event.message
        assert message.subject == "Façade"
        assert message.text == "Façade rénovée\n"
        assert message.get_content_bytes() == b"Fa\xe7ade r\xe9nov\xe9e\r\n"

    def test_base64_realistic_message(self, webhook_client, inbound_events):
        action = {"type": "SNS", "topicArn": TOPIC_ARN, "encoding": "BASE64"}
        content = base64.b64encode(RAW_MESSAGE.encode("ascii")).decode("ascii")
        post_ses_event(webhook_client, ses_received_event(action, content))
        message = inbound_events.event.message
        assert message.subject == "Résumé for the café ☕"
        assert message.text == EXPECTED_TEXT
        assert message.attachments[0].get_content_bytes() == PDF

    @pytest.mark.parametrize("encoding", [None, "UTF8"])
    def test_missing_encoding_is_utf8(self, webhook_client, inbound_events, encoding):
        action = {"type": "SNS", "topicArn": TOPIC_ARN}
        if encoding:
            action["encoding"] = encoding
        post_ses_event(webhook_client, ses_received_event(action, SIMPLE_MESSAGE))
        assert inbound_events.event.message.subject == "Hi"

    def test_kms_key_doesnt_affect_sns_action(
        self, webhook_client, inbound_events, boto_session
    ):
        with override_settings(ANYMAIL={"AMAZON_SES_INBOUND_KMS_KEY_ID": KMS_KEY_ARN}):
            response = post_ses_event(webhook_client, ses_received_event())
        assert response.status_code == 200
        assert inbound_events.event.message.text == EXPECTED_TEXT
        boto_session.assert_not_called()


# ---------------------------------------------------------------------------
# Event fields


class TestEventFields:
    @pytest.mark.parametrize(
        "status,expected",
        [
            ("PASS", False),
            ("FAIL", True),
            ("pass", False),
            ("Fail", True),
            ("GRAY", None),
            ("PROCESSING_FAILED", None),
            ("", None),
            (None, None),
        ],
    )
    def test_spam_verdict(self, webhook_client, inbound_events, status, expected):
        post_ses_event(webhook_client, ses_received_event(spam_status=status))
        assert inbound_events.event.message.spam_detected is expected

    @pytest.mark.parametrize("verdict", ["missing", None, {}, "PASS", ["PASS"]])
    def test_missing_or_odd_spam_verdict(self, webhook_client, inbound_events, verdict):
        ses_event = ses_received_event()
        if verdict == "missing":
            del ses_event["receipt"]["spamVerdict"]
        else:
            ses_event["receipt"]["spamVerdict"] = verdict
        assert post_ses_event(webhook_client, ses_event).status_code == 200
        assert inbound_events.event.message.spam_detected is None

    def test_envelope_recipient_is_first_receipt_recipient(
        self, webhook_client, inbound_events
    ):
        recipients = ["second@inbound.example.com", "inbox@inbound.example.com"]
        post_ses_event(webhook_client, ses_received_event(recipients=recipients))
        assert (
            inbound_events.event.message.envelope_recipient
            == "second@inbound.example.com"
        )

    @pytest.mark.parametrize("recipients", ["missing", [], None])
    def test_no_receipt_recipients(self, webhook_client, inbound_events, recipients):
        ses_event = ses_received_event()
        if recipients == "missing":
            del ses_event["receipt"]["recipients"]
        else:
            ses_event["receipt"]["recipients"] = recipients
        assert post_ses_event(webhook_client, ses_event).status_code == 200
        assert inbound_events.event.message.envelope_recipient is None

    def test_no_source(self, webhook_client, inbound_events):
        ses_event = ses_received_event()
        del ses_event["mail"]["source"]
        post_ses_event(webhook_client, ses_event)
        assert inbound_events.event.message.envelope_sender is None

    @pytest.mark.parametrize(
        "timestamp,expected",
        [
            ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=timezone.utc)),
            (
                "2024-05-01T12:00:00.5+02:00",
                datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=timezone.utc),
            ),
            ("not a date", None),
            ("2024-13-45T99:00:00Z", None),
            (1714557600, None),
            (None, None),
        ],
    )
    def test_timestamp(self, webhook_client, inbound_events, timestamp, expected):
        ses_event = ses_received_event()
        ses_event["mail"]["timestamp"] = timestamp
        assert post_ses_event(webhook_client, ses_event).status_code == 200
        assert inbound_events.event.timestamp == expected
        if expected is not None:
            assert inbound_events.event.timestamp.utcoffset() == timedelta(0)

    def test_missing_timestamp_and_message_id(self, webhook_client, inbound_events):
        ses_event = ses_received_event()
        del ses_event["mail"]["timestamp"]
        del ses_event["mail"]["messageId"]
        assert post_ses_event(webhook_client, ses_event).status_code == 200
        assert inbound_events.event.timestamp is None
        assert inbound_events.event.event_id is None

    def test_event_id_is_ses_message_id_not_sns(self, webhook_client, inbound_events):
        post_ses_event(webhook_client, ses_received_event())
        assert inbound_events.event.event_id == SES_MESSAGE_ID != SNS_MESSAGE_ID


# ---------------------------------------------------------------------------
# Lenient MIME parsing: a bad message is still delivered, never a 500


class TestLenientParsing:
    @pytest.mark.parametrize(
        "content",
        [
            pytest.param(
                "From: a@example.com\r\nSubject: cut off\r\n"
                'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
                "--b1\r\nContent-Type: text/plain\r\n\r\nTruncated bo",
                id="truncated-multipart",
            ),
            pytest.param(
                "From: a@example.com\r\nSubject: no boundary\r\n"
                "Content-Type: multipart/alternative\r\n\r\nbody\r\n",
                id="multipart-without-boundary",
            ),
            pytest.param(
                "From: a@example.com\r\nSubject: odd charset\r\n"
                "Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nbody\r\n",
                id="unknown-charset",
            ),
            pytest.param(
                "From: not an address\r\nTo: <>\r\nDate: yesterday-ish\r\n"
                "Subject: =?utf-8?q?Not_a_char:_=88.?=\r\n\r\nbody\r\n",
                id="bad-headers",
            ),
            pytest.param(
                "This isn't an email message at all, just text\r\n",
                id="not-mime",
            ),
            pytest.param("", id="empty"),
        ],
    )
    def test_malformed_mime_is_delivered(self, webhook_client, inbound_events, content):
        response = post_ses_event(webhook_client, ses_received_event(content=content))
        assert response.status_code == 200
        assert isinstance(inbound_events.event.message, AnymailInboundMessage)

    def test_truncated_multipart_keeps_parts(self, webhook_client, inbound_events):
        content = (
            "From: a@example.com\r\n"
            'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
            "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFirst part\r\n"
            "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Cut o"
        )
        post_ses_event(webhook_client, ses_received_event(content=content))
        message = inbound_events.event.message
        assert message.text == "First part"
        assert message.html == "<p>Cut o"
        assert message.defects  # (the missing close boundary is recorded)

    def test_wrong_charset_is_replaced_not_raised(self, webhook_client, inbound_events):
        # declared us-ascii, but the (base64) bytes are UTF-8
        raw = (
            b"From: a@example.com\r\nContent-Type: text/plain; charset=us-ascii\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\n"
        )
        action = {"type": "SNS", "topicArn": TOPIC_ARN, "encoding": "BASE64"}
        content = base64.b64encode(raw).decode("ascii")
        post_ses_event(webhook_client, ses_received_event(action, content))
        assert inbound_events.event.message.text == "caf\ufffd\ufffd\n"


# ---------------------------------------------------------------------------
# S3 receipt action (content streamed from S3)


class TestS3Action:
    def test_download_and_parse(
        self, webhook_client, inbound_events, boto_session, boto_clients, s3_object
    ):
        body = s3_object(RAW_MESSAGE.encode("ascii"))
        ses_event = s3_event()
        response = post_ses_event(webhook_client, ses_event)
        assert response.status_code == 200

        boto_session.assert_called_once_with()
        boto_session.return_value.client.assert_called_once_with("s3", config=mock.ANY)
        config = boto_session.return_value.client.call_args.kwargs["config"]
        assert isinstance(config, Config)
        assert f"django-anymail/{ANYMAIL_VERSION}-amazon-ses" in (
            config.user_agent_extra
        )
        s3_client = boto_clients["s3"]
        # GetObject only (no HeadObject, and the object isn't deleted)
        assert s3_client.method_calls == [
            mock.call.get_object(Bucket=BUCKET, Key=OBJECT_KEY),
            mock.call.close(),
        ]
        assert body.chunk_sizes == [65536]
        assert body.closed

        event = inbound_events.event
        assert event.event_id == SES_MESSAGE_ID
        assert event.timestamp == MAIL_DATETIME
        assert event.esp_event == ses_event
        message = event.message
        assert message.envelope_sender == "bounces+a1b2@mail.sender.example"
        assert message.envelope_recipient == "inbox@inbound.example.com"
        assert message.spam_detected is False
        assert message.subject == "Résumé for the café ☕"
        assert message.from_email.display_name == "Françoise Müller"
        assert message.text == EXPECTED_TEXT
        assert message.html == EXPECTED_HTML
        assert message.attachments[0].get_content_bytes() == PDF
        assert message.content_id_map["logo123@sender.example"].get_content_bytes() == (
            PNG
        )
        # streamed bytes are parsed as they are: payloads keep their CRLF
        text_part = next(
            part for part in message.walk() if part.get_content_type() == "text/plain"
        )
        assert b"attached.\r\n\r\n\xe2\x80\x94" in text_part.get_content_bytes()

    def test_body_closed_before_client(self, webhook_client, boto_clients):
        order = []
        body = mock.MagicMock()
        body.iter_chunks.return_value = iter([SIMPLE_MESSAGE.encode("ascii")])
        body.close.side_effect = lambda: order.append("body")
        boto_clients["s3"].close.side_effect = lambda: order.append("s3")
        boto_clients["s3"].get_object.return_value = {"Body": body}
        assert post_ses_event(webhook_client, s3_event()).status_code == 200
        assert order == ["body", "s3"]
        body.iter_chunks.assert_called_once_with(65536)  # (positional)

    def test_streamed_in_pieces_not_read_whole(
        self, webhook_client, inbound_events, s3_object
    ):
        # a bigger message, in small pieces that split lines and CRLFs anywhere
        big = os.urandom(300_000)
        raw = RAW_MESSAGE.replace(b64_lines(PDF), b64_lines(big)).encode("ascii")
        body = s3_object(raw)
        with (
            override_settings(ANYMAIL={"AMAZON_SES_DOWNLOAD_CHUNK_SIZE": 1001}),
            mock.patch.object(
                AnymailInboundMessage,
                "parse_raw_mime_bytes",
                side_effect=AssertionError("must stream, not parse the whole"),
            ),
        ):
            response = post_ses_event(webhook_client, s3_event())
        assert response.status_code == 200
        assert body.chunk_sizes == [1001]
        assert len(body.pieces) == -(-len(raw) // 1001)
        assert max(len(piece) for piece in body.pieces) == 1001
        message = inbound_events.event.message
        assert message.attachments[0].get_content_bytes() == big
        assert message.text == EXPECTED_TEXT

    def test_chunk_size_flat_setting(self, webhook_client, s3_object):
        body = s3_object(SIMPLE_MESSAGE.encode("ascii"))
        with override_settings(ANYMAIL_AMAZON_SES_DOWNLOAD_CHUNK_SIZE=4096):
            post_ses_event(webhook_client, s3_event())
        assert body.chunk_sizes == [4096]

    def test_chunk_size_no_bare_setting(self, webhook_client, s3_object):
        body = s3_object(SIMPLE_MESSAGE.encode("ascii"))
        with override_settings(AMAZON_SES_DOWNLOAD_CHUNK_SIZE=4096):
            post_ses_event(webhook_client, s3_event())
        assert body.chunk_sizes == [65536]

    def test_boto_settings(self, webhook_client, boto_session, s3_object):
        s3_object(SIMPLE_MESSAGE.encode("ascii"))
        client_params = {
            "region_name": "eu-west-1",
            "aws_access_key_id": "AKIAEXAMPLE",
            "config": {"read_timeout": 9},
        }
        with override_settings(
            ANYMAIL={
                "AMAZON_SES_CLIENT_PARAMS": client_params,
                "AMAZON_SES_SESSION_PARAMS": {"profile_name": "inbound"},
            }
        ):
            assert post_ses_event(webhook_client, s3_event()).status_code == 200
        boto_session.assert_called_once_with(profile_name="inbound")
        # no region override for S3 (unlike the SNS client)
        boto_session.return_value.client.assert_called_once_with(
            "s3",
            config=mock.ANY,
            region_name="eu-west-1",
            aws_access_key_id="AKIAEXAMPLE",
        )
        config = boto_session.return_value.client.call_args.kwargs["config"]
        assert config.read_timeout == 9
        assert "django-anymail/" in config.user_agent_extra
        assert client_params["config"] == {"read_timeout": 9}  # not changed

    def test_real_botocore_client(self, webhook_client, inbound_events, boto_session):
        # A real S3 client (stubbed), so the streaming body is botocore's own
        raw = RAW_MESSAGE.encode("ascii")
        s3_client, stubber = stubbed_s3_client()
        stubber.add_response(
            "get_object",
            {
                "Body": StreamingBody(io.BytesIO(raw), len(raw)),
                "ContentLength": len(raw),
            },
            {"Bucket": BUCKET, "Key": OBJECT_KEY},
        )
        boto_session.return_value.client.return_value = s3_client
        with mock.patch.object(s3_client, "close", wraps=s3_client.close) as close:
            response = post_ses_event(webhook_client, s3_event())
        assert response.status_code == 200
        stubber.assert_no_pending_responses()
        close.assert_called_once_with()
        assert inbound_events.event.message.text == EXPECTED_TEXT

    def test_client_error(
        self, webhook_client, inbound_events, boto_clients, security_log
    ):
        error = ClientError(
            {
                "Error": {"Code": "403", "Message": "Forbidden"},
                "ResponseMetadata": {"HTTPStatusCode": 403},
            },
            "GetObject",
        )
        boto_clients["s3"].get_object.side_effect = error
        with pytest.raises(AnymailBotoClientAPIError) as excinfo:
            post_ses_event(webhook_client, s3_event())
        err = excinfo.value
        assert isinstance(err, AnymailAPIError)
        assert isinstance(err, ClientError)
        assert err.__cause__ is error
        assert err.response is error.response
        assert err.operation_name == "GetObject"
        assert err.args == (
            "Anymail AmazonSESInboundWebhookView couldn't download S3 object"
            f" '{BUCKET}:{OBJECT_KEY}'",
        )
        assert str(err) == (
            "Anymail AmazonSESInboundWebhookView couldn't download S3 object"
            f" '{BUCKET}:{OBJECT_KEY}'\n"
            "botocore.exceptions.ClientError: An error occurred (403) when calling"
            " the GetObject operation: Forbidden"
        )
        boto_clients["s3"].close.assert_called_once_with()
        assert inbound_events.calls == []
        assert security_messages(security_log) == []

        # picklable (e.g. to a task queue's result store), as an equal error
        restored = pickle.loads(pickle.dumps(err))
        assert type(restored) is AnymailBotoClientAPIError
        assert restored.args == err.args
        assert restored.response == error.response
        assert restored.operation_name == "GetObject"
        assert restored.esp_name == "Amazon SES"

    def test_real_client_error(self, webhook_client, inbound_events, boto_session):
        s3_client, stubber = stubbed_s3_client()
        stubber.add_client_error(
            "get_object",
            service_error_code="NoSuchKey",
            service_message="The specified key does not exist.",
            http_status_code=404,
        )
        boto_session.return_value.client.return_value = s3_client
        with pytest.raises(AnymailBotoClientAPIError) as excinfo:
            post_ses_event(webhook_client, s3_event())
        assert excinfo.value.response["Error"]["Code"] == "NoSuchKey"
        assert "(NoSuchKey) when calling the GetObject operation" in str(excinfo.value)
        assert inbound_events.calls == []

    def test_client_error_while_streaming(
        self, webhook_client, inbound_events, boto_clients, s3_object
    ):
        error = ClientError({"Error": {"Code": "SlowDown"}}, "GetObject")
        body = s3_object(RAW_MESSAGE.encode("ascii"), fail_with=error)
        with pytest.raises(AnymailBotoClientAPIError) as excinfo:
            post_ses_event(webhook_client, s3_event())
        assert excinfo.value.__cause__ is error
        assert body.closed
        boto_clients["s3"].close.assert_called_once_with()
        assert inbound_events.calls == []

    @pytest.mark.parametrize(
        "error",
        [
            EndpointConnectionError(endpoint_url="https://s3.amazonaws.com/"),
            S3EncryptionClientError("Ranged gets are not supported"),
            ConnectionResetError("reset by peer"),
        ],
        ids=type,
    )
    def test_other_errors_propagate_unchanged(
        self, webhook_client, inbound_events, boto_clients, s3_object, error
    ):
        body = s3_object(RAW_MESSAGE.encode("ascii"), fail_with=error)
        with pytest.raises(type(error)) as excinfo:
            post_ses_event(webhook_client, s3_event())
        assert excinfo.value is error
        assert body.closed
        boto_clients["s3"].close.assert_called_once_with()
        assert inbound_events.calls == []

    @pytest.mark.parametrize("field", ["bucketName", "objectKey"])
    def test_missing_location_is_malformed(
        self, webhook_client, inbound_events, boto_session, field
    ):
        ses_event = s3_event()
        del ses_event["receipt"]["action"][field]
        response = post_ses_event(webhook_client, ses_event)
        assert response.status_code == 400
        boto_session.assert_not_called()
        assert inbound_events.calls == []

    def test_malformed_notification_refused_before_download(
        self, webhook_client, inbound_events, boto_session
    ):
        ses_event = s3_event()
        ses_event["mail"] = "not an object"
        response = post_ses_event(webhook_client, ses_event)
        assert response.status_code == 400
        boto_session.assert_not_called()


# ---------------------------------------------------------------------------
# S3 objects encrypted with KMS (AMAZON_SES_INBOUND_KMS_KEY_ID)


def kms_encrypted_object(plaintext, tamper=False):
    """An S3 object as SES's S3 action stores it with KMS encryption.

    (S3 Encryption Client v2 format: AES-GCM content, data key wrapped with
    legacy "kms" key wrapping.) Returns (data key, ciphertext, metadata).
    """
    data_key = os.urandom(32)
    iv = os.urandom(12)
    ciphertext = AESGCM(data_key).encrypt(iv, plaintext, None)
    if tamper:
        ciphertext = ciphertext[:100] + bytes([ciphertext[100] ^ 1]) + ciphertext[101:]
    metadata = {
        "x-amz-key-v2": base64.b64encode(b"KMS-WRAPPED-DATA-KEY").decode("ascii"),
        "x-amz-iv": base64.b64encode(iv).decode("ascii"),
        "x-amz-cek-alg": "AES/GCM/NoPadding",
        "x-amz-tag-len": "128",
        "x-amz-wrap-alg": "kms",
        "x-amz-matdesc": json.dumps({"kms_cmk_id": KMS_KEY_ARN}),
    }
    return data_key, ciphertext, metadata


KMS_SETTINGS = {"AMAZON_SES_INBOUND_KMS_KEY_ID": KMS_KEY_ARN}


class TestKMSDecryption:
    def setup_real_objects(self, boto_session, tamper=False):
        """A stubbed real S3 client serving an encrypted object, a mock KMS."""
        raw = RAW_MESSAGE.encode("ascii")
        data_key, ciphertext, metadata = kms_encrypted_object(raw, tamper=tamper)
        s3_client, stubber = stubbed_s3_client()
        stubber.add_response(
            "get_object",
            {
                "Body": StreamingBody(io.BytesIO(ciphertext), len(ciphertext)),
                "ContentLength": len(ciphertext),
                "Metadata": metadata,
            },
            {"Bucket": BUCKET, "Key": OBJECT_KEY},
        )
        kms_client = mock.MagicMock(name="kms")
        kms_client.decrypt.return_value = {"Plaintext": data_key, "KeyId": KMS_KEY_ARN}
        clients = {"s3": s3_client, "kms": kms_client}
        boto_session.return_value.client.side_effect = lambda name, **kw: clients[name]
        return s3_client, stubber, kms_client

    @override_settings(ANYMAIL=KMS_SETTINGS)
    def test_real_decryption(self, webhook_client, inbound_events, boto_session):
        s3_client, stubber, kms_client = self.setup_real_objects(boto_session)
        with mock.patch.object(s3_client, "close", wraps=s3_client.close) as close:
            response = post_ses_event(webhook_client, s3_event())
        assert response.status_code == 200
        stubber.assert_no_pending_responses()
        kms_client.decrypt.assert_called_once_with(
            KeyId=KMS_KEY_ARN,
            CiphertextBlob=b"KMS-WRAPPED-DATA-KEY",
            EncryptionContext={"kms_cmk_id": KMS_KEY_ARN},
        )
        kms_client.close.assert_called_once_with()
        close.assert_called_once_with()
        message = inbound_events.event.message
        assert message.subject == "Résumé for the café ☕"
        assert message.text == EXPECTED_TEXT
        assert message.attachments[0].get_content_bytes() == PDF

    @override_settings(ANYMAIL=KMS_SETTINGS)
    def test_real_tampered_object(self, webhook_client, inbound_events, boto_session):
        s3_client, stubber, kms_client = self.setup_real_objects(
            boto_session, tamper=True
        )
        with pytest.raises(AnymailBotoClientSecurityError) as excinfo:
            post_ses_event(webhook_client, s3_event())
        err = excinfo.value
        assert isinstance(err, AnymailAPIError)
        assert isinstance(err, S3EncryptionClientSecurityError)
        assert isinstance(err.__cause__, S3EncryptionClientSecurityError)
        assert err.args == (
            "Anymail AmazonSESInboundWebhookView failed decrypting S3 object"
            f" '{BUCKET}:{OBJECT_KEY}'",
        )
        kms_client.close.assert_called_once_with()
        assert inbound_events.calls == []  # (nothing of the partial plaintext)

        restored = pickle.loads(pickle.dumps(err))  # (picklable)
        assert type(restored) is AnymailBotoClientSecurityError
        assert restored.args == err.args
        assert restored.kwargs == err.kwargs

    @override_settings(ANYMAIL=KMS_SETTINGS)
    def test_call_shapes(self, webhook_client, inbound_events, boto_session):
        clients = {}
        order = []

        def client(service_name, **kwargs):
            new = mock.MagicMock(name=service_name)
            new.close.side_effect = lambda: order.append(service_name)
            clients[service_name] = new
            return new

        boto_session.return_value.client.side_effect = client
        body = mock.MagicMock()
        body.iter_chunks.return_value = iter([SIMPLE_MESSAGE.encode("ascii")])
        body.close.side_effect = lambda: order.append("body")
        with mock.patch.multiple(
            amazon_ses_webhooks,
            KmsKeyring=mock.DEFAULT,
            S3EncryptionClientConfig=mock.DEFAULT,
            S3EncryptionClient=mock.DEFAULT,
        ) as patched:
            encryption_client = patched["S3EncryptionClient"].return_value
            encryption_client.get_object.return_value = {"Body": body}
            response = post_ses_event(webhook_client, s3_event())
        assert response.status_code == 200

        # two new sessions, with the same client params (so the same region)
        assert boto_session.call_args_list == [mock.call(), mock.call()]
        assert boto_session.return_value.client.call_args_list == [
            mock.call("s3", config=mock.ANY),
            mock.call("kms", config=mock.ANY),
        ]
        patched["KmsKeyring"].assert_called_once_with(
            clients["kms"], KMS_KEY_ARN, enable_legacy_wrapping_algorithms=True
        )
        patched["S3EncryptionClientConfig"].assert_called_once_with(
            patched["KmsKeyring"].return_value,
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
            enable_delayed_authentication=True,
        )
        patched["S3EncryptionClient"].assert_called_once_with(
            clients["s3"], patched["S3EncryptionClientConfig"].return_value
        )
        encryption_client.get_object.assert_called_once_with(
            Bucket=BUCKET, Key=OBJECT_KEY
        )
        clients["s3"].get_object.assert_not_called()
        body.iter_chunks.assert_called_once_with(65536)
        assert order == ["body", "kms", "s3"]
        assert inbound_events.event.message.subject == "Hi"

    @override_settings(ANYMAIL=KMS_SETTINGS)
    def test_security_error(self, webhook_client, inbound_events, boto_clients):
        original = S3EncryptionClientSecurityError("Tag mismatch")
        body = FakeS3Body(RAW_MESSAGE.encode("ascii"), fail_with=original)
        with mock.patch.object(amazon_ses_webhooks, "S3EncryptionClient") as client:
            client.return_value.get_object.return_value = {"Body": body}
            with pytest.raises(AnymailBotoClientSecurityError) as excinfo:
                post_ses_event(webhook_client, s3_event())
        err = excinfo.value
        assert isinstance(err, AnymailAPIError)
        assert isinstance(err, S3EncryptionClientSecurityError)
        assert isinstance(err, BotoCoreError)
        assert err.__cause__ is original
        message = (
            "Anymail AmazonSESInboundWebhookView failed decrypting S3 object"
            f" '{BUCKET}:{OBJECT_KEY}'"
        )
        assert err.args == (message,)
        assert err.kwargs["msg"] == "Tag mismatch"
        assert str(err) == (
            message
            + "\ns3_encryption.exceptions.S3EncryptionClientSecurityError: Tag mismatch"
        )
        assert body.closed
        boto_clients["kms"].close.assert_called_once_with()
        boto_clients["s3"].close.assert_called_once_with()
        assert inbound_events.calls == []

    @override_settings(ANYMAIL=KMS_SETTINGS)
    def test_client_error_from_kms(self, webhook_client, boto_clients):
        error = ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "Denied"}},
            "Decrypt",
        )
        with mock.patch.object(amazon_ses_webhooks, "S3EncryptionClient") as client:
            client.return_value.get_object.side_effect = error
            with pytest.raises(AnymailBotoClientAPIError) as excinfo:
                post_ses_event(webhook_client, s3_event())
        assert excinfo.value.__cause__ is error
        assert excinfo.value.operation_name == "Decrypt"
        boto_clients["kms"].close.assert_called_once_with()
        boto_clients["s3"].close.assert_called_once_with()

    @override_settings(ANYMAIL={"ANYMAIL_AMAZON_SES_INBOUND_KMS_KEY_ID": "ignored"})
    def test_no_kms_key_by_default(self, webhook_client, boto_session, s3_object):
        s3_object(SIMPLE_MESSAGE.encode("ascii"))
        with mock.patch.object(amazon_ses_webhooks, "S3EncryptionClient") as client:
            assert post_ses_event(webhook_client, s3_event()).status_code == 200
        client.assert_not_called()
        boto_session.return_value.client.assert_called_once_with("s3", config=mock.ANY)

    def test_flat_kms_setting(self, webhook_client, boto_clients):
        with (
            override_settings(ANYMAIL_AMAZON_SES_INBOUND_KMS_KEY_ID=KMS_KEY_ARN),
            mock.patch.object(amazon_ses_webhooks, "KmsKeyring") as keyring,
            mock.patch.object(amazon_ses_webhooks, "S3EncryptionClient") as client,
        ):
            client.return_value.get_object.return_value = {
                "Body": FakeS3Body(SIMPLE_MESSAGE.encode("ascii"))
            }
            assert post_ses_event(webhook_client, s3_event()).status_code == 200
        assert keyring.call_args.args[1] == KMS_KEY_ARN

    @override_settings(ANYMAIL=KMS_SETTINGS)
    def test_encryption_package_missing(
        self, webhook_client, inbound_events, boto_clients
    ):
        missing = dict(
            S3EncryptionClient=None,
            S3EncryptionClientConfig=None,
            KmsKeyring=None,
            CommitmentPolicy=None,
        )
        with (
            mock.patch.multiple(amazon_ses_webhooks, **missing),
            pytest.raises(AnymailImproperlyInstalled) as excinfo,
        ):
            post_ses_event(webhook_client, s3_event())
        assert str(excinfo.value) == (
            "The amazon-s3-encryption-client-python package isn't installed but is"
            " needed for this ESP.\n"
            '(Be sure to use `pip install "django-anymail[amazon-ses]"`.)'
        )
        boto_clients["s3"].get_object.assert_not_called()
        boto_clients["kms"].close.assert_called_once_with()
        boto_clients["s3"].close.assert_called_once_with()
        assert inbound_events.calls == []


class TestWithoutEncryptionPackage:
    """The module loaded while s3_encryption can't be imported."""

    @pytest.fixture
    def module(self):
        spec = importlib.util.spec_from_file_location(
            "anymail.webhooks._amazon_ses_without_s3_encryption",
            amazon_ses_webhooks.__file__,
        )
        module = importlib.util.module_from_spec(spec)
        blocked = {
            name: None
            for name in list(sys.modules) + ["s3_encryption"]
            if name == "s3_encryption" or name.startswith("s3_encryption.")
        }
        with mock.patch.dict(sys.modules, blocked):
            spec.loader.exec_module(module)
        return module

    def post(self, module):
        request = RequestFactory().post(
            URL,
            json.dumps(sns_notification(s3_event())),
            content_type="text/plain; charset=UTF-8",
            HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
            HTTP_X_AMZ_SNS_MESSAGE_ID=SNS_MESSAGE_ID,
        )
        return module.AmazonSESInboundWebhookView.as_view()(request)

    def test_module_imports(self, module):
        assert module.KmsKeyring is None
        assert module.S3EncryptionClient is None
        # the security error class still exists, as an Anymail API error
        assert issubclass(module.AnymailBotoClientSecurityError, AnymailAPIError)
        assert issubclass(module.AnymailBotoClientSecurityError, Exception)

    @override_settings(ANYMAIL=KMS_SETTINGS)
    def test_kms_key_set_raises_improperly_installed(
        self, module, boto_clients, inbound_events
    ):
        # (django-anymail 15.2 raises a TypeError here)
        with pytest.raises(AnymailImproperlyInstalled) as excinfo:
            self.post(module)
        assert "amazon-s3-encryption-client-python" in str(excinfo.value)
        boto_clients["s3"].close.assert_called_once_with()
        boto_clients["kms"].close.assert_called_once_with()
        assert inbound_events.calls == []

    def test_without_kms_key_errors_propagate_unchanged(self, module, boto_clients):
        # (django-anymail 15.2 turns any non-ClientError into a TypeError here)
        error = EndpointConnectionError(endpoint_url="https://s3.amazonaws.com/")
        boto_clients["s3"].get_object.side_effect = error
        with pytest.raises(EndpointConnectionError) as excinfo:
            self.post(module)
        assert excinfo.value is error

    def test_without_kms_key_works(self, module, boto_clients, inbound_events):
        boto_clients["s3"].get_object.return_value = {
            "Body": FakeS3Body(SIMPLE_MESSAGE.encode("ascii"))
        }
        assert self.post(module).status_code == 200
        assert inbound_events.event.message.subject == "Hi"


# ---------------------------------------------------------------------------
# Misdirected notifications, unsupported actions


SENDING_EVENT_MESSAGE = (
    "You seem to have set an Amazon SES *sending* event or notification to"
    " publish to an SNS Topic that posts to Anymail's *inbound* webhook URL."
    f" (SNS TopicArn {TOPIC_ARN})"
)


class TestMisdirected:
    @pytest.mark.parametrize(
        "ses_event",
        [
            {
                "notificationType": "Bounce",
                "bounce": {"bounceType": "Permanent", "bouncedRecipients": []},
                "mail": {"messageId": "x", "destination": ["a@example.com"]},
            },
            {
                "eventType": "Delivery",
                "delivery": {"recipients": ["a@example.com"]},
                "mail": {"messageId": "x", "destination": ["a@example.com"]},
            },
            {"eventType": "Received"},  # (inbound uses notificationType)
            {},
        ],
        ids=["notification", "event-publishing", "eventType-Received", "empty"],
    )
    def test_sending_event_on_inbound_url(
        self, webhook_client, inbound_events, ses_event
    ):
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_ses_event(webhook_client, ses_event)
        assert str(excinfo.value) == SENDING_EVENT_MESSAGE
        assert inbound_events.calls == []

    def test_inbound_notification_on_tracking_url(
        self, webhook_client, inbound_events, tracking_events
    ):
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_ses_event(webhook_client, ses_received_event(), url=TRACKING_URL)
        assert str(excinfo.value) == (
            "You seem to have set an Amazon SES *inbound* receipt rule to publish"
            " to an SNS Topic that posts to Anymail's *tracking* webhook URL."
            f" (SNS TopicArn {TOPIC_ARN})"
        )
        assert inbound_events.calls == []
        assert tracking_events.calls == []

    @pytest.mark.parametrize("action_type", ["Lambda", "Bounce", "WorkMail", "Stop"])
    def test_unsupported_action(
        self, webhook_client, inbound_events, boto_session, action_type
    ):
        action = {"type": action_type, "topicArn": TOPIC_ARN}
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_ses_event(webhook_client, ses_received_event(action=action))
        assert str(excinfo.value) == (
            "Anymail's Amazon SES inbound webhook works only with 'SNS' or 'S3'"
            " receipt rule actions, not SNS notifications for"
            f" {action_type} actions. (SNS TopicArn {TOPIC_ARN})"
        )
        assert inbound_events.calls == []
        boto_session.assert_not_called()

    def test_topic_validated_notice_is_ignored(self, webhook_client, inbound_events):
        body = sns_notification(
            "Successfully validated SNS topic for Amazon SES event publishing."
        )
        assert post_sns(webhook_client, body).status_code == 200
        assert inbound_events.calls == []


# ---------------------------------------------------------------------------
# Malformed requests: 400, nothing dispatched (never a 500)


class TestMalformed:
    @pytest.mark.parametrize(
        "body",
        [b"", b"not json", b"[1, 2]", b'"a string"', b"\xff\xfe{}", b"null"],
        ids=["empty", "not-json", "array", "string", "not-utf8", "null"],
    )
    def test_body_not_a_json_object(
        self, webhook_client, inbound_events, security_log, body
    ):
        response = post_sns(
            webhook_client,
            body,
            content_type="text/plain",  # (the test client re-encodes for "UTF-8")
            HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
            HTTP_X_AMZ_SNS_MESSAGE_ID=SNS_MESSAGE_ID,
        )
        assert response.status_code == 400
        assert b"Malformed Amazon SES webhook payload" in response.content
        assert inbound_events.calls == []
        assert security_messages(security_log) == []

    def test_form_content_type(self, webhook_client, inbound_events):
        response = webhook_client.post(
            URL,
            {"Type": "Notification", "MessageId": SNS_MESSAGE_ID},
            HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
            HTTP_X_AMZ_SNS_MESSAGE_ID=SNS_MESSAGE_ID,
        )
        assert response.status_code == 400
        assert inbound_events.calls == []

    def test_json_content_type_accepted(self, webhook_client, inbound_events):
        body = sns_notification(ses_received_event())
        response = post_sns(webhook_client, body, content_type="application/json")
        assert response.status_code == 200
        assert inbound_events.event.message.text == EXPECTED_TEXT

    @pytest.mark.parametrize("sns_type", ["Unknown", "notification"])
    def test_unknown_sns_type(self, webhook_client, inbound_events, sns_type):
        body = sns_envelope(sns_type, Message="{}")
        assert post_sns(webhook_client, body).status_code == 400
        assert inbound_events.calls == []

    @pytest.mark.parametrize("message", ["not json", "[]", "42", None])
    def test_unparsable_message(self, webhook_client, inbound_events, message):
        body = sns_envelope("Notification", Message=message)
        assert post_sns(webhook_client, body).status_code == 400
        assert inbound_events.calls == []

    def test_message_missing(self, webhook_client, inbound_events):
        assert post_sns(webhook_client, sns_envelope("Notification")).status_code == 400
        assert inbound_events.calls == []

    @pytest.mark.parametrize(
        "change",
        [
            lambda e: e.pop("mail"),
            lambda e: e.pop("receipt"),
            lambda e: e["receipt"].pop("action"),
            lambda e: e["receipt"]["action"].pop("type"),
            lambda e: e.pop("content"),
            lambda e: e.update(content=None),
            lambda e: e.update(content=["From: a@example.com"]),
            lambda e: e.update(receipt="PASS"),
            lambda e: e.update(mail=None),
            lambda e: e["receipt"].update(action=None),
        ],
        ids=[
            "no-mail",
            "no-receipt",
            "no-action",
            "no-action-type",
            "no-content",
            "null-content",
            "list-content",
            "string-receipt",
            "null-mail",
            "null-action",
        ],
    )
    def test_missing_or_wrong_fields(self, webhook_client, inbound_events, change):
        ses_event = ses_received_event()
        change(ses_event)
        assert post_ses_event(webhook_client, ses_event).status_code == 400
        assert inbound_events.calls == []

    @pytest.mark.parametrize(
        "content", ["not base64!", "QUJDRA", "ümlaut", None], ids=repr
    )
    def test_bad_base64_content(self, webhook_client, inbound_events, content):
        action = {"type": "SNS", "topicArn": TOPIC_ARN, "encoding": "BASE64"}
        ses_event = ses_received_event(action=action, content=content)
        assert post_ses_event(webhook_client, ses_event).status_code == 400
        assert inbound_events.calls == []


# ---------------------------------------------------------------------------
# Authentication and SNS consistency checks


class TestAuthentication:
    @override_settings(ANYMAIL=SECRET)
    def test_correct_credentials(self, webhook_client, inbound_events):
        response = post_ses_event(
            webhook_client, ses_received_event(), HTTP_AUTHORIZATION=AUTH
        )
        assert response.status_code == 200
        assert inbound_events.event.message.text == EXPECTED_TEXT

    @override_settings(ANYMAIL=SECRET)
    @pytest.mark.parametrize(
        "authorization",
        [
            basic_auth_header("sns-user:wrong"),
            basic_auth_header("other:s3cret"),
            "Bearer sns-user:s3cret",
            "Basic not-base64!!",
        ],
    )
    def test_wrong_credentials(
        self,
        webhook_client,
        inbound_events,
        security_log,
        boto_session,
        authorization,
    ):
        response = post_ses_event(
            webhook_client, s3_event(), HTTP_AUTHORIZATION=authorization
        )
        assert response.status_code == 400
        assert inbound_events.calls == []
        boto_session.assert_not_called()  # nothing downloaded
        assert security_messages(security_log) == [
            "Missing or invalid basic auth in Anymail Amazon SES webhook"
        ]

    @override_settings(ANYMAIL=SECRET)
    @pytest.mark.parametrize("authorization", [None, ""])
    def test_no_credentials_get_a_401_challenge(
        self, webhook_client, inbound_events, security_log, boto_session, authorization
    ):
        extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
        response = post_ses_event(webhook_client, s3_event(), **extra)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Basic realm="Anymail WEBHOOK_SECRET"'
        assert inbound_events.calls == []
        boto_session.assert_not_called()
        assert security_messages(security_log) == []

    @override_settings(ANYMAIL=SECRET)
    def test_challenge_comes_before_parsing(self, webhook_client, inbound_events):
        response = post_sns(webhook_client, b"not json at all")
        assert response.status_code == 401

    def test_as_view_basic_auth(self, inbound_events):
        view = AmazonSESInboundWebhookView.as_view(basic_auth=["route:creds"])
        factory = RequestFactory()
        body = json.dumps(sns_notification(ses_received_event()))
        headers = dict(
            HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
            HTTP_X_AMZ_SNS_MESSAGE_ID=SNS_MESSAGE_ID,
        )
        request = factory.post(URL, body, content_type="text/plain", **headers)
        assert view(request).status_code == 401
        request = factory.post(
            URL,
            body,
            content_type="text/plain",
            HTTP_AUTHORIZATION=basic_auth_header("route:creds"),
            **headers,
        )
        assert view(request).status_code == 200
        assert inbound_events.event.message.subject == "Résumé for the café ☕"

    def test_message_type_header_must_match(
        self, webhook_client, inbound_events, security_log
    ):
        response = post_ses_event(
            webhook_client,
            ses_received_event(),
            HTTP_X_AMZ_SNS_MESSAGE_TYPE="SubscriptionConfirmation",
        )
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert security_messages(security_log) == [
            'SNS header "x-amz-sns-message-type: SubscriptionConfirmation"'
            ' doesn\'t match body "Type": "Notification"'
        ]

    def test_message_id_header_must_match(
        self, webhook_client, inbound_events, security_log
    ):
        response = post_ses_event(
            webhook_client, ses_received_event(), HTTP_X_AMZ_SNS_MESSAGE_ID="other-id"
        )
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert security_messages(security_log) == [
            'SNS header "x-amz-sns-message-id: other-id"'
            f' doesn\'t match body "MessageId": "{SNS_MESSAGE_ID}"'
        ]

    def test_missing_sns_headers(self, webhook_client, inbound_events, security_log):
        body = json.dumps(sns_notification(ses_received_event()))
        response = webhook_client.post(URL, body, content_type="text/plain")
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert security_messages(security_log) == [
            'SNS header "x-amz-sns-message-type: <<missing>>"'
            ' doesn\'t match body "Type": "Notification"'
        ]

    def test_signature_is_not_checked(self, webhook_client, inbound_events):
        body = sns_notification(ses_received_event())
        body["Signature"] = "not even base64"
        body["SigningCertURL"] = "https://attacker.example/cert.pem"
        assert post_sns(webhook_client, body).status_code == 200
        assert len(inbound_events.calls) == 1


class TestInsecureWarning:
    def test_warns_without_webhook_secret(self, webhook_client, inbound_events):
        with warnings.catch_warnings():
            warnings.simplefilter("always", AnymailInsecureWebhookWarning)
            with pytest.warns(AnymailInsecureWebhookWarning, match="WEBHOOK_SECRET"):
                response = post_ses_event(webhook_client, ses_received_event())
        assert response.status_code == 200
        assert len(inbound_events.calls) == 1

    @override_settings(ANYMAIL=SECRET)
    def test_no_warning_with_webhook_secret(self, webhook_client):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_ses_event(
                webhook_client, ses_received_event(), HTTP_AUTHORIZATION=AUTH
            )
        assert response.status_code == 200


class TestSNSSubscription:
    @override_settings(ANYMAIL=SECRET)
    def test_auto_confirm(self, webhook_client, inbound_events, boto_clients):
        topic_arn = "arn:aws:sns:eu-west-3:111122223333:SES_Inbound"
        body = sns_envelope(
            "SubscriptionConfirmation",
            TopicArn=topic_arn,
            Token="token-xyz",
            Message="You have chosen to subscribe to the topic.",
            SubscribeURL="https://sns.eu-west-3.amazonaws.com/?Action=Confirm",
        )
        response = post_sns(webhook_client, body, HTTP_AUTHORIZATION=AUTH)
        assert response.status_code == 200
        assert inbound_events.calls == []
        boto_clients["sns"].confirm_subscription.assert_called_once_with(
            TopicArn=topic_arn, Token="token-xyz", AuthenticateOnUnsubscribe="true"
        )
        boto_clients["sns"].close.assert_called_once_with()

    def test_unexpected_confirmation_without_secret(
        self, webhook_client, inbound_events, security_log, boto_session
    ):
        body = sns_envelope("SubscriptionConfirmation", Token="token-xyz")
        assert post_sns(webhook_client, body).status_code == 400
        boto_session.assert_not_called()
        assert security_messages(security_log) == [
            "Anymail received an unexpected SubscriptionConfirmation request for"
            f" Amazon SNS topic '{TOPIC_ARN}'. (Anymail can automatically confirm"
            " SNS subscriptions if you set a WEBHOOK_SECRET and use that in your"
            " SNS notification url. Or you can manually confirm this subscription"
            " in the SNS dashboard with token 'token-xyz'.)"
        ]

    def test_unsubscribe_confirmation_ignored(
        self, webhook_client, inbound_events, boto_session
    ):
        body = sns_envelope("UnsubscribeConfirmation", Token="token-xyz")
        assert post_sns(webhook_client, body).status_code == 200
        assert inbound_events.calls == []
        boto_session.assert_not_called()


# ---------------------------------------------------------------------------
# The view


class TestView:
    @override_settings(ANYMAIL=SECRET)
    def test_head_is_200_without_validation(self, webhook_client, inbound_events):
        response = webhook_client.head(URL)
        assert response.status_code == 200
        assert response.content == b""
        assert inbound_events.calls == []

    def test_get_not_allowed(self, webhook_client):
        logger = logging.getLogger("django.request")
        logger.disabled = True
        try:
            response = webhook_client.get(URL)
        finally:
            logger.disabled = False
        assert response.status_code == 405
        assert response["Allow"] == "POST, HEAD, OPTIONS"

    def test_class_structure(self):
        assert issubclass(AmazonSESInboundWebhookView, AmazonSESBaseWebhookView)
        assert AmazonSESInboundWebhookView.esp_name == "Amazon SES"
        assert AmazonSESInboundWebhookView.signal is inbound
        assert issubclass(AnymailBotoClientAPIError, AnymailAPIError)
        assert issubclass(AnymailBotoClientAPIError, ClientError)
        assert issubclass(AnymailBotoClientSecurityError, AnymailAPIError)
        assert issubclass(
            AnymailBotoClientSecurityError, S3EncryptionClientSecurityError
        )

    @pytest.mark.parametrize(
        "kwarg",
        [{"download_chunk_size": 10}, {"inbound_kms_key_id": KMS_KEY_ARN}],
        ids=lambda kwarg: next(iter(kwarg)),
    )
    def test_inbound_settings_are_not_as_view_kwargs(self, kwarg):
        with pytest.raises(TypeError, match="only accepts arguments"):
            AmazonSESInboundWebhookView.as_view(**kwarg)

    def test_shared_settings_as_view_kwargs(self, boto_clients, s3_object):
        s3_object(SIMPLE_MESSAGE.encode("ascii"))
        view = AmazonSESInboundWebhookView.as_view(
            session_params={"profile_name": "route"},
            client_params={"region_name": "ap-southeast-2"},
        )
        request = RequestFactory().post(
            URL,
            json.dumps(sns_notification(s3_event())),
            content_type="text/plain",
            HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
            HTTP_X_AMZ_SNS_MESSAGE_ID=SNS_MESSAGE_ID,
        )
        assert view(request).status_code == 200
        instance = view.view_class(**view.view_initkwargs)
        assert instance.session_params == {"profile_name": "route"}
        assert instance.download_chunk_size == 65536
        assert instance.kms_key_id is None

    def test_receiver_exception_propagates(self, webhook_client):
        def receiver(**kwargs):
            raise RuntimeError("receiver failed")

        inbound.connect(receiver, weak=False)
        try:
            with pytest.raises(RuntimeError, match="receiver failed"):
                post_ses_event(webhook_client, ses_received_event())
        finally:
            inbound.disconnect(receiver)

    @pytest.mark.parametrize("method", ["post", "head"])
    def test_without_boto3(self, webhook_client, method):
        with (
            mock.patch.object(amazon_ses_webhooks, "boto3", None),
            pytest.raises(AnymailImproperlyInstalled, match="boto3"),
        ):
            getattr(webhook_client, method)(URL)


class TestServerSideErrorsAreNotMalformedPayloads:
    """Errors calling AWS are 500s (SNS retries), never "malformed payload" 400s."""

    def test_s3_read_failure_midstream(self, webhook_client, s3_object, inbound_events):
        s3_object(SIMPLE_MESSAGE.encode("ascii"), fail_with=ValueError("stream broke"))
        with pytest.raises(AnymailAPIError, match="Couldn't download S3 object"):
            post_ses_event(webhook_client, s3_event())
        assert inbound_events.calls == []

    def test_invalid_client_settings(self, webhook_client, inbound_events):
        # real boto3: an unknown Config option is a TypeError from botocore
        with (
            override_settings(
                ANYMAIL={"AMAZON_SES_CLIENT_PARAMS": {"config": {"bogus_option": 1}}}
            ),
            pytest.raises(AnymailAPIError, match="Couldn't download S3 object"),
        ):
            post_ses_event(webhook_client, s3_event())
        assert inbound_events.calls == []

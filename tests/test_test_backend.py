"""anymail.backends.test.EmailBackend (spec 8.1)."""

import warnings
from datetime import datetime, timezone

import pytest
from django.core import mail
from django.core.mail import EmailMessage

from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.backends.test import TestPayload
from anymail.exceptions import (
    AnymailAPIError,
    AnymailError,
    AnymailRecipientsRefused,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailRecipientStatus
from anymail.signals import post_send
from anymail.utils import Attachment, EmailAddress

from .messages import make_message


@pytest.fixture
def backend():
    return AnymailTestBackend()


class TestOutbox:
    def test_esp_name(self):
        assert AnymailTestBackend.esp_name == "Test"

    def test_creates_outbox(self, monkeypatch):
        monkeypatch.delattr(mail, "outbox", raising=False)
        AnymailTestBackend()
        assert mail.outbox == []

    def test_keeps_existing_outbox(self):
        existing = mail.outbox
        existing.append("already here")
        AnymailTestBackend()
        assert mail.outbox is existing
        assert mail.outbox == ["already here"]

    def test_appends_message_objects(self, backend):
        first = make_message()
        second = EmailMessage("Plain", "Body", "from@example.com", ["to@example.com"])
        assert backend.send_messages([first, second]) == 2
        assert len(mail.outbox) == 2
        assert mail.outbox[0] is first
        assert mail.outbox[1] is second

    def test_batch_is_one_item(self, backend):
        message = make_message(
            to=["a@example.com", "b@example.com", "c@example.com"],
            merge_data={},
        )
        backend.send_messages([message])
        assert mail.outbox == [message]


class TestParams:
    def test_plain_message(self, backend):
        message = make_message()
        backend.send_messages([message])
        assert message.anymail_test_params == {
            "from": EmailAddress("", "from@example.com"),
            "to": [EmailAddress("", "to@example.com")],
            "cc": [],
            "bcc": [],
            "reply_to": [],
            "subject": "Subject",
            "text_body": "Body",
            "is_batch_send": False,
        }

    def test_plain_django_message_empty_body(self, backend):
        message = EmailMessage(to=["to@example.com"])
        backend.send_messages([message])
        assert message.anymail_test_params == {
            "from": EmailAddress("", "from@example.com"),  # DEFAULT_FROM_EMAIL
            "to": [EmailAddress("", "to@example.com")],
            "cc": [],
            "bcc": [],
            "reply_to": [],
            "subject": "",
            "text_body": "",
            "is_batch_send": False,
        }

    def test_everything(self, backend):
        send_at = datetime(2022, 10, 11, 12, 13, 14, tzinfo=timezone.utc)
        message = make_message(
            from_email="From Name <from@example.com>",
            to=["To <to@example.com>"],
            cc=["cc@example.com"],
            bcc=["bcc@example.com"],
            reply_to=["reply@example.com"],
            headers={"X-Custom": "custom"},
            envelope_sender="bounce@example.com",
            metadata={"user_id": 12},
            send_at=send_at,
            tags=["tag1", "tag2"],
            track_clicks=True,
            track_opens=False,
            template_id="welcome",
            merge_data={"to@example.com": {"name": "To"}},
            merge_global_data={"company": "Example"},
            merge_headers={"to@example.com": {"X-Merge": "m"}},
            merge_metadata={"to@example.com": {"order": 1}},
            esp_extra={"custom_param": "value", "nested": {"a": 1}},
        )
        message.attach_alternative("<p>html</p>", "text/html")
        message.attach_alternative("amp", "text/x-amp-html")
        message.attach("file.txt", "content", "text/plain")
        backend.send_messages([message])
        params = message.anymail_test_params
        attachments = params.pop("attachments")
        assert params == {
            "from": EmailAddress("From Name", "from@example.com"),
            "to": [EmailAddress("To", "to@example.com")],
            "cc": [EmailAddress("", "cc@example.com")],
            "bcc": [EmailAddress("", "bcc@example.com")],
            "reply_to": [EmailAddress("", "reply@example.com")],
            "subject": "Subject",
            "extra_headers": {"X-Custom": "custom"},
            "text_body": "Body",
            "html_body": "<p>html</p>",
            "alternatives": [("amp", "text/x-amp-html")],
            "envelope_sender": "bounce@example.com",
            "metadata": {"user_id": 12},
            "send_at": send_at,
            "tags": ["tag1", "tag2"],
            "track_clicks": True,
            "track_opens": False,
            "template_id": "welcome",
            "merge_data": {"to@example.com": {"name": "To"}},
            "merge_global_data": {"company": "Example"},
            "merge_headers": {"to@example.com": {"X-Merge": "m"}},
            "merge_metadata": {"to@example.com": {"order": 1}},
            "custom_param": "value",
            "nested": {"a": 1},
            "is_batch_send": True,
        }
        (attachment,) = attachments
        assert isinstance(attachment, Attachment)
        assert (attachment.name, attachment.content, attachment.mimetype) == (
            "file.txt",
            "content",
            "text/plain",
        )

    def test_param_types(self, backend):
        message = make_message(envelope_sender="Bounce <bounce@example.com>")
        backend.send_messages([message])
        params = message.anymail_test_params
        assert isinstance(params["from"], EmailAddress)
        assert isinstance(params["to"], list)
        assert params["envelope_sender"] == "bounce@example.com"
        assert type(params["envelope_sender"]) is str
        assert type(params["is_batch_send"]) is bool

    def test_esp_extra_can_override_params(self, backend):
        message = make_message(esp_extra={"subject": "overridden", "is_batch_send": 1})
        backend.send_messages([message])
        params = message.anymail_test_params
        assert params["subject"] == "overridden"
        # is_batch_send is always computed last
        assert params["is_batch_send"] is False

    def test_extra_headers_only_special(self, backend):
        message = make_message(headers={"Reply-To": "r@example.com"})
        backend.send_messages([message])
        assert "extra_headers" not in message.anymail_test_params

    def test_extra_headers_is_case_insensitive(self, backend):
        message = make_message(headers={"X-Custom": "v"})
        backend.send_messages([message])
        headers = message.anymail_test_params["extra_headers"]
        assert headers == {"X-Custom": "v"}
        assert headers == {"x-custom": "v"}
        assert headers["X-CUSTOM"] == "v"

    def test_alternatives_and_attachments_keys_only_when_added(self, backend):
        message = make_message()
        message.attach_alternative("<p>html</p>", "text/html")
        backend.send_messages([message])
        params = message.anymail_test_params
        assert params["html_body"] == "<p>html</p>"
        assert "alternatives" not in params
        assert "attachments" not in params

    def test_non_text_alternative(self, backend):
        message = make_message()
        message.attach_alternative("{}", "application/json")
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value) == (
            "Test does not support alternative part with type 'application/json'"
        )

    def test_spoofed_to_header(self, backend):
        message = make_message(headers={"To": "spoof@example.com"})
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value) == "Test does not support spoofing `To` header"

    def test_params_set_before_outbox_append(self, backend, monkeypatch):
        seen = []

        class SpyList(list):
            def append(self, message):
                seen.append(dict(message.anymail_test_params))
                super().append(message)

        monkeypatch.setattr(mail, "outbox", SpyList())
        message = make_message()
        backend.send_messages([message])
        assert seen == [message.anymail_test_params]


class TestResponses:
    def test_default_response(self, backend):
        message = make_message(
            to=["To <to@example.com>"], cc=["cc@example.com"], bcc=["bcc@example.com"]
        )
        backend.send_messages([message])
        status = message.anymail_status
        assert status.status == {"sent"}
        assert status.message_id == 0
        assert isinstance(status.message_id, int)
        assert set(status.recipients) == {
            "to@example.com",
            "cc@example.com",
            "bcc@example.com",
        }
        assert status.recipients["to@example.com"].message_id == 0
        assert status.recipients["to@example.com"].status == "sent"
        assert isinstance(status.esp_response, dict)
        assert list(status.esp_response) == ["recipient_status"]
        assert status.esp_response["recipient_status"] == status.recipients

    def test_message_ids_are_outbox_positions(self, backend):
        messages = [make_message(), make_message(), make_message()]
        backend.send_messages(messages)
        assert [m.anymail_status.message_id for m in messages] == [0, 1, 2]
        other = make_message()
        AnymailTestBackend().send_messages([other])
        assert other.anymail_status.message_id == 3

    def test_resend_keeps_first_index(self, backend):
        message = make_message()
        other = make_message()
        backend.send_messages([message, other])
        backend.send_messages([message])
        assert mail.outbox == [message, other, message]
        assert message.anymail_status.message_id == 0

    def test_preexisting_outbox_items_count(self, backend):
        mail.outbox.extend(["x", "y"])
        message = make_message()
        backend.send_messages([message])
        assert message.anymail_status.message_id == 2

    def test_api_error_response_raised_after_recording(self, backend):
        message = make_message()
        error = AnymailAPIError("Simulated failure")
        message.anymail_test_response = error
        with pytest.raises(AnymailAPIError) as excinfo:
            backend.send_messages([message])
        assert excinfo.value is error
        assert mail.outbox == [message]
        assert "subject" in message.anymail_test_params
        assert message.anymail_status.esp_response is None

    def test_custom_response(self, backend):
        message = make_message(to=["a@example.com", "b@example.com"])
        response = {
            "recipient_status": {
                "a@example.com": AnymailRecipientStatus("id-a", "queued"),
                "b@example.com": AnymailRecipientStatus("id-b", "failed"),
            },
            "extra": "kept",
        }
        message.anymail_test_response = response
        assert backend.send_messages([message]) == 1
        status = message.anymail_status
        assert status.esp_response is response
        assert status.status == {"queued", "failed"}
        assert status.message_id == {"id-a", "id-b"}

    def test_unparsable_response(self, backend):
        message = make_message()
        message.anymail_test_response = {"no": "recipient_status"}
        with pytest.raises(AnymailAPIError) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value) == "Unparsable test response"
        assert excinfo.value.email_message is message
        assert excinfo.value.backend is backend

    def test_rejected_response_refused_after_post_send(self, backend):
        events = []

        def handler(status, **kwargs):
            events.append(("post_send", set(status.status)))

        post_send.connect(handler)
        try:
            message = make_message()
            message.anymail_test_response = {
                "recipient_status": {
                    "to@example.com": AnymailRecipientStatus("1", "rejected")
                }
            }
            with pytest.raises(AnymailRecipientsRefused):
                backend.send_messages([message])
        finally:
            post_send.disconnect(handler)
        assert events == [("post_send", {"rejected"})]


class TestPayloadClass:
    def test_default(self, backend):
        assert backend.payload_class is TestPayload

    def test_consumed_not_forwarded(self):
        from django.core.mail.backends.base import BaseEmailBackend

        received = []
        original = BaseEmailBackend.__init__

        def spy(self, *args, **kwargs):
            received.append((args, kwargs))
            original(self, *args, **kwargs)

        class Payload(TestPayload):
            pass

        BaseEmailBackend.__init__ = spy
        try:
            backend = AnymailTestBackend(payload_class=Payload)
        finally:
            BaseEmailBackend.__init__ = original
        assert backend.payload_class is Payload
        assert received == [((), {})]

    def test_instantiated_with_keywords(self):
        created = []

        class KeywordOnlyPayload(TestPayload):
            def __init__(self, *, backend, message, defaults):
                created.append((backend, message, defaults))
                super().__init__(message, defaults, backend)

        backend = AnymailTestBackend(
            payload_class=KeywordOnlyPayload, send_defaults={"tags": ["d"]}
        )
        message = make_message()
        assert backend.send_messages([message]) == 1
        assert created == [(backend, message, {"tags": ["d"]})]

    def test_subclass_setter_called_for_empty_cc(self):
        calls = []

        class CcPayload(TestPayload):
            def set_cc(self, emails):
                calls.append(list(emails))
                super().set_cc(emails)

        backend = AnymailTestBackend(payload_class=CcPayload)
        message = make_message()
        backend.send_messages([message])
        assert calls == [[]]
        assert message.anymail_test_params["cc"] == []

        message = make_message(cc=["cc@example.com"])
        backend.send_messages([message])
        assert calls[1] == [EmailAddress("", "cc@example.com")]
        assert "cc@example.com" in message.anymail_status.recipients

    def test_subclass_send_at_converter(self):
        # send_at's converter is the payload's aware_datetime method, as overridden
        class UtcPayload(TestPayload):
            def aware_datetime(self, value):
                return (self.esp_name, value)

        backend = AnymailTestBackend(payload_class=UtcPayload)
        message = make_message(send_at=1700000000)
        backend.send_messages([message])
        assert message.anymail_test_params["send_at"] == ("Test", 1700000000)

    def test_is_batch_in_setter_fails(self):
        class EarlyBatchPayload(TestPayload):
            def set_cc(self, emails):
                self.is_batch()
                super().set_cc(emails)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            backend = AnymailTestBackend(
                payload_class=EarlyBatchPayload, fail_silently=True
            )
        with pytest.raises(AssertionError) as excinfo:
            backend.send_messages([make_message()])
        assert str(excinfo.value) == (
            "Cannot call is_batch before all attributes processed"
        )
        assert not isinstance(excinfo.value, AnymailError)
        assert mail.outbox == []


class TestSettings:
    def test_test_prefix(self, settings):
        settings.ANYMAIL = {
            "TEST_SEND_DEFAULTS": {"tags": ["test-default"]},
            "TEST_IDNA_ENCODER": "idna2003",
        }
        backend = AnymailTestBackend()
        message = make_message()
        backend.send_messages([message])
        assert message.anymail_test_params["tags"] == ["test-default"]
        assert backend.idna_encode("faß.example") == "fass.example"

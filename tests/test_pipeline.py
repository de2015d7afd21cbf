"""The send pipeline (spec 5): send_messages, signals, status lifecycle,
fail_silently, unsupported features, and extra headers / body / alternatives
routing."""

import warnings

import pytest
from django.core import mail
from django.core.mail import EmailMessage

from anymail.backends.base import AnymailBaseBackend, BasePayload
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.backends.test import TestPayload
from anymail.exceptions import (
    AnymailAPIError,
    AnymailCancelSend,
    AnymailConfigurationError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailRecipientStatus, AnymailStatus
from anymail.signals import post_send, pre_send
from anymail.utils import EmailAddress, last

from .messages import make_message


def quiet_backend(cls=AnymailTestBackend, **kwargs):
    """A backend constructed with fail_silently=True, without the warning noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return cls(fail_silently=True, **kwargs)


class CountingBackend(AnymailTestBackend):
    """Test backend that records open/close calls and pretends to connect."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []
        self.connected = False

    def open(self):
        self.calls.append("open")
        if self.connected:
            return False
        self.connected = True
        return True

    def close(self):
        self.calls.append("close")
        self.connected = False


@pytest.fixture
def backend():
    return AnymailTestBackend()


@pytest.fixture
def connect_signal():
    """Connect receivers for the test only: connect_signal(signal, func)."""
    connected = []

    def connect(signal, func):
        signal.connect(func, weak=False)
        connected.append((signal, func))
        return func

    yield connect
    for signal, func in connected:
        signal.disconnect(func)


def rejected_response(*emails, status="rejected"):
    return {
        "recipient_status": {
            email: AnymailRecipientStatus(message_id=None, status=status)
            for email in emails
        }
    }


# ---------------------------------------------------------------------------
# send_messages


class TestSendMessages:
    @pytest.mark.parametrize("messages", [[], None])
    def test_nothing_to_send(self, messages):
        backend = CountingBackend()
        assert backend.send_messages(messages) == 0
        assert backend.calls == []

    def test_counts_sent_messages(self, backend):
        messages = [make_message(), make_message(), make_message()]
        assert backend.send_messages(messages) == 3
        assert mail.outbox == messages

    def test_accepts_any_iterable(self, backend):
        messages = (make_message(), make_message())
        assert backend.send_messages(messages) == 2

    def test_cancelled_not_counted(self, backend, connect_signal):
        def cancel_second(sender, message, esp_name, **kwargs):
            if message.subject == "cancel me":
                raise AnymailCancelSend("nope")

        connect_signal(pre_send, cancel_second)
        messages = [make_message(), make_message(subject="cancel me"), make_message()]
        assert backend.send_messages(messages) == 2
        assert mail.outbox == [messages[0], messages[2]]

    def test_opens_and_closes_once(self):
        backend = CountingBackend()
        assert backend.send_messages([make_message(), make_message()]) == 2
        assert backend.calls == ["open", "close"]

    def test_does_not_close_connection_it_did_not_open(self):
        backend = CountingBackend()
        backend.open()
        backend.calls.clear()
        assert backend.send_messages([make_message()]) == 1
        assert backend.send_messages([make_message()]) == 1
        assert backend.calls == ["open", "open"]
        assert backend.connected

    def test_closes_on_error(self):
        backend = CountingBackend()
        message = make_message()
        message.anymail_test_response = AnymailAPIError("boom")
        with pytest.raises(AnymailAPIError):
            backend.send_messages([message])
        assert backend.calls == ["open", "close"]

    def test_closes_on_non_anymail_error(self):
        backend = CountingBackend()
        message = make_message()
        message.reply_to = "bare string"
        with pytest.raises(TypeError):
            backend.send_messages([message])
        assert backend.calls == ["open", "close"]

    def test_closes_on_suppressed_error(self):
        backend = quiet_backend(CountingBackend)
        message = make_message()
        message.anymail_test_response = AnymailAPIError("boom")
        assert backend.send_messages([message]) == 0
        assert backend.calls == ["open", "close"]

    def test_error_stops_sending(self, backend):
        bad = make_message()
        bad.anymail_test_response = AnymailAPIError("boom")
        after = make_message()
        with pytest.raises(AnymailAPIError):
            backend.send_messages([bad, after])
        assert mail.outbox == [bad]
        assert after.anymail_status.status is None

    def test_no_recipients_skipped(self, backend):
        message = EmailMessage("Subject", "Body", "from@example.com")
        assert backend.send_messages([message]) == 0
        assert mail.outbox == []
        assert message.anymail_status.status is None

    def test_django_send_without_recipients(self, backend, monkeypatch):
        # Django itself doesn't call any backend for a message without recipients
        monkeypatch.setattr(
            AnymailTestBackend, "send_messages", lambda *args: pytest.fail("called")
        )
        message = EmailMessage("Subject", "Body", "from@example.com")
        assert message.send() == 0
        assert mail.outbox == []

    def test_only_cc_or_bcc_is_fine(self, backend):
        message = make_message(to=[], bcc=["bcc@example.com"])
        assert backend.send_messages([message]) == 1
        assert message.anymail_status.recipients["bcc@example.com"].status == "sent"


# ---------------------------------------------------------------------------
# Signals


class TestPreSend:
    def test_args(self, backend, connect_signal):
        received = []

        def handler(**kwargs):
            received.append(kwargs)
            # a fresh status is already attached
            assert kwargs["message"].anymail_status.status is None

        connect_signal(pre_send, handler)
        message = make_message()
        backend.send_messages([message])
        assert len(received) == 1
        kwargs = received[0]
        assert kwargs["sender"] is AnymailTestBackend
        assert kwargs["message"] is message
        assert kwargs["esp_name"] == "Test"
        assert set(kwargs) == {"signal", "sender", "message", "esp_name"}

    def test_sender_is_concrete_subclass(self, connect_signal):
        class MyBackend(AnymailTestBackend):
            pass

        senders = []
        connect_signal(pre_send, lambda sender, **kwargs: senders.append(sender))
        connect_signal(post_send, lambda sender, **kwargs: senders.append(sender))
        MyBackend().send_messages([make_message()])
        assert senders == [MyBackend, MyBackend]

    def test_fresh_status_for_each_attempt(self, backend, connect_signal):
        seen = []

        def handler(message, **kwargs):
            seen.append(message.anymail_status)
            assert message.anymail_status.status is None
            assert message.anymail_status.recipients == {}

        message = make_message()
        backend.send_messages([message])
        first_status = message.anymail_status
        assert first_status.status == {"sent"}
        connect_signal(pre_send, handler)
        backend.send_messages([message])
        assert seen[0] is not first_status
        assert message.anymail_status is seen[0]

    def test_modifications_are_used(self, backend, connect_signal):
        def modify(message, **kwargs):
            message.to = ["changed@example.com"]
            message.subject = "Changed subject"
            message.tags = ["added"]
            message.body = "Changed body"

        connect_signal(pre_send, modify)
        message = make_message()
        assert backend.send_messages([message]) == 1
        params = message.anymail_test_params
        assert params["to"] == [EmailAddress("", "changed@example.com")]
        assert params["subject"] == "Changed subject"
        assert params["tags"] == ["added"]
        assert params["text_body"] == "Changed body"
        assert list(message.anymail_status.recipients) == ["changed@example.com"]

    def test_cancel(self, backend, connect_signal):
        post_send_calls = []

        def cancel(**kwargs):
            raise AnymailCancelSend("whatever")

        connect_signal(pre_send, cancel)
        connect_signal(post_send, lambda **kwargs: post_send_calls.append(kwargs))
        message = make_message()
        assert backend.send_messages([message]) == 0
        assert mail.outbox == []
        assert not hasattr(message, "anymail_test_params")
        assert post_send_calls == []
        status = message.anymail_status
        assert (status.status, status.message_id, status.recipients) == (
            None,
            None,
            {},
        )
        assert status.esp_response is None

    def test_removing_all_recipients_skips(self, backend, connect_signal):
        post_send_calls = []

        def remove_recipients(message, **kwargs):
            message.to = []
            message.cc = []

        connect_signal(pre_send, remove_recipients)
        connect_signal(post_send, lambda **kwargs: post_send_calls.append(kwargs))
        message = make_message(cc=["cc@example.com"])
        assert backend.send_messages([message]) == 0
        assert mail.outbox == []
        assert post_send_calls == []
        assert message.anymail_status.status is None

    def test_other_exception_propagates(self, backend, connect_signal):
        calls = []

        def first(**kwargs):
            calls.append("first")
            raise ValueError("receiver bug")

        def second(**kwargs):
            calls.append("second")

        connect_signal(pre_send, first)
        connect_signal(pre_send, second)
        with pytest.raises(ValueError, match="receiver bug"):
            quiet_backend().send_messages([make_message()])
        assert calls == ["first"]  # not robust
        assert mail.outbox == []

    def test_cancel_only_affects_its_message(self, backend, connect_signal):
        def cancel_tagged(message, **kwargs):
            if message.tags == ["cancel"]:
                raise AnymailCancelSend()

        connect_signal(pre_send, cancel_tagged)
        keep = make_message()
        cancelled = make_message(tags=["cancel"])
        assert backend.send_messages([cancelled, keep]) == 1
        assert mail.outbox == [keep]


class TestPostSend:
    def test_args(self, backend, connect_signal):
        received = []

        def handler(**kwargs):
            received.append(kwargs)
            # runs after the response was parsed
            assert kwargs["status"].status == {"sent"}

        connect_signal(post_send, handler)
        message = make_message()
        backend.send_messages([message])
        (kwargs,) = received
        assert kwargs["sender"] is AnymailTestBackend
        assert kwargs["message"] is message
        assert kwargs["status"] is message.anymail_status
        assert kwargs["esp_name"] == "Test"
        assert set(kwargs) == {"signal", "sender", "message", "status", "esp_name"}

    def test_robust_reraises_first_error(self, backend, connect_signal):
        calls = []

        def first(**kwargs):
            calls.append("first")
            raise ValueError("first error")

        def second(**kwargs):
            calls.append("second")
            raise KeyError("second error")

        def third(**kwargs):
            calls.append("third")

        for handler in (first, second, third):
            connect_signal(post_send, handler)
        message = make_message()
        with pytest.raises(ValueError, match="first error"):
            backend.send_messages([message])
        assert calls == ["first", "second", "third"]
        # the message was sent before the error
        assert mail.outbox == [message]
        assert message.anymail_status.status == {"sent"}

    def test_receiver_error_not_suppressed_by_fail_silently(self, connect_signal):
        def fails(**kwargs):
            raise RuntimeError("post_send bug")

        connect_signal(post_send, fails)
        with pytest.raises(RuntimeError, match="post_send bug"):
            quiet_backend().send_messages([make_message()])

    def test_anymail_error_from_receiver_suppressed_by_fail_silently(
        self, connect_signal
    ):
        def fails(**kwargs):
            raise AnymailError("from receiver")

        connect_signal(post_send, fails)
        assert quiet_backend().send_messages([make_message()]) == 0

    def test_fires_before_recipients_refused(self, backend, connect_signal):
        statuses = []
        connect_signal(
            post_send, lambda status, **kwargs: statuses.append(set(status.status))
        )
        message = make_message()
        message.anymail_test_response = rejected_response("to@example.com")
        with pytest.raises(AnymailRecipientsRefused):
            backend.send_messages([message])
        assert statuses == [{"rejected"}]

    def test_receiver_error_preempts_recipients_refused(self, backend, connect_signal):
        def fails(**kwargs):
            raise ValueError("receiver")

        connect_signal(post_send, fails)
        message = make_message()
        message.anymail_test_response = rejected_response("to@example.com")
        with pytest.raises(ValueError, match="receiver"):
            backend.send_messages([message])

    def test_not_sent_after_api_error(self, backend, connect_signal):
        calls = []
        connect_signal(post_send, lambda **kwargs: calls.append(kwargs))
        message = make_message()
        message.anymail_test_response = AnymailAPIError("API failed")
        with pytest.raises(AnymailAPIError):
            backend.send_messages([message])
        assert calls == []

    def test_not_sent_after_unparsable_response(self, backend, connect_signal):
        calls = []
        connect_signal(post_send, lambda **kwargs: calls.append(kwargs))
        message = make_message()
        message.anymail_test_response = {"wrong": "shape"}
        with pytest.raises(AnymailAPIError) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value) == "Unparsable test response"
        assert calls == []
        # esp_response was recorded before parsing failed
        assert message.anymail_status.esp_response == {"wrong": "shape"}
        assert message.anymail_status.status is None

    def test_not_sent_after_payload_error(self, backend, connect_signal):
        calls = []
        connect_signal(post_send, lambda **kwargs: calls.append(kwargs))
        with pytest.raises(AnymailInvalidAddress):
            backend.send_messages([make_message(to=["invalid"])])
        assert calls == []


# ---------------------------------------------------------------------------
# Status lifecycle and recipients refused


class TestStatusLifecycle:
    def test_success(self, backend):
        message = make_message(cc=["cc@example.com"], bcc=["Bcc <bcc@example.com>"])
        backend.send_messages([message])
        status = message.anymail_status
        assert status.status == {"sent"}
        assert status.message_id == 0
        assert sorted(status.recipients) == [
            "bcc@example.com",
            "cc@example.com",
            "to@example.com",
        ]
        assert status.esp_response == {"recipient_status": status.recipients}

    @pytest.mark.parametrize(
        "problem",
        ["api_error", "unsupported", "invalid_address", "cancelled"],
    )
    def test_failures_leave_initial_status(self, connect_signal, problem):
        backend = quiet_backend()
        message = make_message()
        message.anymail_status.status = {"stale"}
        if problem == "api_error":
            message.anymail_test_response = AnymailAPIError("boom")
        elif problem == "unsupported":
            message.attach_alternative(b"...", "audio/mpeg")
        elif problem == "invalid_address":
            message.to = ["not an address"]
        else:

            def cancel(**kwargs):
                raise AnymailCancelSend()

            connect_signal(pre_send, cancel)
        assert backend.send_messages([message]) == 0
        status = message.anymail_status
        assert isinstance(status, AnymailStatus)
        assert status.status is None
        assert status.message_id is None
        assert status.recipients == {}
        assert status.esp_response is None

    def test_plain_email_message_gets_status(self, backend):
        message = EmailMessage(
            "Subject", "Body", "from@example.com", ["to@example.com"]
        )
        backend.send_messages([message])
        assert message.anymail_status.status == {"sent"}


class TestRecipientsRefused:
    @pytest.mark.parametrize(
        "statuses",
        [["rejected"], ["invalid"], ["rejected", "invalid"], []],
    )
    def test_all_refused(self, backend, statuses):
        emails = [f"r{index}@example.com" for index in range(len(statuses))]
        message = make_message(to=emails or ["to@example.com"])
        message.anymail_test_response = {
            "recipient_status": {
                email: AnymailRecipientStatus(None, status)
                for email, status in zip(emails, statuses, strict=True)
            }
        }
        with pytest.raises(AnymailRecipientsRefused) as excinfo:
            backend.send_messages([message])
        error = excinfo.value
        assert str(error) == "All message recipients were rejected or invalid"
        assert error.email_message is message
        assert isinstance(error.payload, TestPayload)
        assert error.response is message.anymail_test_response
        assert error.backend is backend
        # status is populated before raising
        assert message.anymail_status.status == set(statuses)
        assert message.anymail_status.esp_response is message.anymail_test_response

    @pytest.mark.parametrize("other", ["sent", "queued", "failed", "unknown"])
    def test_mixed_is_not_refused(self, backend, other):
        message = make_message(to=["a@example.com", "b@example.com"])
        message.anymail_test_response = {
            "recipient_status": {
                "a@example.com": AnymailRecipientStatus("1", "rejected"),
                "b@example.com": AnymailRecipientStatus("1", other),
            }
        }
        assert backend.send_messages([message]) == 1
        assert message.anymail_status.status == {"rejected", other}

    def test_ignore_recipient_status_kwarg(self):
        backend = AnymailTestBackend(ignore_recipient_status=True)
        assert backend.ignore_recipient_status is True
        message = make_message()
        message.anymail_test_response = rejected_response("to@example.com")
        assert backend.send_messages([message]) == 1
        assert message.anymail_status.status == {"rejected"}

    def test_ignore_recipient_status_setting(self, settings):
        settings.ANYMAIL = {"IGNORE_RECIPIENT_STATUS": True}
        backend = AnymailTestBackend()
        message = make_message()
        message.anymail_test_response = rejected_response(
            "to@example.com", status="invalid"
        )
        assert backend.send_messages([message]) == 1

    def test_fail_silently(self):
        backend = quiet_backend()
        refused = make_message()
        refused.anymail_test_response = rejected_response("to@example.com")
        fine = make_message()
        assert backend.send_messages([refused, fine]) == 1
        assert refused.anymail_status.status == {"rejected"}


# ---------------------------------------------------------------------------
# fail_silently


class TestFailSilently:
    def test_suppresses_anymail_errors_and_continues(self):
        backend = quiet_backend()
        assert backend.fail_silently is True
        api_error = make_message()
        api_error.anymail_test_response = AnymailAPIError("boom")
        unsupported = make_message()
        unsupported.attach_alternative("x", "audio/mpeg")
        invalid = make_message(to=["bogus"])
        ok = make_message()
        assert backend.send_messages([api_error, unsupported, invalid, ok]) == 1
        assert ok.anymail_status.status == {"sent"}

    @pytest.mark.parametrize(
        "error",
        [
            TypeError("programming error"),
            RuntimeError("runtime"),
            AnymailConfigurationError("config"),
        ],
    )
    def test_does_not_suppress_other_errors(self, connect_signal, error):
        def raise_it(**kwargs):
            raise error

        connect_signal(pre_send, raise_it)
        with pytest.raises(type(error)) as excinfo:
            quiet_backend().send_messages([make_message()])
        assert excinfo.value is error

    def test_type_error_from_message(self):
        message = make_message()
        message.reply_to = "bare@example.com"
        with pytest.raises(TypeError):
            quiet_backend().send_messages([message])


# ---------------------------------------------------------------------------
# Unsupported features (base payload defaults)


class MinimalPayload(BasePayload):
    """Implements only what every ESP payload must."""

    def init_payload(self):
        self.data = {"to": []}

    def set_from_email(self, email):
        self.data["from"] = email

    def add_recipient(self, recipient_type, email):
        self.data[recipient_type] = self.data.get(recipient_type, []) + [email]

    def set_subject(self, subject):
        self.data["subject"] = subject

    def set_text_body(self, body):
        self.data["text"] = body

    def set_html_body(self, body):
        self.data["html"] = body

    def add_attachment(self, attachment):
        self.data.setdefault("attachments", []).append(attachment)


class MinimalBackend(AnymailBaseBackend):
    esp_name = "Minimal ESP"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.posted = []

    def build_message_payload(self, message, defaults):
        return MinimalPayload(message, defaults, self)

    def post_to_esp(self, payload, message):
        self.posted.append(payload)
        return {"ok": True}

    def parse_recipient_status(self, response, payload, message):
        return {
            email.addr_spec: AnymailRecipientStatus("id", "queued")
            for key in ("to", "cc", "bcc")
            for email in payload.data.get(key, [])
        }


def unsupported_cases():
    def alternative(mimetype, body_subtype="plain", body="Body"):
        def setup(message):
            message.content_subtype = body_subtype
            message.body = body
            message.attach_alternative("alt", mimetype)

        return setup

    def attr(name, value):
        return lambda message: setattr(message, name, value)

    def header(name, value):
        return lambda message: message.extra_headers.update({name: value})

    return [
        ("multiple from emails", attr("from_email", "a@example.com, b@example.com")),
        ("reply_to", attr("reply_to", ["reply@example.com"])),
        ("reply_to", header("Reply-To", "reply@example.com")),
        ("extra_headers", header("X-Custom", "value")),
        ("multiple plaintext parts", alternative("text/plain")),
        ("multiple html parts", alternative("text/html", "html", "<p>Body</p>")),
        (
            "alternative part with type 'text/x-amp-html'",
            alternative("text/x-amp-html"),
        ),
        (
            "alternative part with type 'text/calendar'",
            attr("content_subtype", "calendar"),
        ),
        ("spoofing `To` header", header("To", "Someone <spoof@example.com>")),
        ("envelope_sender", attr("envelope_sender", "bounce@example.com")),
        ("envelope_sender", header("From", "Header From <header@example.com>")),
        ("metadata", attr("metadata", {"a": 1})),
        ("send_at", attr("send_at", 1651820889)),
        ("tags", attr("tags", ["tag"])),
        ("track_clicks", attr("track_clicks", True)),
        ("track_opens", attr("track_opens", False)),
        ("template_id", attr("template_id", "tpl")),
        ("merge_data", attr("merge_data", {})),
        ("merge_headers", attr("merge_headers", {})),
        ("merge_global_data", attr("merge_global_data", {"a": 1})),
        ("merge_metadata", attr("merge_metadata", {})),
        ("esp_extra", attr("esp_extra", {"a": 1})),
    ]


class TestUnsupportedFeatures:
    def test_plain_message_is_supported(self):
        backend = MinimalBackend()
        message = make_message()
        assert backend.send_messages([message]) == 1
        assert message.anymail_status.status == {"queued"}

    @pytest.mark.parametrize(
        "feature,setup", unsupported_cases(), ids=lambda value: str(value)[:40]
    )
    def test_unsupported(self, feature, setup):
        backend = MinimalBackend()
        message = make_message()
        setup(message)
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            backend.send_messages([message])
        error = excinfo.value
        assert str(error) == f"Minimal ESP does not support {feature}"
        assert isinstance(error, ValueError)
        assert error.email_message is message
        assert error.backend is backend
        assert error.esp_name == "Minimal ESP"
        assert isinstance(error.payload, MinimalPayload)
        assert backend.posted == []  # the ESP wasn't contacted

    @pytest.mark.parametrize(
        "feature,setup", unsupported_cases(), ids=lambda value: str(value)[:40]
    )
    def test_ignored(self, feature, setup):
        backend = MinimalBackend(ignore_unsupported_features=True)
        message = make_message()
        setup(message)
        assert backend.send_messages([message]) == 1
        assert len(backend.posted) == 1

    def test_ignore_setting(self, settings):
        settings.ANYMAIL = {"IGNORE_UNSUPPORTED_FEATURES": True}
        backend = MinimalBackend()
        assert backend.ignore_unsupported_features is True
        message = make_message(tags=["x"], metadata={"a": 1})
        assert backend.send_messages([message]) == 1
        assert backend.posted[0].data == {
            "from": EmailAddress("", "from@example.com"),
            "to": [EmailAddress("", "to@example.com")],
            "subject": "Subject",
            "text": "Body",
        }

    def test_ignored_multiple_from_uses_first(self):
        backend = MinimalBackend(ignore_unsupported_features=True)
        message = make_message(from_email="First <a@example.com>, b@example.com")
        backend.send_messages([message])
        assert backend.posted[0].data["from"] == EmailAddress("First", "a@example.com")

    def test_ignored_alternatives_dropped(self):
        backend = MinimalBackend(ignore_unsupported_features=True)
        message = make_message()
        message.attach_alternative("<p>html</p>", "text/html")
        message.attach_alternative("second plain", "text/plain")
        message.attach_alternative("amp", "text/x-amp-html")
        backend.send_messages([message])
        data = backend.posted[0].data
        assert data["text"] == "Body"
        assert data["html"] == "<p>html</p>"

    def test_empty_reply_to_is_not_a_feature(self):
        # Django initializes reply_to to [], which must not count as using it
        backend = MinimalBackend()
        message = make_message(reply_to=[])
        assert backend.send_messages([message]) == 1

    def test_empty_extra_headers_is_not_a_feature(self):
        backend = MinimalBackend()
        assert backend.send_messages([make_message(headers={})]) == 1

    def test_is_batch_only_after_processing(self):
        payload_is_batch = []

        class CheckingPayload(MinimalPayload):
            def set_subject(self, subject):
                try:
                    self.is_batch()
                except AssertionError as err:
                    payload_is_batch.append(str(err))
                super().set_subject(subject)

        class CheckingBackend(MinimalBackend):
            def build_message_payload(self, message, defaults):
                return CheckingPayload(message, defaults, self)

        backend = CheckingBackend(ignore_unsupported_features=True)
        backend.send_messages([make_message(merge_data={})])
        assert payload_is_batch == [
            "Cannot call is_batch before all attributes processed"
        ]
        assert backend.posted[0].is_batch() is True


# ---------------------------------------------------------------------------
# Payload construction order (extension API)


class RecordingPayload(MinimalPayload):
    """Records every setter call, in order."""

    esp_message_attrs = (("esp_option", last, str.upper),)

    def __getattribute__(self, name):
        attr = super().__getattribute__(name)
        if name.startswith(("set_", "add_", "init_")) and callable(attr):
            calls = super().__getattribute__("__dict__").setdefault("calls", [])

            def recorder(*args):
                calls.append(name)
                return attr(*args)

            return recorder
        return attr

    def set_reply_to(self, emails):
        pass

    def set_extra_headers(self, headers):
        pass

    def set_envelope_sender(self, email):
        pass

    def set_metadata(self, metadata):
        pass

    def set_send_at(self, send_at):
        pass

    def set_tags(self, tags):
        pass

    def set_track_clicks(self, track_clicks):
        pass

    def set_track_opens(self, track_opens):
        pass

    def set_template_id(self, template_id):
        pass

    def set_merge_data(self, merge_data):
        pass

    def set_merge_global_data(self, merge_global_data):
        pass

    def set_merge_headers(self, merge_headers):
        pass

    def set_merge_metadata(self, merge_metadata):
        pass

    def set_esp_extra(self, extra):
        pass

    def set_esp_option(self, value):
        self.esp_option = value


class TestPayloadConstruction:
    def test_attributes(self):
        backend = MinimalBackend()
        message = make_message()
        defaults = {"tags": None}  # (a no-op default)
        payload = MinimalPayload(message, defaults, backend)
        assert payload.message is message
        assert payload.defaults is defaults
        assert payload.backend is backend
        assert payload.esp_name == "Minimal ESP"
        assert BasePayload.batch_attrs == (
            "merge_data",
            "merge_headers",
            "merge_metadata",
        )
        assert payload.is_batch() is False

    def test_processing_order(self):
        message = make_message(
            cc=["cc@example.com"],
            bcc=["bcc@example.com"],
            reply_to=["reply@example.com"],
            headers={"X-Custom": "1"},
            envelope_sender="bounce@example.com",
            metadata={},
            send_at=1651820889,
            tags=[],
            track_clicks=True,
            track_opens=True,
            template_id="t",
            merge_data={},
            merge_global_data={},
            merge_headers={},
            merge_metadata={},
            esp_extra={},
        )
        message.attach_alternative("<p>html</p>", "text/html")
        message.attach("a.txt", "a", "text/plain")
        message.esp_option = "value"
        payload = RecordingPayload(message, {}, MinimalBackend())
        assert payload.calls == [
            "init_payload",
            "set_from_email_list",
            "set_from_email",
            "set_to",
            "set_recipients",
            "add_recipient",
            "set_cc",
            "set_recipients",
            "add_recipient",
            "set_bcc",
            "set_recipients",
            "add_recipient",
            "set_subject",
            "set_reply_to",
            "set_extra_headers",
            "set_body",
            "set_text_body",
            "set_alternatives",
            "set_html_body",
            "set_attachments",
            "add_attachment",
            "set_envelope_sender",
            "set_metadata",
            "set_send_at",
            "set_tags",
            "set_track_clicks",
            "set_track_opens",
            "set_template_id",
            "set_merge_data",
            "set_merge_global_data",
            "set_merge_headers",
            "set_merge_metadata",
            "set_esp_extra",
            "set_esp_option",
        ]
        # ESP-specific attrs are combined and converted too
        assert payload.esp_option == "VALUE"
        assert payload.is_batch() is True

    def test_esp_attr_send_defaults(self):
        payload = RecordingPayload(
            make_message(), {"esp_option": "default"}, MinimalBackend()
        )
        assert payload.esp_option == "DEFAULT"
        payload = RecordingPayload(make_message(), {}, MinimalBackend())
        assert "set_esp_option" not in payload.calls


# ---------------------------------------------------------------------------
# extra_headers special handling (via the test backend)


class TestExtraHeaders:
    def test_plain_headers(self, backend):
        message = make_message(headers={"X-Custom": "value", "X-Other": "other"})
        params = backend.send_messages([message]) and message.anymail_test_params
        headers = params["extra_headers"]
        assert headers == {"X-Custom": "value", "X-Other": "other"}
        assert headers["x-custom"] == "value"
        assert list(headers.keys()) == ["X-Custom", "X-Other"]

    def test_no_headers_no_key(self, backend):
        message = make_message()
        backend.send_messages([message])
        assert "extra_headers" not in message.anymail_test_params

    def test_case_duplicates_last_wins(self, backend):
        message = make_message(headers={"X-Dup": "first", "x-DUP": "second"})
        backend.send_messages([message])
        headers = message.anymail_test_params["extra_headers"]
        assert list(headers.items()) == [("x-DUP", "second")]

    @pytest.mark.parametrize("name", ["Reply-To", "reply-to", "REPLY-to"])
    def test_reply_to_header_replaces_attribute(self, backend, name):
        message = make_message(
            reply_to=["attr@example.com"],
            headers={name: "Header <header@example.com>, other@example.com"},
        )
        backend.send_messages([message])
        params = message.anymail_test_params
        assert params["reply_to"] == [
            EmailAddress("Header", "header@example.com"),
            EmailAddress("", "other@example.com"),
        ]
        assert "extra_headers" not in params

    def test_empty_reply_to_header_is_removed(self, backend):
        message = make_message(
            reply_to=["attr@example.com"], headers={"Reply-To": "", "X-Keep": "1"}
        )
        backend.send_messages([message])
        params = message.anymail_test_params
        assert params["reply_to"] == [EmailAddress("", "attr@example.com")]
        assert params["extra_headers"] == {"X-Keep": "1"}

    def test_reply_to_header_parse_error(self, backend):
        message = make_message(headers={"Reply-To": "bogus"})
        with pytest.raises(AnymailInvalidAddress) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value).splitlines()[0] == (
            "Invalid email address 'bogus' in `extra_headers['Reply-To']`"
            " parsed from 'bogus'"
        )

    @pytest.mark.parametrize("name", ["From", "from", "FROM"])
    def test_from_header(self, backend, name):
        message = make_message(
            from_email="Envelope <envelope@example.com>",
            headers={name: "Header From <header@example.com>", "X-Keep": "1"},
        )
        backend.send_messages([message])
        params = message.anymail_test_params
        assert params["from"] == EmailAddress("Header From", "header@example.com")
        assert params["envelope_sender"] == "envelope@example.com"
        assert params["extra_headers"] == {"X-Keep": "1"}

    def test_from_header_explicit_envelope_sender_wins(self, backend):
        message = make_message(
            from_email="envelope@example.com",
            headers={"From": "header@example.com"},
            envelope_sender="explicit@example.com",
        )
        backend.send_messages([message])
        params = message.anymail_test_params
        assert params["from"] == EmailAddress("", "header@example.com")
        assert params["envelope_sender"] == "explicit@example.com"

    def test_from_header_multiple_addresses(self, backend):
        message = make_message(headers={"From": "a@example.com, b@example.com"})
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value) == "Test does not support multiple from emails"

    def test_from_header_parse_error(self, backend):
        message = make_message(headers={"From": "bogus"})
        with pytest.raises(AnymailInvalidAddress) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value).splitlines()[0] == (
            "Invalid email address 'bogus' in `extra_headers['From']`"
            " parsed from 'bogus'"
        )

    def test_from_header_with_multiple_from_email(self, backend):
        message = make_message(
            from_email="one@example.com, two@example.com",
            headers={"From": "header@example.com"},
        )
        with pytest.raises(AnymailInvalidAddress) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value) == (
            "Only one email address is allowed; found 2 in "
            "'one@example.com, two@example.com' in `from_email`."
        )

    @pytest.mark.parametrize("name", ["To", "to"])
    def test_to_header_unsupported(self, backend, name):
        message = make_message(headers={name: "Spoofed <spoofed@example.com>"})
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value) == "Test does not support spoofing `To` header"

    def test_to_header_ignored(self):
        backend = AnymailTestBackend(ignore_unsupported_features=True)
        message = make_message(headers={"To": "spoofed@example.com"})
        backend.send_messages([message])
        params = message.anymail_test_params
        assert params["to"] == [EmailAddress("", "to@example.com")]
        assert "extra_headers" not in params
        assert list(message.anymail_status.recipients) == ["to@example.com"]

    def test_spoofed_to_header_raw_value(self):
        received = []

        class SpoofingPayload(TestPayload):
            def set_spoofed_to_header(self, header_to):
                received.append(header_to)

        backend = AnymailTestBackend(payload_class=SpoofingPayload)
        message = make_message(headers={"TO": "Spoofed <spoofed@example.com>"})
        backend.send_messages([message])
        assert received == ["Spoofed <spoofed@example.com>"]

    def test_message_headers_not_modified(self, backend):
        headers = {"From": "h@example.com", "Reply-To": "r@example.com", "X-A": "1"}
        message = make_message(headers=headers)
        backend.send_messages([message])
        assert message.extra_headers == {
            "From": "h@example.com",
            "Reply-To": "r@example.com",
            "X-A": "1",
        }


# ---------------------------------------------------------------------------
# body and alternatives routing (via the test backend)


class TestBodyRouting:
    def send(self, backend, message):
        assert backend.send_messages([message]) == 1
        return message.anymail_test_params

    def test_plain_body(self, backend):
        params = self.send(backend, make_message(body="Text"))
        assert params["text_body"] == "Text"
        assert "html_body" not in params
        assert "alternatives" not in params

    def test_html_body(self, backend):
        message = make_message(body="<p>HTML</p>")
        message.content_subtype = "html"
        params = self.send(backend, message)
        assert params["html_body"] == "<p>HTML</p>"
        assert "text_body" not in params

    def test_other_subtype_is_alternative(self, backend):
        message = make_message(body="BEGIN:VCALENDAR")
        message.content_subtype = "calendar"
        params = self.send(backend, message)
        assert params["alternatives"] == [("BEGIN:VCALENDAR", "text/calendar")]
        assert "text_body" not in params

    def test_empty_body_with_alternatives(self, backend):
        message = make_message(body="")
        message.attach_alternative("Plain alt", "text/plain")
        message.attach_alternative("<p>HTML alt</p>", "text/html")
        params = self.send(backend, message)
        assert params["text_body"] == "Plain alt"
        assert params["html_body"] == "<p>HTML alt</p>"
        assert "alternatives" not in params

    def test_html_body_with_plain_alternative(self, backend):
        message = make_message(body="<p>HTML</p>")
        message.content_subtype = "html"
        message.attach_alternative("Plain alt", "text/plain")
        params = self.send(backend, message)
        assert params["html_body"] == "<p>HTML</p>"
        assert params["text_body"] == "Plain alt"
        assert "alternatives" not in params

    def test_plain_body_with_html_alternative(self, backend):
        message = make_message(body="Text")
        message.attach_alternative("<p>HTML</p>", "text/html")
        params = self.send(backend, message)
        assert params["text_body"] == "Text"
        assert params["html_body"] == "<p>HTML</p>"

    def test_second_plain_part(self, backend):
        message = make_message(body="Text")
        message.attach_alternative("More text", "text/plain")
        params = self.send(backend, message)
        assert params["text_body"] == "Text"
        assert params["alternatives"] == [("More text", "text/plain")]

    def test_second_html_part(self, backend):
        message = make_message(body="Text")
        message.attach_alternative("<p>one</p>", "text/html")
        message.attach_alternative("<p>two</p>", "text/html")
        params = self.send(backend, message)
        assert params["html_body"] == "<p>one</p>"
        assert params["alternatives"] == [("<p>two</p>", "text/html")]

    def test_html_body_with_html_alternative(self, backend):
        message = make_message(body="<p>body</p>")
        message.content_subtype = "html"
        message.attach_alternative("<p>alt</p>", "text/html")
        params = self.send(backend, message)
        assert params["html_body"] == "<p>body</p>"
        assert params["alternatives"] == [("<p>alt</p>", "text/html")]

    def test_alternatives_in_order(self, backend):
        message = make_message(body="")
        message.attach_alternative("amp", "text/x-amp-html")
        message.attach_alternative("<p>html</p>", "text/html")
        message.attach_alternative("text", "text/plain")
        message.attach_alternative("second", "text/plain")
        params = self.send(backend, message)
        assert params["text_body"] == "text"
        assert params["html_body"] == "<p>html</p>"
        assert params["alternatives"] == [
            ("amp", "text/x-amp-html"),
            ("second", "text/plain"),
        ]

    def test_non_text_alternative_unsupported(self, backend):
        message = make_message()
        message.attach_alternative(b"ID3...", "audio/mpeg")
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value) == (
            "Test does not support alternative part with type 'audio/mpeg'"
        )

    def test_alternatives_from_send_defaults(self):
        backend = AnymailTestBackend(
            send_defaults={"alternatives": [("<p>default</p>", "text/html")]}
        )
        params = self.send(backend, make_message())
        assert params["html_body"] == "<p>default</p>"

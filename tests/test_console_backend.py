"""anymail.backends.console.EmailBackend (spec 8.2)."""

import io
import threading
import uuid
import warnings

import pytest
from django.core import mail

from anymail.backends.console import EmailBackend as ConsoleBackend
from anymail.exceptions import AnymailAPIError, AnymailCancelSend
from anymail.message import AnymailMessage, AnymailRecipientStatus
from anymail.signals import post_send, pre_send
from anymail.utils import EmailAddress

SEPARATOR = "-" * 79


class CountingStream(io.StringIO):
    def __init__(self):
        super().__init__()
        self.flushes = []

    def flush(self):
        # remember how much had been written at each flush
        self.flushes.append(len(self.getvalue()))
        super().flush()


def make_message(subject="Subject", **kwargs):
    kwargs.setdefault("body", "Body text")
    kwargs.setdefault("from_email", "from@example.com")
    kwargs.setdefault("to", ["to@example.com"])
    return AnymailMessage(subject=subject, **kwargs)


@pytest.fixture
def stream():
    return CountingStream()


@pytest.fixture
def connect_signal():
    connected = []

    def connect(signal, func):
        signal.connect(func, weak=False)
        connected.append((signal, func))

    yield connect
    for signal, func in connected:
        signal.disconnect(func)


def is_uuid4(value):
    return isinstance(value, str) and str(uuid.UUID(value, version=4)) == value


class TestConsoleBackend:
    def test_esp_name(self):
        assert ConsoleBackend.esp_name == "Console"

    def test_writes_messages(self, stream):
        backend = ConsoleBackend(stream=stream)
        messages = [make_message("First message"), make_message("Second message")]
        assert backend.send_messages(messages) == 2
        output = stream.getvalue()
        assert output.count(SEPARATOR + "\n") == 2
        first, second, rest = output.split(SEPARATOR + "\n")
        assert rest == ""
        assert "Subject: First message" in first
        assert "Subject: Second message" in second
        assert "From: from@example.com" in first
        assert "To: to@example.com" in first
        assert "Body text" in first
        # written like Django's console backend renders it
        expected = messages[0].message().as_bytes().decode() + "\n" + SEPARATOR + "\n"
        # (Message-ID and Date differ between renderings; compare the rest)
        assert strip_volatile(first + SEPARATOR + "\n") == strip_volatile(expected)

    def test_flushes_after_each_message(self, stream):
        backend = ConsoleBackend(stream=stream)
        backend.send_messages([make_message("One"), make_message("Two")])
        output = stream.getvalue()
        first_end = output.index(SEPARATOR) + len(SEPARATOR) + 1
        assert stream.flushes == [first_end, len(output)]

    def test_default_stream_is_stdout(self, capsys):
        backend = ConsoleBackend()
        assert backend.send_messages([make_message("To stdout")]) == 1
        captured = capsys.readouterr()
        assert "Subject: To stdout" in captured.out
        assert captured.out.endswith(SEPARATOR + "\n")

    @pytest.mark.parametrize("messages", [[], None])
    def test_empty_returns_none(self, stream, messages):
        backend = ConsoleBackend(stream=stream)
        assert backend.send_messages(messages) is None
        assert stream.getvalue() == ""

    def test_anymail_processing(self, stream):
        backend = ConsoleBackend(stream=stream)
        message = make_message(tags=["tag"], cc=["cc@example.com"])
        assert backend.send_messages([message]) == 1
        assert mail.outbox == [message]
        params = message.anymail_test_params
        assert params["tags"] == ["tag"]
        assert params["to"] == [EmailAddress("", "to@example.com")]
        status = message.anymail_status
        assert status.status == {"sent"}
        assert is_uuid4(status.message_id)
        assert set(status.recipients) == {"to@example.com", "cc@example.com"}
        assert status.recipients["cc@example.com"].message_id == status.message_id

    def test_uuid_message_ids_differ(self, stream):
        backend = ConsoleBackend(stream=stream)
        messages = [make_message(), make_message()]
        backend.send_messages(messages)
        ids = [message.anymail_status.message_id for message in messages]
        assert all(is_uuid4(message_id) for message_id in ids)
        assert ids[0] != ids[1]

    def test_signals(self, stream, connect_signal):
        received = []
        connect_signal(
            pre_send,
            lambda sender, esp_name, **kw: received.append(("pre", sender, esp_name)),
        )
        connect_signal(
            post_send,
            lambda sender, esp_name, **kw: received.append(("post", sender, esp_name)),
        )
        ConsoleBackend(stream=stream).send_messages([make_message()])
        assert received == [
            ("pre", ConsoleBackend, "Console"),
            ("post", ConsoleBackend, "Console"),
        ]

    def test_cancelled_not_written(self, stream, connect_signal):
        def cancel(message, **kwargs):
            if message.subject == "Cancel me":
                raise AnymailCancelSend()

        connect_signal(pre_send, cancel)
        backend = ConsoleBackend(stream=stream)
        sent = make_message("Keep me")
        assert backend.send_messages([make_message("Cancel me"), sent]) == 1
        output = stream.getvalue()
        assert "Subject: Keep me" in output
        assert "Cancel me" not in output
        assert output.count(SEPARATOR) == 1

    def test_failed_not_written(self, stream):
        backend = ConsoleBackend(stream=stream)
        message = make_message("Fails")
        message.anymail_test_response = AnymailAPIError("boom")
        with pytest.raises(AnymailAPIError):
            backend.send_messages([message])
        assert stream.getvalue() == ""

    def test_fail_silently(self, stream):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            backend = ConsoleBackend(stream=stream, fail_silently=True)
        failing = make_message("Fails")
        failing.anymail_test_response = AnymailAPIError("boom")
        unsupported = make_message("Unsupported")
        unsupported.attach_alternative(b"...", "audio/mpeg")
        ok = make_message("Works")
        assert backend.send_messages([failing, unsupported, ok]) == 1
        output = stream.getvalue()
        assert "Subject: Works" in output
        assert "Fails" not in output
        assert "Unsupported" not in output

    def test_custom_response(self, stream):
        backend = ConsoleBackend(stream=stream)
        message = make_message()
        message.anymail_test_response = {
            "recipient_status": {
                "to@example.com": AnymailRecipientStatus("x", "queued")
            }
        }
        assert backend.send_messages([message]) == 1
        assert message.anymail_status.message_id == "x"
        assert "Subject: Subject" in stream.getvalue()

    def test_sends_under_lock(self, stream, connect_signal):
        backend = ConsoleBackend(stream=stream)
        acquired_elsewhere = []

        def try_lock_from_other_thread(**kwargs):
            def attempt():
                got_it = backend._lock.acquire(blocking=False)
                if got_it:
                    backend._lock.release()
                acquired_elsewhere.append(got_it)

            thread = threading.Thread(target=attempt)
            thread.start()
            thread.join()

        connect_signal(pre_send, try_lock_from_other_thread)
        connect_signal(post_send, try_lock_from_other_thread)
        backend.send_messages([make_message()])
        assert acquired_elsewhere == [False, False]

    def test_console_settings_prefix(self, stream, settings):
        settings.ANYMAIL = {"CONSOLE_SEND_DEFAULTS": {"tags": ["console"]}}
        backend = ConsoleBackend(stream=stream)
        message = make_message()
        backend.send_messages([message])
        assert message.anymail_test_params["tags"] == ["console"]

    def test_stream_kwarg(self, stream):
        assert ConsoleBackend(stream=stream).stream is stream


def strip_volatile(rendered):
    return "\n".join(
        line
        for line in rendered.splitlines()
        if not line.startswith(("Message-ID:", "Date:"))
    )

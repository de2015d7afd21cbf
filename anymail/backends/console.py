"""The test backend's processing, plus Django's console output of each message."""

import uuid

from django.core.mail.backends.console import EmailBackend as DjangoConsoleBackend

from .test import EmailBackend as AnymailTestBackend


class EmailBackend(AnymailTestBackend, DjangoConsoleBackend):
    """Anymail's console backend (esp_name "Console").

    Runs the full Anymail pipeline (statuses, signals, anymail_test_params) and
    writes each sent message to the stream (default sys.stdout).
    """

    esp_name = "Console"

    def send_messages(self, email_messages):
        if not email_messages:
            return None  # as Django's console backend does
        with self._lock:
            return super().send_messages(email_messages)

    def _send(self, message):
        sent = super()._send(message)
        if sent:
            self.write_message(message)
            self.stream.flush()
        return sent

    def generate_message_id(self, message):
        return str(uuid.uuid4())

"""A backend for tests: the full Anymail pipeline, with no ESP.

Each "sent" message is appended to django.core.mail.outbox, with the
normalized parameters an ESP would get in message.anymail_test_params.
"""

from django.core import mail

from ..exceptions import AnymailAPIError
from ..message import AnymailRecipientStatus
from .base import AnymailBaseBackend, BasePayload


class EmailBackend(AnymailBaseBackend):
    """Anymail's test backend (esp_name "Test")."""

    esp_name = "Test"

    def __init__(self, *args, **kwargs):
        self.payload_class = kwargs.pop("payload_class", TestPayload)
        super().__init__(*args, **kwargs)
        if not hasattr(mail, "outbox"):
            mail.outbox = []

    def build_message_payload(self, message, defaults):
        return self.payload_class(backend=self, message=message, defaults=defaults)

    def post_to_esp(self, payload, message):
        message.anymail_test_params = payload.get_params()
        mail.outbox.append(message)
        try:
            response = message.anymail_test_response
        except AttributeError:
            return self.default_response(payload, message)
        if isinstance(response, AnymailAPIError):
            raise response
        return response

    def default_response(self, payload, message):
        """Every recipient "sent", with the message's outbox position as its id."""
        message_id = self.generate_message_id(message)
        return {
            "recipient_status": {
                email: AnymailRecipientStatus(message_id=message_id, status="sent")
                for email in payload.recipient_emails
            }
        }

    def generate_message_id(self, message):
        return mail.outbox.index(message)

    def parse_recipient_status(self, response, payload, message):
        try:
            return response["recipient_status"]
        except (KeyError, TypeError):
            raise AnymailAPIError(
                "Unparsable test response",
                email_message=message,
                payload=payload,
                backend=self,
            )


class TestPayload(BasePayload):
    """Collects the normalized message attributes into a params dict."""

    __test__ = False  # not a pytest test class

    def init_payload(self):
        self.params = {}
        self.recipient_emails = []

    def get_params(self):
        params = dict(self.params)
        params["is_batch_send"] = self.is_batch()
        return params

    def set_from_email(self, email):
        self.params["from"] = email

    def set_envelope_sender(self, email):
        self.params["envelope_sender"] = email.addr_spec

    def set_to(self, emails):
        self._set_recipients("to", emails)

    def set_cc(self, emails):
        self._set_recipients("cc", emails)

    def set_bcc(self, emails):
        self._set_recipients("bcc", emails)

    def _set_recipients(self, recipient_type, emails):
        self.params[recipient_type] = emails
        self.recipient_emails += [email.addr_spec for email in emails]

    def set_subject(self, subject):
        self.params["subject"] = subject

    def set_reply_to(self, emails):
        self.params["reply_to"] = emails

    def set_extra_headers(self, headers):
        self.params["extra_headers"] = headers

    def set_text_body(self, body):
        self.params["text_body"] = body

    def set_html_body(self, body):
        self.params["html_body"] = body

    def add_alternative(self, content, mimetype):
        if not mimetype.lower().startswith("text/"):
            self.unsupported_feature(f"alternative part with type '{mimetype}'")
            return
        self.params.setdefault("alternatives", []).append((content, mimetype))

    def add_attachment(self, attachment):
        self.params.setdefault("attachments", []).append(attachment)

    def set_metadata(self, metadata):
        self.params["metadata"] = metadata

    def set_send_at(self, send_at):
        self.params["send_at"] = send_at

    def set_tags(self, tags):
        self.params["tags"] = tags

    def set_track_clicks(self, track_clicks):
        self.params["track_clicks"] = track_clicks

    def set_track_opens(self, track_opens):
        self.params["track_opens"] = track_opens

    def set_template_id(self, template_id):
        self.params["template_id"] = template_id

    def set_merge_data(self, merge_data):
        self.params["merge_data"] = merge_data

    def set_merge_headers(self, merge_headers):
        self.params["merge_headers"] = merge_headers

    def set_merge_metadata(self, merge_metadata):
        self.params["merge_metadata"] = merge_metadata

    def set_merge_global_data(self, merge_global_data):
        self.params["merge_global_data"] = merge_global_data

    def set_esp_extra(self, extra):
        self.params.update(extra)

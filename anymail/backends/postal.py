"""Postal backend: sends through a (self-hosted) Postal server's send-message API.

Postal has no batch, template, metadata, scheduling or per-message tracking
options: the base payload reports those features as unsupported.
"""

from ..message import AnymailRecipientStatus
from ..utils import UNSET, get_anymail_setting
from .base import Base64Bytes
from .base_requests import AnymailRequestsBackend, RequestsPayload, json_api_headers

SEND_ENDPOINT = "api/v1/send/message"

# Postal's "status" for an accepted request; anything else is an error
# (which Postal reports with HTTP 200)
SUCCESS_STATUS = "success"


class EmailBackend(AnymailRequestsBackend):
    """Postal send-message API EmailBackend."""

    esp_name = "Postal"

    def __init__(self, **kwargs):
        api_key = get_anymail_setting(
            "api_key", esp_name=self.esp_name, kwargs=kwargs, allow_bare=True
        )
        # There is no hosted Postal, so no default URL (and no bare setting)
        api_url = self.get_api_url_setting(kwargs, default=UNSET)
        # Request headers are the same for every message: build them once
        self.api_headers = json_api_headers({"X-Server-API-Key": api_key})
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message, defaults):
        return PostalPayload(message, defaults, self)

    def parse_recipient_status(self, response, payload, message):
        parsed = self.deserialize_json_response(response, payload, message)
        if not isinstance(parsed, dict) or "status" not in parsed:
            raise self.invalid_response_format(response, payload, message)
        if parsed["status"] != SUCCESS_STATUS:
            # e.g. {"status": "parameter-error", "data": {"code": ..., ...}}
            raise self.api_error(None, response, payload, message)
        try:
            return _recipient_status(parsed["data"]["messages"])
        except (AttributeError, KeyError, TypeError) as err:
            raise self.invalid_response_format(response, payload, message) from err


def _recipient_status(messages):
    """{recipient: status} from a success response's data.messages.

    Postal queues a separate message for each recipient (keyed as Postal
    reports it), identified by its (integer) message id.
    """
    return {
        email: AnymailRecipientStatus(message_id=entry["id"], status="queued")
        for email, entry in messages.items()
    }


class PostalPayload(RequestsPayload):
    """A Postal send-message API request body (JSON)."""

    def __init__(self, message, defaults, backend):
        super().__init__(message, defaults, backend, headers=dict(backend.api_headers))

    def get_api_endpoint(self):
        return SEND_ENDPOINT

    def init_payload(self):
        # Postal expects the recipient lists even when they are empty
        self.data = {"to": [], "cc": [], "bcc": []}

    def serialize_data(self):
        return self.serialize_json(self.data)

    def format_address(self, email):
        return email.format(idna_encode=self.backend.idna_encode)

    # -- Django message attributes ----------------------------------------

    def set_from_email(self, email):
        self.data["from"] = self.format_address(email)

    def set_recipients(self, recipient_type, emails):
        self.data[recipient_type] = [self.format_address(email) for email in emails]

    def set_subject(self, subject):
        self.data["subject"] = subject

    def set_reply_to(self, emails):
        if len(emails) > 1:
            self.unsupported_feature("multiple reply_to addresses")
        if emails:
            self.data["reply_to"] = self.format_address(emails[0])

    def set_extra_headers(self, headers):
        self.data["headers"] = dict(headers)

    def set_text_body(self, body):
        self.data["plain_body"] = body

    def set_html_body(self, body):
        self.data["html_body"] = body

    def add_attachment(self, attachment):
        if attachment.inline:
            # (if ignored, sent as an ordinary attachment, without its Content-ID)
            self.unsupported_feature("inline attachments")
        self.data.setdefault("attachments", []).append(
            {
                "name": attachment.name or "",
                # base64 written straight into the serialized body (no copies)
                "data": Base64Bytes(attachment.content_bytes),
                "content_type": attachment.content_type,
            }
        )

    # -- Anymail additions --------------------------------------------------

    def set_envelope_sender(self, email):
        # Postal's `sender`: the whole address as given (not IDNA-encoded)
        self.data["sender"] = str(email)

    def set_tags(self, tags):
        if len(tags) > 1:
            self.unsupported_feature("multiple tags")
        if tags:
            self.data["tag"] = tags[0]

    def set_esp_extra(self, extra):
        self.data.update(extra)

"""Resend backend: sends through Resend's emails and emails/batch APIs (JSON)."""

import mimetypes
from datetime import datetime

from ..message import AnymailRecipientStatus
from ..utils import (
    BASIC_NUMERIC_TYPES,
    CaseInsensitiveCasePreservingDict,
    get_anymail_setting,
)
from .base import Base64Bytes, DeferredMergeMixin
from .base_requests import AnymailRequestsBackend, RequestsPayload, json_api_headers

DEFAULT_API_URL = "https://api.resend.com/"

# Anymail's tags and metadata travel as (visible) message headers, which
# Resend's webhooks report back
TAGS_HEADER = "X-Tags"
METADATA_HEADER = "X-Metadata"


class EmailBackend(AnymailRequestsBackend):
    """Resend emails API EmailBackend."""

    esp_name = "Resend"

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        self.api_key = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        api_url = get_anymail_setting(
            "api_url", esp_name=esp_name, kwargs=kwargs, default=DEFAULT_API_URL
        )
        # Resend silently drops messages whose attachment filename extension
        # doesn't match the content type: check for that unless disabled
        self.verify_attachment_extensions = get_anymail_setting(
            "verify_attachment_extensions",
            esp_name=esp_name,
            kwargs=kwargs,
            default=True,
        )
        if not api_url.endswith("/"):
            api_url += "/"
        # Request headers are the same for every message: build them once
        self.api_headers = json_api_headers({"Authorization": f"Bearer {self.api_key}"})
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message, defaults):
        return ResendPayload(message, defaults, self)

    def parse_recipient_status(self, response, payload, message):
        parsed = self.deserialize_json_response(response, payload, message)
        try:
            return _recipient_status(parsed, payload)
        except (KeyError, TypeError) as err:
            raise self.invalid_response_format(response, payload, message) from err


def _recipient_status(parsed, payload):
    """{addr_spec: AnymailRecipientStatus} from an emails or emails/batch response.

    Resend accepts (queues) everything: it never rejects at send time.
    """
    if isinstance(parsed, dict) and "id" in parsed:
        message_id, batch_ids = parsed["id"], []
    else:
        message_id, batch_ids = None, parsed["data"]
        if not isinstance(batch_ids, list):
            raise TypeError("data is not a list")
    recipient_status = CaseInsensitiveCasePreservingDict(
        (email.addr_spec, AnymailRecipientStatus(message_id, "queued"))
        for email in payload.recipients
    )
    # a batch send's ids are in the order of the `to` recipients
    for email, item in zip(payload.to_recipients, batch_ids, strict=False):
        recipient_status[email.addr_spec] = AnymailRecipientStatus(item["id"], "queued")
    return dict(recipient_status.items())


class ResendPayload(DeferredMergeMixin, RequestsPayload):
    """A Resend emails (or emails/batch) request body."""

    def __init__(self, message, defaults, backend):
        super().__init__(message, defaults, backend, headers=backend.api_headers)

    def init_payload(self):
        self.data = {}  # one email object; expanded by serialize_data for batches
        self.recipients = []  # EmailAddress: to + cc + bcc, for the status
        self.to_recipients = []  # EmailAddress, in the order of data["to"]
        self.metadata = {}
        self.merge_metadata = {}
        self.merge_headers = {}

    def get_api_endpoint(self):
        return "emails/batch" if self.is_batch() else "emails"

    def serialize_data(self):
        if self.is_batch():
            return self.serialize_json(
                [self._batch_message(to) for to in self.to_recipients]
            )
        return self.serialize_json(self.data)

    def _batch_message(self, to):
        """The email object for one `to` recipient of a batch send."""
        message = {**self.data, "to": [self.format_address(to)]}
        email = to.addr_spec
        if email in self.merge_metadata:
            metadata = {**self.metadata, **self.merge_metadata[email]}
            message["headers"] = {
                **message.get("headers", {}),
                METADATA_HEADER: self.serialize_json(metadata),
            }
        if email in self.merge_headers:
            if message.get("headers"):
                headers = CaseInsensitiveCasePreservingDict(message["headers"])
                headers.update(self.merge_headers[email])
            else:
                headers = self.merge_headers[email]
            message["headers"] = headers
        return message

    def format_address(self, email):
        return email.format(idna_encode=self.backend.idna_encode)

    def email_headers(self):
        return self.data.setdefault("headers", {})

    # -- Django message attributes ----------------------------------------

    def set_from_email(self, email):
        self.data["from"] = self.format_address(email)

    def set_recipients(self, recipient_type, emails):
        self.recipients.extend(emails)
        if recipient_type == "to":
            self.to_recipients.extend(emails)
        if emails:
            self.data[recipient_type] = [self.format_address(e) for e in emails]

    def set_subject(self, subject):
        self.data["subject"] = subject

    def set_reply_to(self, emails):
        if emails:
            self.data["reply_to"] = [self.format_address(e) for e in emails]

    def set_extra_headers(self, headers):
        # Resend wants string header values
        self.email_headers().update(
            (name, str(value) if isinstance(value, BASIC_NUMERIC_TYPES) else value)
            for name, value in headers.items()
        )

    def set_text_body(self, body):
        self.data["text"] = body

    def set_html_body(self, body):
        if "html" in self.data:
            self.unsupported_feature("multiple html parts")
        self.data["html"] = body

    def add_attachment(self, attachment):
        item = {
            "content": Base64Bytes(attachment.content_bytes),
            "filename": self._attachment_filename(attachment),
            "content_type": attachment.content_type,
        }
        if attachment.inline:
            if not attachment.cid:
                self.unsupported_feature("inline attachments without Content-ID")
            item["content_id"] = attachment.cid
        self.data.setdefault("attachments", []).append(item)

    def _attachment_filename(self, attachment):
        """The attachment's filename, checked or generated for Resend."""
        mimetype = attachment.mimetype
        name = attachment.name
        if name:
            if self.backend.verify_attachment_extensions:
                guessed = mimetypes.guess_type(name)[0]
                if guessed and guessed != mimetype.lower():
                    self.unsupported_feature(
                        f"attachments of type {mimetype} with name '{name}'"
                    )
            return name
        extension = mimetypes.guess_extension(mimetype)
        if extension:
            return "attachment" + extension
        self.unsupported_feature(f"unnamed attachments of type {mimetype}")
        return ""

    # -- Anymail additions --------------------------------------------------

    def set_metadata(self, metadata):
        self.metadata = metadata  # for merge_metadata
        self.email_headers()[METADATA_HEADER] = self.serialize_json(metadata)

    def set_send_at(self, send_at):
        if isinstance(send_at, datetime):
            timespec = "milliseconds" if send_at.microsecond else "seconds"
            send_at = send_at.isoformat(timespec=timespec)
        self.data["scheduled_at"] = send_at

    def set_tags(self, tags):
        self.email_headers()[TAGS_HEADER] = self.serialize_json(tags)

    def set_merge_data(self, merge_data):
        # No templates: merge_data only makes this a batch send
        if any(merge_data.values()):
            self.unsupported_feature("merge_data")

    def set_esp_extra(self, extra):
        self.data.update(extra)

"""MailerSend backend: sends through MailerSend's v1 ``email`` API, or its
``bulk-email`` API for batch sends when MAILERSEND_BATCH_SEND_MODE allows it.
"""

import mimetypes

from ..exceptions import AnymailUnsupportedFeature
from ..message import AnymailRecipientStatus
from ..utils import CaseInsensitiveCasePreservingDict, get_anymail_setting, update_deep
from .base import Base64Bytes
from .base_requests import (
    AnymailRequestsBackend,
    RequestsPayload,
    is_json_response,
    json_api_headers,
)

DEFAULT_API_URL = "https://api.mailersend.com/v1/"

# MAILERSEND_BATCH_SEND_MODE values
USE_BULK_EMAIL = "use-bulk-email"
EXPOSE_TO_LIST = "expose-to-list"

BATCH_SEND_MODE_REQUIRED = (
    "MailerSend requires MAILERSEND_BATCH_SEND_MODE set to either"
    " 'use-bulk-email' or 'expose-to-list' for using batch send (merge_data)"
    " with multiple recipients. See the Anymail docs."
)

# Precedence header values that MailerSend's precedence_bulk flag stands for
BULK_PRECEDENCES = {"bulk", "junk", "list"}

# Response warnings[].type values that only report suppressed recipients
SUPPRESSION_WARNINGS = {"ALL_SUPPRESSED", "SOME_SUPPRESSED"}


class EmailBackend(AnymailRequestsBackend):
    """MailerSend Email API v1 EmailBackend."""

    esp_name = "MailerSend"

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        self.api_token = get_anymail_setting(
            "api_token", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        #: USE_BULK_EMAIL, EXPOSE_TO_LIST, or None (anything else acts as None)
        self.batch_send_mode = get_anymail_setting(
            "batch_send_mode", esp_name=esp_name, kwargs=kwargs, default=None
        )
        api_url = self.get_api_url_setting(kwargs, default=DEFAULT_API_URL)
        # The same for every message (esp_extra can replace the token)
        self.api_headers = json_api_headers(
            {"Authorization": f"Bearer {self.api_token}"}
        )
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message, defaults):
        return MailerSendPayload(message, defaults, self)

    def parse_recipient_status(self, response, payload, message):
        # The email endpoint answers with an empty (text/html) body and the id
        # in a header; bulk-email and suppression warnings come as JSON
        parsed = (
            self.deserialize_json_response(response, payload, message)
            if is_json_response(response)
            else {}
        )
        sent_to = payload.recipients  # email as sent -> message's addr_spec
        try:
            message_id, status = _accepted_id_and_status(response, parsed)
            unexpected = _has_unexpected_problems(parsed)
            suppressed = [] if unexpected else _suppressed_emails(parsed)
            rejected_addr_specs = [sent_to.get(email, email) for email in suppressed]
        except (AttributeError, KeyError, TypeError) as err:
            raise self.api_error(
                f"Unexpected MailerSend API response format: {err!s}",
                response,
                payload,
                message,
            ) from err
        if unexpected:
            raise self.api_error(
                "Unexpected MailerSend API response errors/warnings",
                response,
                payload,
                message,
            )
        accepted = AnymailRecipientStatus(message_id=message_id, status=status)
        rejected = AnymailRecipientStatus(message_id=None, status="rejected")
        recipient_status = dict.fromkeys(sent_to.values(), accepted)
        recipient_status.update(dict.fromkeys(rejected_addr_specs, rejected))
        return recipient_status


def _accepted_id_and_status(response, parsed):
    """(message_id, status) for the recipients MailerSend didn't suppress."""
    if "X-Message-Id" in response.headers:  # email endpoint
        return response.headers["X-Message-Id"], "queued"
    if "bulk_email_id" in parsed:  # bulk-email endpoint: sent later
        return f"bulk:{parsed['bulk_email_id']}", "unknown"
    return None, "failed"  # email endpoint, every recipient suppressed


def _has_unexpected_problems(parsed):
    """Whether the response reports errors, or warnings other than suppressions."""
    if parsed.get("errors"):
        return True
    return any(
        warning.get("type") not in SUPPRESSION_WARNINGS
        for warning in parsed.get("warnings") or []
    )


def _suppressed_emails(parsed):
    return [
        recipient["email"]
        for warning in parsed.get("warnings") or []
        for recipient in warning["recipients"]
    ]


def _attachment_filename(attachment):
    """MailerSend requires a filename, and infers the content type from it."""
    if attachment.name:
        return attachment.name
    extension = mimetypes.guess_extension(attachment.mimetype, strict=False)
    return f"attachment{extension}" if extension else None


class MailerSendPayload(RequestsPayload):
    """Builds the email (object) or bulk-email (array) JSON body."""

    def __init__(self, message, defaults, backend, *args, **kwargs):
        headers = dict(backend.api_headers)
        self.batch_send_mode = backend.batch_send_mode
        self.recipients = CaseInsensitiveCasePreservingDict()  # sent email: addr_spec
        self.merge_data = {}
        self.merge_global_data = {}
        super().__init__(message, defaults, backend, *args, headers=headers, **kwargs)

    def init_payload(self):
        self.data = {}

    def get_api_endpoint(self):
        if not self.is_batch():
            return "email"
        if self.batch_send_mode == USE_BULK_EMAIL:
            return "bulk-email"
        if self.batch_send_mode == EXPOSE_TO_LIST or len(self.to_list()) <= 1:
            return "email"
        # Not even IGNORE_UNSUPPORTED_FEATURES can make this work
        raise AnymailUnsupportedFeature(
            BATCH_SEND_MODE_REQUIRED,
            email_message=self.message,
            payload=self,
            backend=self.backend,
        )

    def serialize_data(self):
        # personalization from esp_extra is sent as given
        personalize = (
            bool(self.merge_data or self.merge_global_data)
            and "personalization" not in self.data
        )
        if self.get_api_endpoint() == "bulk-email":
            data = [self.bulk_message(to, personalize) for to in self.to_list()]
        elif personalize:
            personalization = [self.personalization(to) for to in self.to_list()]
            data = {**self.data, "personalization": personalization}
        else:
            data = self.data
        return self.serialize_json(data)

    def to_list(self):
        return self.data.get("to") or []

    def bulk_message(self, to, personalize):
        """The bulk-email array item for one `to` recipient: a shallow copy
        (attachments are shared, not copied)."""
        message = {**self.data, "to": [to]}
        if personalize:
            message["personalization"] = [self.personalization(to)]
        return message

    def personalization(self, to):
        """MailerSend personalization for a `to` recipient, with merge_global_data
        as the defaults for its merge_data."""
        email = to["email"]
        data = {**self.merge_global_data, **self.merge_data.get(email, {})}
        return {"email": email, "data": data}

    def address(self, email):
        return email.as_dict(idna_encode=self.backend.idna_encode)

    # -- Django message attributes ----------------------------------------

    def set_from_email(self, email):
        self.data["from"] = self.address(email)

    def set_recipients(self, recipient_type, emails):
        if not emails:
            return
        addresses = [self.address(email) for email in emails]
        self.data[recipient_type] = addresses
        for email, address in zip(emails, addresses, strict=True):
            self.recipients.setdefault(address["email"], email.addr_spec)

    def set_subject(self, subject):
        self.data["subject"] = subject

    def set_reply_to(self, emails):
        if len(emails) > 1:
            # (when ignored, no reply_to at all: as django-anymail does)
            self.unsupported_feature("multiple reply_to emails")
        elif emails:
            self.data["reply_to"] = self.address(emails[0])

    def set_extra_headers(self, headers):
        # MailerSend has its own fields for In-Reply-To and Precedence
        headers = headers.copy()
        in_reply_to = headers.pop("In-Reply-To", None)
        if in_reply_to is not None:
            self.data["in_reply_to"] = in_reply_to
        precedence = headers.pop("Precedence", None)
        if precedence is not None:
            self.data["precedence_bulk"] = str(precedence).lower() in BULK_PRECEDENCES
        if headers:
            self.data["headers"] = [
                {"name": name, "value": value} for name, value in headers.items()
            ]

    def set_text_body(self, body):
        self.data["text"] = body

    def set_html_body(self, body):
        if "html" in self.data:
            self.unsupported_feature("multiple html parts")
        self.data["html"] = body

    def add_attachment(self, attachment):
        # No charset can be given, so text is sent as UTF-8
        item = {
            "filename": _attachment_filename(attachment),
            "content": Base64Bytes(attachment.content_utf8_bytes),
            "disposition": "attachment",
        }
        if attachment.inline:
            item["disposition"] = "inline"
            item["id"] = attachment.cid
        self.data.setdefault("attachments", []).append(item)

    # -- Anymail additions --------------------------------------------------
    # (envelope_sender, metadata, merge_metadata and merge_headers: the base
    # class reports them unsupported)

    def set_send_at(self, send_at):
        self.data["send_at"] = int(send_at.timestamp())  # whole seconds

    def set_tags(self, tags):
        if tags:
            self.data["tags"] = tags

    def set_track_clicks(self, track_clicks):
        self.data.setdefault("settings", {})["track_clicks"] = track_clicks

    def set_track_opens(self, track_opens):
        self.data.setdefault("settings", {})["track_opens"] = track_opens

    def set_template_id(self, template_id):
        self.data["template_id"] = template_id

    def set_merge_data(self, merge_data):
        self.merge_data = merge_data

    def set_merge_global_data(self, merge_global_data):
        self.merge_global_data = merge_global_data

    def set_esp_extra(self, extra):
        extra = dict(extra)
        if "api_token" in extra:
            self.headers["Authorization"] = f"Bearer {extra.pop('api_token')}"
        if "batch_send_mode" in extra:
            self.batch_send_mode = extra.pop("batch_send_mode")
        update_deep(self.data, extra)

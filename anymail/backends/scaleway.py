"""Scaleway Transactional Email (TEM): sends through its JSON "emails" API."""

from urllib.parse import quote

from ..message import AnymailRecipientStatus
from ..utils import get_anymail_setting
from .base import Base64Bytes
from .base_requests import AnymailRequestsBackend, RequestsPayload, json_api_headers

# {region} is replaced with the (URL-quoted) region setting
DEFAULT_API_URL = (
    "https://api.scaleway.com/transactional-email/v1alpha1/regions/{region}/"
)
DEFAULT_REGION = "fr-par"

# Scaleway's per-recipient email status -> Anymail status (others: "unknown")
STATUS_MAP = {
    "new": "queued",
    "sending": "queued",
    "sent": "sent",
    "failed": "failed",
    "canceled": "failed",
    "unknown": "unknown",
}


class EmailBackend(AnymailRequestsBackend):
    """Scaleway TEM EmailBackend."""

    esp_name = "Scaleway"

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        self.secret_key = get_anymail_setting(
            "secret_key", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        self.project_id = get_anymail_setting(
            "project_id", esp_name=esp_name, kwargs=kwargs
        )
        region = get_anymail_setting(
            "region", esp_name=esp_name, kwargs=kwargs, default=DEFAULT_REGION
        )
        api_url = self.get_api_url_setting(kwargs, default=DEFAULT_API_URL)
        api_url = api_url.format(region=quote(region, safe=""))
        # The same request headers for every message: build them once
        self.api_headers = json_api_headers(
            {"X-Auth-Token": self.secret_key}, accept_json=False
        )
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message, defaults):
        return ScalewayPayload(message, defaults, self)

    def parse_recipient_status(self, response, payload, message):
        parsed = self.deserialize_json_response(response, payload, message)
        try:
            return _recipient_status(parsed["emails"])
        except (AttributeError, KeyError, TypeError) as err:
            raise self.api_error(
                f"Invalid response from {self.esp_name} API",
                response,
                payload,
                message,
            ) from err


def _recipient_status(emails):
    """{mail_rcpt: AnymailRecipientStatus} for the items of a response's "emails"."""
    recipient_status = {}
    for item in emails:
        recipient = item.get("mail_rcpt")
        if recipient:
            # "id" is this recipient's own email; "message_id" is shared
            recipient_status[recipient] = AnymailRecipientStatus(
                message_id=item.get("id"),
                status=STATUS_MAP.get(item.get("status"), "unknown"),
            )
    return recipient_status


class ScalewayPayload(RequestsPayload):
    """A Scaleway TEM "emails" request body."""

    def __init__(self, message, defaults, backend):
        super().__init__(message, defaults, backend, headers=backend.api_headers)

    def get_api_endpoint(self):
        return "emails"

    def serialize_data(self):
        return self.serialize_json(self.data)

    def init_payload(self):
        self.data = {"project_id": self.backend.project_id}

    # -- helpers ------------------------------------------------------------

    def _address(self, email):
        return email.as_dict(idna_encode=self.backend.idna_encode)

    def _check_eai(self, field, emails):
        """Scaleway can't send to or from a non-ASCII local part."""
        if any(email.uses_eai for email in emails):
            self.unsupported_feature(f"EAI in {field}")

    def _add_header(self, key, value):
        self.data.setdefault("additional_headers", []).append(
            {"key": key, "value": value}
        )

    # -- Django message attributes ----------------------------------------

    def set_from_email(self, email):
        self._check_eai("from_email", [email])
        self.data["from"] = self._address(email)

    def set_recipients(self, recipient_type, emails):
        self._check_eai(recipient_type, emails)
        if emails:
            self.data[recipient_type] = [self._address(email) for email in emails]

    def set_subject(self, subject):
        if subject:
            self.data["subject"] = subject

    def set_reply_to(self, emails):
        if emails:
            self._check_eai("reply_to", emails)
            idna_encode = self.backend.idna_encode
            value = ", ".join(
                email.format(use_rfc2047=True, idna_encode=idna_encode)
                for email in emails
            )
            self._add_header("Reply-To", value)

    def set_extra_headers(self, headers):
        for key, value in headers.items():
            self._add_header(key, str(value))

    def set_text_body(self, body):
        self._set_content("text", body)

    def set_html_body(self, body):
        self._set_content("html", body)

    def _set_content(self, field, body):
        # (a later alternative can replace an empty body)
        if body:
            self.data[field] = body
        else:
            self.data.pop(field, None)

    def add_attachment(self, attachment):
        if attachment.inline:
            # (if ignored, it is sent as an ordinary attachment)
            self.unsupported_feature("inline attachments")
        self.data.setdefault("attachments", []).append(
            {
                "name": attachment.name,  # None is sent as null
                "type": attachment.content_type,
                "content": Base64Bytes(attachment.content_bytes),
            }
        )

    # -- Anymail additions --------------------------------------------------
    # Scaleway has no metadata or tags of its own: both travel as (visible)
    # message headers with JSON values.

    def set_metadata(self, metadata):
        if metadata:
            self._add_header("X-Metadata", self.serialize_json(metadata))

    def set_tags(self, tags):
        if tags:
            self._add_header("X-Tags", self.serialize_json(tags))

    def set_esp_extra(self, extra):
        # esp_extra is processed last: a shallow update of the finished body
        self.data.update(extra)

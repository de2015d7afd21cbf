"""Mailjet backend: sends through Mailjet's Send API v3.1 (JSON)."""

from ..exceptions import AnymailRequestsAPIError
from ..message import AnymailRecipientStatus
from ..utils import get_anymail_setting, merge_dicts_deep
from .base import Base64Bytes, DeferredMergeMixin
from .base_requests import (
    AnymailRequestsBackend,
    RequestsPayload,
    is_json_response,
    json_api_headers,
)

DEFAULT_API_URL = "https://api.mailjet.com/v3.1/"

# Mailjet's field names for the address fields kept in Globals
GLOBAL_RECIPIENT_FIELDS = {"cc": "Cc", "bcc": "Bcc"}

# Recipient lists in each item of a send response's "Messages"
RESPONSE_RECIPIENT_FIELDS = ("To", "Cc", "Bcc")

TRACKING_VALUES = {True: "enabled", False: "disabled"}


class EmailBackend(AnymailRequestsBackend):
    """Mailjet Send API v3.1 EmailBackend."""

    esp_name = "Mailjet"

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        self.api_key = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        self.secret_key = get_anymail_setting(
            "secret_key", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        api_url = self.get_api_url_setting(kwargs, default=DEFAULT_API_URL)
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message, defaults):
        return MailjetPayload(message, defaults, self)

    def raise_for_status(self, response, payload, message):
        # Mailjet answers a partially failed batch with a 4xx JSON response,
        # which parse_recipient_status sorts out per message.
        if 400 <= response.status_code < 500 and is_json_response(response):
            return
        super().raise_for_status(response, payload, message)

    def parse_recipient_status(self, response, payload, message):
        parsed = self.deserialize_json_response(response, payload, message)
        if isinstance(parsed, dict) and "ErrorCode" in parsed:
            # a global error: nothing was sent
            raise AnymailRequestsAPIError(
                email_message=message, payload=payload, response=response, backend=self
            )
        try:
            recipient_status = _reported_recipient_status(parsed)
        except (AttributeError, KeyError, TypeError) as err:
            raise self.invalid_response_format(response, payload, message) from err
        # Mailjet's error items don't say which recipients they concern
        failed = AnymailRecipientStatus(message_id=None, status="failed")
        for email in payload.recipient_emails:
            recipient_status.setdefault(email, failed)
        return recipient_status


def _reported_recipient_status(parsed):
    """{email: AnymailRecipientStatus} for each recipient in a send response."""
    recipient_status = {}
    for item in parsed["Messages"]:
        status = "sent" if item.get("Status") == "success" else "failed"
        for field in RESPONSE_RECIPIENT_FIELDS:
            for recipient in item.get(field, []):
                recipient_status[recipient["Email"]] = AnymailRecipientStatus(
                    message_id=str(recipient["MessageID"]), status=status
                )
    return recipient_status


class MailjetPayload(DeferredMergeMixin, RequestsPayload):
    """Builds a Send API v3.1 request: shared fields in Globals, To in Messages."""

    def __init__(self, message, defaults, backend):
        super().__init__(
            message,
            defaults,
            backend,
            headers=json_api_headers({}, accept_json=False),
            auth=(backend.api_key, backend.secret_key),
        )

    def init_payload(self):
        self.globals = {}
        self.to = []  # address objects for Messages[].To
        self.recipient_emails = []  # every to/cc/bcc email, as sent
        self.merge_data = {}
        self.merge_headers = {}
        self.merge_metadata = {}
        self.metadata = None
        self.esp_extra = None
        self.data = {"Globals": self.globals, "Messages": [{"To": self.to}]}

    def get_api_endpoint(self):
        return "send"

    def serialize_data(self):
        if self.is_batch():
            self.data["Messages"] = [self._batch_message(to) for to in self.to]
        data = self.data
        if self.esp_extra is not None:
            data = merge_dicts_deep(data, self.esp_extra)
        return self.serialize_json(data)

    def _batch_message(self, to):
        """The Messages item for one `to` recipient of a batch send."""
        email = to["Email"]
        message = {"To": [to]}
        if email in self.merge_data:
            message["Variables"] = self.merge_data[email]
        if email in self.merge_metadata:
            metadata = {**(self.metadata or {}), **self.merge_metadata[email]}
            message["EventPayload"] = self.serialize_json(metadata)
        if email in self.merge_headers:
            message["Headers"] = self.merge_headers[email]
        return message

    def _address(self, email):
        return email.as_dict(
            name="Name", email="Email", idna_encode=self.backend.idna_encode
        )

    # -- Django message attributes ----------------------------------------

    def set_from_email(self, email):
        self.globals["From"] = self._address(email)

    def set_to(self, emails):
        if not emails:
            self.unsupported_feature("messages without any `to` recipients")
        self.to.extend(self._recipients(emails))

    def set_recipients(self, recipient_type, emails):
        if emails:
            self.globals[GLOBAL_RECIPIENT_FIELDS[recipient_type]] = self._recipients(
                emails
            )

    def _recipients(self, emails):
        addresses = [self._address(email) for email in emails]
        self.recipient_emails.extend(address["Email"] for address in addresses)
        return addresses

    def set_subject(self, subject):
        self.globals["Subject"] = subject

    def set_reply_to(self, emails):
        if len(emails) > 1:
            self.unsupported_feature("Multiple reply_to addresses")
        if emails:
            self.globals["ReplyTo"] = self._address(emails[0])

    def set_extra_headers(self, headers):
        self.globals["Headers"] = dict(headers)

    def set_text_body(self, body):
        if body:
            self.globals["TextPart"] = body
        else:
            self.globals.pop("TextPart", None)

    def set_html_body(self, body):
        if body is not None:
            self.globals["HTMLPart"] = body

    def add_attachment(self, attachment):
        item = {
            "ContentType": attachment.mimetype,
            "Filename": attachment.name or "attachment",
            "Base64Content": Base64Bytes(attachment.content_utf8_bytes),
        }
        if attachment.inline:
            item["ContentID"] = attachment.cid
            field = "InlinedAttachments"
        else:
            field = "Attachments"
        self.globals.setdefault(field, []).append(item)

    # -- Anymail additions --------------------------------------------------

    def set_envelope_sender(self, email):
        self.globals["Sender"] = self._address(email)

    def set_metadata(self, metadata):
        self.metadata = metadata
        self.globals["EventPayload"] = self.serialize_json(metadata)

    def set_tags(self, tags):
        if len(tags) > 1:
            self.unsupported_feature(f"multiple tags ({tags!r})")
        if tags:
            self.globals["CustomCampaign"] = tags[0]

    def set_track_clicks(self, track_clicks):
        self.globals["TrackClicks"] = TRACKING_VALUES[bool(track_clicks)]

    def set_track_opens(self, track_opens):
        self.globals["TrackOpens"] = TRACKING_VALUES[bool(track_opens)]

    def set_template_id(self, template_id):
        self.globals["TemplateID"] = int(template_id)  # Mailjet's ids are numeric
        self.globals["TemplateLanguage"] = True

    def set_merge_global_data(self, merge_global_data):
        self.globals["Variables"] = merge_global_data

    def set_esp_extra(self, extra):
        self.esp_extra = extra

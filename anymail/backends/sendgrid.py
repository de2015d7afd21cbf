"""SendGrid: sends through the v3 Mail Send API (JSON over HTTPS).

django-anymail no longer officially supports SendGrid: creating this backend
emits AnymailNotSupportedWarning.
"""

import uuid
import warnings
from bisect import insort
from collections.abc import Mapping
from datetime import datetime

from ..exceptions import (
    AnymailConfigurationError,
    AnymailNotSupportedWarning,
    AnymailSerializationError,
    AnymailWarning,
)
from ..message import AnymailRecipientStatus
from ..utils import BASIC_NUMERIC_TYPES, get_anymail_setting, update_deep
from .base import Base64Bytes, DeferredMergeMixin
from .base_requests import AnymailRequestsBackend, RequestsPayload, json_api_headers

DEFAULT_API_URL = "https://api.sendgrid.com/v3/"

NOT_SUPPORTED_WARNING = (
    "django-anymail has dropped official support for SendGrid."
    " See https://github.com/anymail/django-anymail/issues/432."
)

LEGACY_CREDENTIALS_ERROR = (
    "SendGrid v3 API doesn't support username/password auth; Please change to API key."
)

X_SMTPAPI_ERROR = (
    "You are attempting to use SendGrid v2 API-style x-smtpapi params with the"
    " SendGrid v3 API. Please update your `esp_extra` to the new API."
)

MERGE_FIELD_WARNING = (
    "The SendGrid {which} merge fields you are using look like plain words"
    " without delimiters, which can give unexpected merge results with legacy"
    " templates. Look up SENDGRID_MERGE_FIELD_FORMAT in the Anymail docs."
)

# SendGrid requires text/plain, then text/html, before any other content type
CONTENT_TYPE_ORDER = {"text/plain": 0, "text/html": 1}

RECIPIENT_FIELDS = ("to", "cc", "bcc")


class EmailBackend(AnymailRequestsBackend):
    """SendGrid v3 Mail Send API EmailBackend."""

    esp_name = "SendGrid"

    def __init__(self, **kwargs):
        warnings.warn(NOT_SUPPORTED_WARNING, AnymailNotSupportedWarning, stacklevel=2)
        esp_name = self.esp_name
        # (read both, so both are consumed from kwargs)
        legacy_credentials = [
            get_anymail_setting(
                name, esp_name=esp_name, kwargs=kwargs, default=None, allow_bare=True
            )
            for name in ("username", "password")
        ]
        if any(legacy_credentials):
            raise AnymailConfigurationError(LEGACY_CREDENTIALS_ERROR)
        api_key = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        self.generate_message_id = get_anymail_setting(
            "generate_message_id", esp_name=esp_name, kwargs=kwargs, default=True
        )
        self.merge_field_format = get_anymail_setting(
            "merge_field_format", esp_name=esp_name, kwargs=kwargs, default=None
        )
        api_url = self.get_api_url_setting(kwargs, default=DEFAULT_API_URL)
        # The same for every message: build them once
        self.api_headers = json_api_headers({"Authorization": f"Bearer {api_key}"})
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message, defaults):
        return SendGridPayload(message, defaults, self)

    def parse_recipient_status(self, response, payload, message):
        # SendGrid answers 202 with an empty body: every recipient is queued,
        # with the id Anymail generated for its personalization (if any)
        return {
            addr_spec: AnymailRecipientStatus(
                message_id=payload.message_ids.get(email), status="queued"
            )
            for addr_spec, email in payload.recipients
        }


def stringify_numbers(values):
    """A copy of dict `values` with int/float (and bool) values converted to str."""
    return {
        key: str(value) if isinstance(value, BASIC_NUMERIC_TYPES) else value
        for key, value in values.items()
    }


def content_rank(item):
    return CONTENT_TYPE_ORDER.get(str(item["type"]).lower(), len(CONTENT_TYPE_ORDER))


def warn_merge_fields(which):
    warnings.warn(MERGE_FIELD_WARNING.format(which=which), AnymailWarning, stacklevel=2)


def all_alnum(keys):
    return bool(keys) and all(isinstance(key, str) and key.isalnum() for key in keys)


class SendGridPayload(DeferredMergeMixin, RequestsPayload):
    """A v3 Mail Send request body."""

    def __init__(self, message, defaults, backend):
        super().__init__(message, defaults, backend, headers=backend.api_headers)

    def init_payload(self):
        self.personalization = {}  # to/cc/bcc for the message (split if batch)
        self.data = {"personalizations": [self.personalization]}
        self.custom_personalizations = None  # a list from esp_extra
        self.recipients = []  # (message addr_spec, email as sent) for to/cc/bcc
        self.message_addr_specs = {}  # email as sent -> message addr_spec
        self.message_ids = {}  # email as sent -> generated anymail_id
        self.merge_data = {}
        self.merge_global_data = {}
        self.merge_headers = {}
        self.merge_metadata = {}
        self.merge_field_format = self.backend.merge_field_format
        self.use_dynamic_template = False

    def get_api_endpoint(self):
        return "mail/send"

    def serialize_data(self):
        personalizations = self._build_personalizations()
        for personalization in personalizations:
            self._personalize(personalization)
        if not self.use_dynamic_template:
            self._convert_to_legacy_substitutions(personalizations)
        if self.backend.generate_message_id:
            self._assign_message_ids(personalizations)
        self.data["personalizations"] = personalizations
        return self.serialize_json(self.data)

    # -- personalizations -----------------------------------------------------

    def _build_personalizations(self):
        if self.custom_personalizations is not None:
            return self.custom_personalizations
        base = self.personalization
        to_list = base.get("to") or []
        if self.is_batch() and to_list:
            # one personalization per `to`, each with a copy of cc, bcc, etc.
            return [{**base, "to": [to]} for to in to_list]
        return [dict(base)]

    def _recipient_entry(self, recipient_dict, personalization):
        """recipient_dict's entry for the personalization's first `to` email."""
        to_list = personalization.get("to") or []
        if not to_list or not recipient_dict:
            return None
        email = to_list[0].get("email")
        if email in recipient_dict:
            return recipient_dict[email]
        # also accept the address as written in the message (non-ASCII domain)
        return recipient_dict.get(self.message_addr_specs.get(email))

    def _personalize(self, personalization):
        """Add merge data, merge_metadata and merge_headers for its recipient."""
        if self.merge_data or self.merge_global_data:
            data = dict(self.merge_global_data)
            data.update(self._recipient_entry(self.merge_data, personalization) or {})
            if data:
                personalization["dynamic_template_data"] = data
        metadata = self._recipient_entry(self.merge_metadata, personalization)
        if metadata:
            personalization["custom_args"] = {
                **personalization.get("custom_args", {}),
                **stringify_numbers(metadata),
            }
        headers = self._recipient_entry(self.merge_headers, personalization)
        if headers:
            personalization["headers"] = headers

    def _convert_to_legacy_substitutions(self, personalizations):
        """Legacy templates: dynamic_template_data -> string-valued substitutions."""
        field_format = self.merge_field_format
        used_fields = set()
        for personalization in personalizations:
            data = personalization.pop("dynamic_template_data", None)
            if data is None:
                continue
            used_fields.update(data)
            personalization["substitutions"] = {
                (field_format or "{}").format(field): self._substitution_value(value)
                for field, value in data.items()
            }
        if field_format is None:
            if all_alnum(used_fields):
                warn_merge_fields("merge_data")
            if all_alnum(self.merge_global_data):
                warn_merge_fields("merge_global_data")

    def _substitution_value(self, value):
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, BASIC_NUMERIC_TYPES):
            return str(value)
        raise AnymailSerializationError(
            "SendGrid legacy substitutions require string values."
            f" Don't know how to handle {type(value).__name__}.",
            email_message=self.message,
            backend=self.backend,
            payload=self,
        )

    def _assign_message_ids(self, personalizations):
        for personalization in personalizations:
            message_id = str(uuid.uuid4())
            personalization["custom_args"] = {
                **personalization.get("custom_args", {}),
                "anymail_id": message_id,
            }
            for field in RECIPIENT_FIELDS:
                for recipient in personalization.get(field) or []:
                    self.message_ids[recipient.get("email")] = message_id

    def _address(self, email):
        return email.as_dict(idna_encode=self.backend.idna_encode)

    # -- Django message attributes --------------------------------------------

    def set_from_email(self, email):
        self.data["from"] = self._address(email)

    def set_recipients(self, recipient_type, emails):
        if not emails:
            return
        addresses = [self._address(email) for email in emails]
        self.personalization[recipient_type] = addresses
        for email, address in zip(emails, addresses, strict=True):
            self.recipients.append((email.addr_spec, address["email"]))
            self.message_addr_specs.setdefault(address["email"], email.addr_spec)

    def set_subject(self, subject):
        if subject != "":  # (an empty subject lets a template's apply)
            self.data["subject"] = subject

    def set_reply_to(self, emails):
        if emails:
            self.data["reply_to_list"] = [self._address(email) for email in emails]

    def set_extra_headers(self, headers):
        self.data["headers"] = stringify_numbers(headers)

    def set_text_body(self, body):
        if body != "":
            self._add_content("text/plain", body)

    def set_html_body(self, body):
        if body != "":
            self._add_content("text/html", body)

    def add_alternative(self, content, mimetype):
        self._add_content(mimetype, content)  # SendGrid accepts any type

    def _add_content(self, mimetype, value):
        content = self.data.setdefault("content", [])
        insort(content, {"type": mimetype, "value": value}, key=content_rank)

    def add_attachment(self, attachment):
        if (
            attachment.maintype == "text"
            and isinstance(attachment.content, str)
            and attachment.charset.lower() != "utf-8"
        ):
            # SendGrid mishandles other charsets: send the text as UTF-8
            content = Base64Bytes(attachment.content_utf8_bytes)
            content_type = f'{attachment.mimetype}; charset="utf-8"'
        else:
            content = Base64Bytes(attachment.content_bytes)
            content_type = attachment.content_type
        item = {
            "content": content,
            "type": content_type,
            "filename": attachment.name or "",
        }
        if attachment.inline:
            item["disposition"] = "inline"
            item["content_id"] = attachment.cid
        self.data.setdefault("attachments", []).append(item)

    # -- Anymail additions ----------------------------------------------------

    def set_metadata(self, metadata):
        self.data["custom_args"] = stringify_numbers(metadata)

    def set_send_at(self, send_at):
        if isinstance(send_at, datetime):
            send_at = int(send_at.timestamp())
        self.data["send_at"] = send_at  # (anything else is sent as given)

    def set_tags(self, tags):
        self.data["categories"] = tags

    def _tracking_setting(self, name, enable):
        tracking_settings = self.data.setdefault("tracking_settings", {})
        tracking_settings[name] = {"enable": enable}

    def set_track_clicks(self, track_clicks):
        self._tracking_setting("click_tracking", track_clicks)

    def set_track_opens(self, track_opens):
        self._tracking_setting("open_tracking", track_opens)

    def set_template_id(self, template_id):
        self.data["template_id"] = template_id
        self.use_dynamic_template = isinstance(
            template_id, str
        ) and template_id.startswith("d-")

    def set_merge_global_data(self, merge_global_data):
        self.merge_global_data = merge_global_data

    def set_esp_extra(self, extra):
        extra = dict(extra)
        if "x-smtpapi" in extra:
            raise AnymailConfigurationError(X_SMTPAPI_ERROR)
        if "merge_field_format" in extra:
            self.merge_field_format = extra.pop("merge_field_format")
        if "use_dynamic_template" in extra:
            self.use_dynamic_template = extra.pop("use_dynamic_template")
        if "personalizations" in extra:
            personalizations = extra.pop("personalizations")
            if isinstance(personalizations, Mapping):
                self.personalization.update(personalizations)
            else:
                self.custom_personalizations = personalizations
        update_deep(self.data, extra)

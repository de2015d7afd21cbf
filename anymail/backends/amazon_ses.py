"""Amazon SES: sends through the SES v2 API with boto3's "sesv2" client.

Messages without a template are rendered to raw MIME by Django and sent with
SendEmail; messages with a template_id use SendBulkEmail (one entry per `to`).
"""

import copy
from email import encoders
from email.message import Message

from ..exceptions import AnymailAPIError, AnymailImproperlyInstalled
from ..message import AnymailRecipientStatus
from ..utils import (
    UNSET,
    CaseInsensitiveCasePreservingDict,
    force_non_lazy,
    get_anymail_setting,
    last,
)
from .base import AnymailBaseBackend, BasePayload, DeferredMergeMixin

try:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from .._boto import boto_client_config
except ImportError as err:
    raise AnymailImproperlyInstalled(
        missing_package="boto3", install_extra="amazon-ses"
    ) from err

SES_SERVICE_NAME = "sesv2"

# Standard EmailMessage attributes (rendered by Django into the raw MIME)
RAW_MIME_ATTRS = tuple(attr for attr, _, _ in BasePayload.base_message_attrs)

# Raw MIME sends leave these to Django: skip normalizing (copying) their content
RAW_MIME_UNCONVERTED_ATTRS = ("alternatives", "attachments")

# What the raw MIME sends use instead of 8bit, by main content type
REENCODERS_8BIT = {"text": encoders.encode_quopri}
DEFAULT_REENCODER_8BIT = encoders.encode_base64


class EmailBackend(AnymailBaseBackend):
    """Amazon SES v2 Email Backend (using boto3)."""

    esp_name = "Amazon SES"

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        # Copies: the settings' own dicts must never be changed
        self.session_params = dict(
            get_anymail_setting(
                "session_params", esp_name=esp_name, kwargs=kwargs, default={}
            )
        )
        client_params = dict(
            get_anymail_setting(
                "client_params", esp_name=esp_name, kwargs=kwargs, default={}
            )
        )
        self.configuration_set_name = get_anymail_setting(
            "configuration_set_name", esp_name=esp_name, kwargs=kwargs, default=None
        )
        self.message_tag_name = get_anymail_setting(
            "message_tag_name", esp_name=esp_name, kwargs=kwargs, default=None
        )
        client_params["config"] = boto_client_config(
            esp_name, client_params.get("config")
        )
        self.client_params = client_params
        super().__init__(**kwargs)
        self.client = None

    def open(self):
        if self.client is not None:
            return False
        try:
            # A new Session each time: boto3 sessions aren't thread-safe
            session = boto3.session.Session(**self.session_params)
            self.client = session.client(SES_SERVICE_NAME, **self.client_params)
        except Exception:
            if not self.fail_silently:
                raise
        return True

    def close(self):
        if self.client is None:
            return
        try:
            self.client.close()
        finally:
            self.client = None

    def build_message_payload(self, message, defaults):
        template_id = last(
            defaults.get("template_id", UNSET), getattr(message, "template_id", UNSET)
        )
        if template_id is not UNSET:
            # (SendBulkEmail also covers single-recipient template sends)
            return AmazonSESV2SendBulkEmailPayload(message, defaults, self)
        return AmazonSESV2SendEmailPayload(message, defaults, self)

    def post_to_esp(self, payload, message):
        if self.client is None:
            if self.fail_silently:
                raise AnymailAPIError(
                    f"No {self.esp_name} client is open", backend=self
                )
            raise RuntimeError(
                "Amazon SES client not open: "
                "send through send_messages() or call open() first"
            )
        params = payload.get_api_call_data()
        try:
            return getattr(self.client, payload.api_name)(**params)
        except (BotoCoreError, ClientError) as err:
            # (BotoCoreError covers ConnectionError, ParamValidationError,
            # NoCredentialsError; only ClientError has a parsed response)
            raise AnymailAPIError(
                str(err),
                backend=self,
                email_message=message,
                payload=payload,
                response=err.response if isinstance(err, ClientError) else None,
            ) from err

    def parse_recipient_status(self, response, payload, message):
        return payload.parse_recipient_status(response)


class AmazonSESBaseV2Payload(BasePayload):
    """Keyword params for one sesv2 client call (named by `api_name`)."""

    api_name = None
    email_tags_param = None  # where the AMAZON_SES_MESSAGE_TAG_NAME tag goes

    def init_payload(self):
        self.params = {}
        if self.backend.configuration_set_name is not None:
            self.params["ConfigurationSetName"] = self.backend.configuration_set_name
        self.esp_extra = {}

    def get_api_call_data(self):
        """The call's keyword params: message fields, then esp_extra on top."""
        self.finalize_params()
        return {**self.params, **self.esp_extra}

    def finalize_params(self):
        """Add the params that need every attribute processed first."""

    def parse_recipient_status(self, response):
        raise NotImplementedError(
            f"{type(self).__name__} must implement parse_recipient_status"
        )

    # -- helpers ------------------------------------------------------------

    def format_address(self, email):
        """A full address SES can use in a header: RFC 2047 name, IDNA domain."""
        return email.format(use_rfc2047=True, idna_encode=self.backend.idna_encode)

    def format_addr_spec(self, email):
        return email.format_addr_spec(idna_encode=self.backend.idna_encode)

    def result_error(self, message, response):
        return AnymailAPIError(
            message,
            backend=self.backend,
            email_message=self.message,
            payload=self,
            response=response,
        )

    def parse_error(self, err, response):
        return self.result_error(
            f"{err} parsing {self.esp_name} send result {response!r}", response
        )

    # -- setters shared by both calls ---------------------------------------

    def set_envelope_sender(self, email):
        # SES keeps its own MAIL FROM; bounces are forwarded to this address
        self.params["FeedbackForwardingEmailAddress"] = self.format_addr_spec(email)

    def set_tags(self, tags):
        tag_name = self.backend.message_tag_name
        if tag_name is None:
            return
        if len(tags) > 1:
            self.unsupported_feature(
                "multiple tags with the AMAZON_SES_MESSAGE_TAG_NAME setting"
            )
        if tags:
            self.params[self.email_tags_param] = [{"Name": tag_name, "Value": tags[0]}]

    def set_esp_extra(self, extra):
        self.esp_extra = extra  # (shallow update of the params, applied last)


class AmazonSESV2SendEmailPayload(AmazonSESBaseV2Payload):
    """SendEmail with the whole message as raw MIME, rendered by Django."""

    api_name = "send_email"
    email_tags_param = "EmailTags"

    # Django renders the bodies and attachments straight from the message
    base_message_attrs = tuple(
        (attr, combiner, None if attr in RAW_MIME_UNCONVERTED_ATTRS else converter)
        for attr, combiner, converter in BasePayload.base_message_attrs
    )

    def init_payload(self):
        super().init_payload()
        # Send defaults can't change what Django renders from the message itself
        for attr in RAW_MIME_ATTRS:
            if attr in self.defaults:
                self.unsupported_feature(
                    f"Anymail send defaults for '{attr}' with {self.esp_name}"
                )
        self.defaults = {
            attr: value
            for attr, value in self.defaults.items()
            if attr not in RAW_MIME_ATTRS
        }
        self.destination = {}
        self.all_recipients = []  # EmailAddress, for the recipient status
        self.mime_overrides = {}  # message attrs to render differently
        self.mime_headers = []  # (name, value) added to the rendered MIME

    def finalize_params(self):
        if self.destination:
            self.params["Destination"] = self.destination
        self.params["Content"] = {"Raw": {"Data": self.render_mime()}}

    def render_mime(self):
        """The message as 7-bit clean MIME bytes.

        Django renders a copy of the message whose addresses are the
        normalized, IDNA-encoded ones (the caller's message is not changed).
        """
        source = copy.copy(self.message)
        for attr, value in self.mime_overrides.items():
            setattr(source, attr, value)
        if getattr(source, "attachments", None):
            source.attachments = _isolate_8bit_mime(source.attachments)
        mime = source.message()
        for name, value in self.mime_headers:
            mime[name] = value
        _reencode_8bit_parts(mime)
        return mime.as_bytes()

    def parse_recipient_status(self, response):
        try:
            message_id = response["MessageId"]
        except (KeyError, TypeError) as err:
            raise self.parse_error(err, response) from None
        status = AnymailRecipientStatus(message_id=message_id, status="queued")
        return {email.addr_spec: status for email in self.all_recipients}

    # -- setters ------------------------------------------------------------

    def set_from_email(self, email):
        # (SES takes the sender from the MIME From header)
        self.mime_overrides["from_email"] = self.format_mime_address(email)

    def set_recipients(self, recipient_type, emails):
        self.all_recipients.extend(emails)
        if emails:
            key = f"{recipient_type.capitalize()}Addresses"
            self.destination[key] = [self.format_addr_spec(email) for email in emails]
        if recipient_type != "bcc":
            self.mime_overrides[recipient_type] = [
                self.format_mime_address(email) for email in emails
            ]

    def set_spoofed_to_header(self, header_to):
        # The MIME To shows the header; Destination has the real recipients
        self.mime_overrides["to"] = [header_to]

    def set_reply_to(self, emails):
        self.mime_overrides["reply_to"] = [
            self.format_mime_address(email) for email in emails
        ]

    def set_subject(self, subject):
        pass  # rendered by Django

    def set_extra_headers(self, headers):
        pass  # rendered by Django

    def set_body(self, body):
        subtype = getattr(self.message, "content_subtype", "plain")
        if subtype not in ("plain", "html"):
            self.unsupported_feature(f"alternative part with type 'text/{subtype}'")

    def set_alternatives(self, alternatives):
        pass  # rendered by Django: any number, of any type

    def set_attachments(self, attachments):
        pass  # rendered by Django

    def set_metadata(self, metadata):
        self.mime_headers.append(("X-Metadata", self.serialize_json(metadata)))

    def set_tags(self, tags):
        super().set_tags(tags)
        self.mime_headers.extend(("X-Tag", tag) for tag in tags)

    def set_merge_data(self, merge_data):
        self.unsupported_feature("merge_data without template_id")

    def set_merge_global_data(self, merge_global_data):
        self.unsupported_feature("global_merge_data without template_id")

    def set_merge_headers(self, merge_headers):
        self.unsupported_feature("merge_headers without template_id")

    def set_merge_metadata(self, merge_metadata):
        self.unsupported_feature("merge_metadata")

    # -- helpers ------------------------------------------------------------

    def format_mime_address(self, email):
        # Django quotes and RFC 2047 encodes the display name itself
        return email.format(idna_encode=self.backend.idna_encode)


def _isolate_8bit_mime(attachments):
    """attachments, with MIME objects that have 8bit parts replaced by copies.

    The 8bit re-encoding changes parts in place, and Django puts MIME
    attachments (and forwarded email.message.Message content) into the
    rendered message as they are: those belong to the caller.
    """
    isolated = []
    for attachment in attachments:
        if isinstance(attachment, Message):
            if _has_8bit_part(attachment):
                attachment = copy.deepcopy(attachment)
        elif isinstance(attachment[1], Message) and _has_8bit_part(attachment[1]):
            name, content, mimetype = attachment
            attachment = (name, copy.deepcopy(content), mimetype)
        isolated.append(attachment)
    return isolated


def _has_8bit_part(mime):
    return any(part.get("Content-Transfer-Encoding") == "8bit" for part in mime.walk())


def _reencode_8bit_parts(mime):
    """Re-encode 8bit parts as quoted-printable (text) or base64 (others).

    (SES open and click tracking can corrupt 8bit bodies.)
    """
    for part in mime.walk():
        if part.is_multipart() or part.get("Content-Transfer-Encoding") != "8bit":
            continue
        del part["Content-Transfer-Encoding"]  # (the payload is then raw bytes)
        encode = REENCODERS_8BIT.get(
            part.get_content_maintype(), DEFAULT_REENCODER_8BIT
        )
        encode(part)


class AmazonSESV2SendBulkEmailPayload(DeferredMergeMixin, AmazonSESBaseV2Payload):
    """SendBulkEmail with a stored SES template: one entry per `to` recipient."""

    api_name = "send_bulk_email"
    email_tags_param = "DefaultEmailTags"

    def init_payload(self):
        super().init_payload()
        self.to_emails = []
        self.shared_destination = {}  # cc and bcc, repeated in every entry
        self.extra_headers = {}
        self.metadata = {}
        self.tags = []
        self.merge_data = {}
        self.merge_headers = {}
        self.merge_metadata = {}

    def finalize_params(self):
        self.params["BulkEmailEntries"] = [
            self.bulk_email_entry(email) for email in self.to_emails
        ]

    def bulk_email_entry(self, to_email):
        key = to_email.addr_spec
        destination = {"ToAddresses": [self.format_address(to_email)]}
        destination.update(self.shared_destination)
        template_data = self.serialize_json(self.merge_data.get(key, {}))
        entry = {
            "Destination": destination,
            "ReplacementEmailContent": {
                "ReplacementTemplate": {"ReplacementTemplateData": template_data}
            },
        }
        headers = self.replacement_headers(key)
        if headers:
            entry["ReplacementHeaders"] = headers
        return entry

    def replacement_headers(self, key):
        """The recipient's headers, then X-Metadata, then X-Tag items."""
        headers = CaseInsensitiveCasePreservingDict(self.extra_headers)
        headers.update(self.merge_headers.get(key) or {})
        result = [
            {"Name": force_non_lazy(name), "Value": force_non_lazy(value)}
            for name, value in headers.items()
        ]
        metadata = {**self.metadata, **self.merge_metadata.get(key, {})}
        if metadata:
            result.append(
                {"Name": "X-Metadata", "Value": self.serialize_json(metadata)}
            )
        result.extend({"Name": "X-Tag", "Value": tag} for tag in self.tags)
        return result

    def parse_recipient_status(self, response):
        try:
            results = response["BulkEmailEntryResults"]
            statuses = [
                (result["Status"], result.get("MessageId")) for result in results
            ]
        except (AttributeError, KeyError, TypeError) as err:
            raise self.parse_error(err, response) from None
        if len(statuses) != len(self.to_emails):
            raise self.result_error(
                f"Sent to {len(self.to_emails)} destinations, but only "
                f"{len(statuses)} statuses in {self.esp_name} send result {response!r}",
                response,
            )
        codes = {code for code, _ in statuses}
        if len(codes) == 1 and "SUCCESS" not in codes:
            # The same failure for everyone: report it as an error
            first = results[0]
            raise self.result_error(first.get("Error") or first["Status"], response)
        return {
            email.addr_spec: AnymailRecipientStatus(
                message_id=message_id,
                status="queued" if code == "SUCCESS" else "failed",
            )
            for email, (code, message_id) in zip(self.to_emails, statuses, strict=True)
        }

    # -- setters ------------------------------------------------------------

    def set_from_email(self, email):
        self.params["FromEmailAddress"] = self.format_address(email)

    def set_recipients(self, recipient_type, emails):
        if recipient_type == "to":
            self.to_emails.extend(emails)
        elif emails and recipient_type == "cc":
            self.shared_destination["CcAddresses"] = [
                self.format_address(email) for email in emails
            ]
        elif emails:
            self.shared_destination["BccAddresses"] = [
                self.format_addr_spec(email) for email in emails
            ]

    def set_subject(self, subject):
        if subject:
            self.unsupported_feature("overriding template subject")

    def set_reply_to(self, emails):
        if emails:
            self.params["ReplyToAddresses"] = [
                self.format_address(email) for email in emails
            ]

    def set_extra_headers(self, headers):
        self.extra_headers = headers

    def set_text_body(self, body):
        if body:
            self.unsupported_feature("overriding template body content")

    def set_html_body(self, body):
        if body:
            self.unsupported_feature("overriding template body content")

    def set_attachments(self, attachments):
        if attachments:
            self.unsupported_feature("attachments with template")

    def set_metadata(self, metadata):
        self.metadata = metadata

    def set_tags(self, tags):
        super().set_tags(tags)
        self.tags = tags

    def set_template_id(self, template_id):
        self.params["DefaultContent"] = {"Template": {"TemplateName": template_id}}

    def set_merge_global_data(self, merge_global_data):
        template = self.params["DefaultContent"]["Template"]
        template["TemplateData"] = self.serialize_json(merge_global_data)

    def set_merge_headers(self, merge_headers):
        self.merge_headers = merge_headers or {}  # (None still makes a batch)

    def set_merge_metadata(self, merge_metadata):
        self.merge_metadata = merge_metadata

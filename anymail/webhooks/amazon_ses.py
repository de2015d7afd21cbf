"""Amazon SES webhooks, delivered through Amazon SNS.

SES publishes its events to an SNS topic, and an HTTP(S) subscription to that
topic posts each SNS message to Anymail. `AmazonSESBaseWebhookView` handles
the SNS side (consistency checks, the basic auth challenge, subscription
confirmation); `AmazonSESTrackingWebhookView` turns the SES sending event in a
notification into tracking events, one per affected recipient;
`AmazonSESInboundWebhookView` turns an SES receipt notification into one
inbound event, with the message taken from the notification itself (SNS
receipt action) or streamed from S3 (S3 receipt action), optionally decrypted
with the S3 Encryption Client.

boto3 is optional for Anymail as a whole: this module imports without it, and
the views raise AnymailImproperlyInstalled when they are created. The S3
Encryption Client (amazon-s3-encryption-client-python) is needed only to fetch
KMS-encrypted messages.
"""

import functools
import json
from base64 import b64decode
from collections.abc import Mapping
from contextlib import ExitStack, closing
from datetime import timezone

from django.http import HttpResponse

from ..exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailWebhookValidationFailure,
)
from ..inbound import AnymailInboundMessage
from ..signals import (
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    RejectReason,
    inbound,
    tracking,
)
from ..utils import DEFAULT_DOWNLOAD_CHUNK_SIZE, get_anymail_setting
from .base import AnymailBaseWebhookView, esp_api_errors, optional_iso_datetime


class _NotInstalledError(Exception):
    """Stands in for an exception class from a package that isn't installed.

    Nothing ever raises it, so `except` clauses naming it match nothing (and,
    being a real exception class, it is valid in them and as a base class).
    """


try:
    import boto3
    from botocore.exceptions import ClientError

    from .._boto import boto_client_config
except ImportError:
    # Reported when a view is created (see AmazonSESBaseWebhookView.__init__)
    boto3 = None
    boto_client_config = None
    ClientError = _NotInstalledError

try:
    from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
    from s3_encryption.exceptions import S3EncryptionClientSecurityError
    from s3_encryption.materials.kms_keyring import KmsKeyring
    from s3_encryption.materials.materials import CommitmentPolicy
except ImportError:
    # Needed only for KMS-encrypted S3 messages: reported when one is fetched
    S3EncryptionClient = None
    S3EncryptionClientConfig = None
    KmsKeyring = None
    CommitmentPolicy = None
    S3EncryptionClientSecurityError = _NotInstalledError

S3_ENCRYPTION_PACKAGE = "amazon-s3-encryption-client-python"


class AnymailBotoClientAPIError(AnymailAPIError, ClientError):
    """An AnymailAPIError that is also the botocore ClientError it came from.

    It keeps that error's `response` (AWS's parsed error) and `operation_name`,
    so code written for either class can inspect it. The original error is
    also its __cause__ (and so part of its str()).
    """

    def __init__(self, message, *, client_error):
        # ClientError's __init__ doesn't cooperate with other bases, so set up
        # both sides here
        ClientError.__init__(self, client_error.response, client_error.operation_name)
        self.args = (message,)
        _set_anymail_error_fields(self)

    def __reduce__(self):
        # (ClientError's own pickling would call __init__ with its arguments)
        client_error = ClientError(self.response, self.operation_name)
        rebuild = functools.partial(type(self), client_error=client_error)
        return rebuild, self.args, self.__dict__


class AnymailBotoClientSecurityError(AnymailAPIError, S3EncryptionClientSecurityError):
    """An AnymailAPIError that is also an S3 Encryption Client security error.

    Raised when a KMS-encrypted S3 message fails decryption or authentication
    (for example, it was tampered with). Its botocore-style `kwargs["msg"]` is
    the original error's message; the original is also its __cause__.
    """

    def __init__(self, message, *, security_error):
        Exception.__init__(self, message)
        _set_anymail_error_fields(self)
        original_kwargs = getattr(security_error, "kwargs", None) or {}
        self.kwargs = {"msg": original_kwargs.get("msg", str(security_error))}

    def __reduce__(self):
        # (botocore-style errors pickle as their kwargs, which __init__ doesn't take)
        rebuild = functools.partial(
            type(self), security_error=Exception(self.kwargs["msg"])
        )
        return rebuild, self.args, self.__dict__


def _set_anymail_error_fields(error):
    """The attributes AnymailError.__init__ would set, for a webhook error."""
    error.backend = None
    error.email_message = None
    error.payload = None
    error.status_code = None
    error.esp_name = "Amazon SES"


#: What the consistency checks report for a missing header or body field
MISSING = "<<missing>>"

SNS_NOTIFICATION = "Notification"
SNS_SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
SNS_UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
SNS_MESSAGE_TYPES = (
    SNS_NOTIFICATION,
    SNS_SUBSCRIPTION_CONFIRMATION,
    SNS_UNSUBSCRIBE_CONFIRMATION,
)

#: The (non-JSON) notification SES sends when an event destination is created
SES_TOPIC_VALIDATED_MESSAGE = (
    "Successfully validated SNS topic for Amazon SES event publishing."
)

#: The realm of the 401 challenge that makes SNS send its basic auth credentials
BASIC_AUTH_REALM = "Anymail WEBHOOK_SECRET"


class AmazonSESBaseWebhookView(AnymailBaseWebhookView):
    """The Amazon SNS handling that SES's tracking and inbound webhooks share.

    Subclasses set `signal` and implement `events_from_ses_event`, which gets
    the parsed SES event from each SNS Notification.
    """

    esp_name = "Amazon SES"

    # Settings, read in __init__ (class attributes so as_view() accepts them)
    auto_confirm_sns_subscriptions = True
    session_params = None
    client_params = None

    def __init__(self, **kwargs):
        if boto3 is None:
            raise AnymailImproperlyInstalled(
                missing_package="boto3", install_extra="amazon-ses"
            )
        esp_name = self.esp_name
        self.auto_confirm_sns_subscriptions = get_anymail_setting(
            "auto_confirm_sns_subscriptions",
            esp_name=esp_name,
            kwargs=kwargs,
            default=True,
        )
        # Copies: the settings' own dicts must never be changed
        self.session_params = dict(
            get_anymail_setting(
                "session_params", esp_name=esp_name, kwargs=kwargs, default={}
            )
            or {}
        )
        self.client_params = dict(
            get_anymail_setting(
                "client_params", esp_name=esp_name, kwargs=kwargs, default={}
            )
            or {}
        )
        self._sns_message = None
        super().__init__(**kwargs)

    def post(self, request, *args, **kwargs):
        # SNS sends the credentials from the subscription URL only after it is
        # challenged for them, so answer a request without any with a 401
        # (before looking at anything else).
        if self.basic_auth and not request.META.get("HTTP_AUTHORIZATION"):
            return basic_auth_challenge_response()
        return super().post(request, *args, **kwargs)

    def validate_request(self, request):
        sns_message = self.load_sns_message(request)
        header_type = request.headers.get("x-amz-sns-message-type", MISSING)
        body_type = sns_message.get("Type", MISSING)
        if header_type != body_type:
            raise AnymailWebhookValidationFailure(
                f'SNS header "x-amz-sns-message-type: {header_type}"'
                f' doesn\'t match body "Type": "{body_type}"'
            )
        if body_type not in SNS_MESSAGE_TYPES:
            raise ValueError(f"Unknown SNS message type {body_type!r}")
        header_id = request.headers.get("x-amz-sns-message-id", MISSING)
        body_id = sns_message.get("MessageId", MISSING)
        if header_id != body_id:
            raise AnymailWebhookValidationFailure(
                f'SNS header "x-amz-sns-message-id: {header_id}"'
                f' doesn\'t match body "MessageId": "{body_id}"'
            )

    def load_sns_message(self, request):
        """The posted SNS message (a dict), parsed once per request.

        Raises ValueError for a body that isn't a JSON object (so the base
        view answers 400).
        """
        if self._sns_message is None:
            try:
                body = request.body.decode(request.encoding or "utf-8")
                sns_message = json.loads(body)
            except ValueError as err:  # (includes UnicodeDecodeError)
                raise ValueError(f"Malformed SNS message body: {err}") from err
            if not isinstance(sns_message, dict):
                raise ValueError("Malformed SNS message body: not a JSON object")
            self._sns_message = sns_message
        return self._sns_message

    def parse_events(self, request):
        sns_message = self.load_sns_message(request)
        sns_type = sns_message["Type"]
        if sns_type == SNS_NOTIFICATION:
            ses_event = self.load_ses_event(sns_message)
            if ses_event is None:
                return []
            return self.events_from_ses_event(ses_event, sns_message)
        if sns_type == SNS_SUBSCRIPTION_CONFIRMATION:
            self.confirm_sns_subscription(sns_message)
        # (an UnsubscribeConfirmation needs nothing done)
        return []

    def load_ses_event(self, sns_message):
        """The SES event (a dict) in an SNS Notification's Message.

        None for SES's "topic validated" notice, which has nothing to report.
        """
        message = sns_message["Message"]
        try:
            ses_event = json.loads(message)
        except ValueError as err:
            if message == SES_TOPIC_VALIDATED_MESSAGE:
                return None
            raise ValueError(f"Unparsable SNS Message {message!r}") from err
        if not isinstance(ses_event, dict):
            raise ValueError(f"Unparsable SNS Message {message!r}: not a JSON object")
        return ses_event

    def events_from_ses_event(self, ses_event, sns_message):
        """The list of AnymailEvents for an SES event (from a Notification)."""
        raise NotImplementedError()

    def confirm_sns_subscription(self, sns_message):
        """Confirm the SNS subscription, with SNS's ConfirmSubscription API.

        (Never by fetching the message's SubscribeURL, which would confirm
        whatever URL a forged message pointed to.) Confirming is allowed only
        when the webhook requires basic auth: the subscription will then post
        with the credentials from its URL.
        """
        if not self.auto_confirm_sns_subscriptions:
            return
        topic_arn = sns_message["TopicArn"]
        token = sns_message["Token"]
        if not self.basic_auth:
            raise AnymailWebhookValidationFailure(
                "Anymail received an unexpected SubscriptionConfirmation request"
                f" for Amazon SNS topic '{topic_arn}'. (Anymail can automatically"
                " confirm SNS subscriptions if you set a WEBHOOK_SECRET and use"
                " that in your SNS notification url. Or you can manually confirm"
                " this subscription in the SNS dashboard with token"
                f" '{token}'.)"
            )
        # The topic's own region, whatever region the client settings name
        region = _arn_region(topic_arn)
        with esp_api_errors(self.esp_name, f"confirm SNS subscription {topic_arn}"):
            client = self.create_boto_client("sns", region_name=region)
            try:
                client.confirm_subscription(
                    TopicArn=topic_arn, Token=token, AuthenticateOnUnsubscribe="true"
                )
            finally:
                client.close()

    def create_boto_client(self, service_name, **overrides):
        """A new boto3 client for `service_name`, from a new boto3 Session.

        Uses the AMAZON_SES_SESSION_PARAMS and AMAZON_SES_CLIENT_PARAMS
        settings (updated with `overrides`), and Anymail's user agent. The
        caller must close it. (A new Session each time: boto3 sessions aren't
        thread-safe.)
        """
        client_params = {**self.client_params, **overrides}
        client_params["config"] = boto_client_config(
            self.esp_name, client_params.get("config")
        )
        session = boto3.session.Session(**self.session_params)
        return session.client(service_name, **client_params)


class AmazonSESTrackingWebhookView(AmazonSESBaseWebhookView):
    """SES sending events (event publishing, or the older notifications)."""

    signal = tracking

    def events_from_ses_event(self, ses_event, sns_message):
        # Event publishing calls it eventType; notifications notificationType
        if "eventType" in ses_event:
            ses_type = ses_event["eventType"]
        else:
            ses_type = ses_event.get("notificationType", "<<type missing>>")
        if ses_type == "Received":
            raise AnymailConfigurationError(
                "You seem to have set an Amazon SES *inbound* receipt rule to"
                " publish to an SNS Topic that posts to Anymail's *tracking*"
                f" webhook URL. (SNS TopicArn {sns_message.get('TopicArn')})"
            )

        mail = ses_event.get("mail") or {}
        timestamp = _parse_sns_timestamp(sns_message.get("Timestamp"))

        def event(event_type, recipient, **fields):
            tags, metadata = _tags_and_metadata(mail)
            return AnymailTrackingEvent(
                event_type=event_type,
                timestamp=timestamp,
                event_id=sns_message.get("MessageId"),
                message_id=mail.get("messageId"),
                recipient=recipient,
                tags=tags,
                metadata=metadata,
                esp_event=ses_event,
                **fields,
            )

        if ses_type == "Bounce":
            bounce = ses_event["bounce"]
            description = f"{bounce['bounceType']}: {bounce['bounceSubType']}"
            return [
                event(
                    EventType.BOUNCED,
                    recipient["emailAddress"],
                    reject_reason=RejectReason.BOUNCED,
                    description=description,
                    mta_response=recipient.get("diagnosticCode"),
                )
                for recipient in bounce["bouncedRecipients"]
            ]
        if ses_type == "Complaint":
            complaint = ses_event["complaint"]
            return [
                event(
                    EventType.COMPLAINED,
                    recipient["emailAddress"],
                    reject_reason=RejectReason.SPAM,
                    description=complaint.get("complaintFeedbackType"),
                    user_agent=complaint.get("userAgent"),
                )
                for recipient in complaint["complainedRecipients"]
            ]
        if ses_type == "Delivery":
            delivery = ses_event["delivery"]
            return [
                event(
                    EventType.DELIVERED,
                    recipient,
                    mta_response=delivery.get("smtpResponse"),
                )
                for recipient in delivery["recipients"]
            ]

        # The other event types are about the whole message: SES doesn't say
        # which recipient (for example) opened it, so report every one
        if ses_type == "Send":
            event_type, fields = EventType.SENT, {}
        elif ses_type == "Reject":
            event_type = EventType.REJECTED
            fields = dict(
                reject_reason=RejectReason.BLOCKED,
                description=ses_event["reject"].get("reason"),
            )
        elif ses_type == "Open":
            event_type = EventType.OPENED
            fields = dict(user_agent=ses_event["open"].get("userAgent"))
        elif ses_type == "Click":
            click = ses_event["click"]
            event_type = EventType.CLICKED
            fields = dict(
                user_agent=click.get("userAgent"), click_url=click.get("link")
            )
        elif ses_type == "Rendering Failure":
            event_type = EventType.FAILED
            fields = dict(description=ses_event["failure"].get("errorMessage"))
        else:  # e.g. DeliveryDelay, Subscription
            event_type = EventType.UNKNOWN
            fields = dict(description=f"Unknown SES eventType '{ses_type}'")
        return [
            event(event_type, recipient, **fields)
            for recipient in mail.get("destination") or []
        ]


class AmazonSESInboundWebhookView(AmazonSESBaseWebhookView):
    """SES receipt notifications (from an SNS or S3 receipt rule action)."""

    signal = inbound

    def __init__(self, **kwargs):
        # Settings only (no as_view() kwargs): read before the base class init
        esp_name = self.esp_name
        self.kms_key_id = get_anymail_setting(
            "inbound_kms_key_id", esp_name=esp_name, default=None
        )
        self.download_chunk_size = get_anymail_setting(
            "download_chunk_size",
            esp_name=esp_name,
            default=DEFAULT_DOWNLOAD_CHUNK_SIZE,
        )
        super().__init__(**kwargs)

    def events_from_ses_event(self, ses_event, sns_message):
        if ses_event.get("notificationType") != "Received":
            raise AnymailConfigurationError(
                "You seem to have set an Amazon SES *sending* event or"
                " notification to publish to an SNS Topic that posts to"
                " Anymail's *inbound* webhook URL."
                f" (SNS TopicArn {sns_message.get('TopicArn')})"
            )
        mail = ses_event["mail"]
        receipt = ses_event["receipt"]
        action = receipt["action"]
        action_type = action["type"]

        # Everything but the message itself first, so a malformed
        # notification is refused before anything is downloaded
        envelope_sender = mail.get("source")
        recipients = receipt.get("recipients") or []
        envelope_recipient = recipients[0] if recipients else None
        spam_detected = _spam_verdict(receipt.get("spamVerdict"))
        timestamp = _parse_sns_timestamp(mail.get("timestamp"))
        event_id = mail.get("messageId")

        if action_type == "SNS":
            message = _parse_sns_content(ses_event["content"], action.get("encoding"))
        elif action_type == "S3":
            message = self.parse_s3_object(action["bucketName"], action["objectKey"])
        else:
            raise AnymailConfigurationError(
                "Anymail's Amazon SES inbound webhook works only with 'SNS' or"
                " 'S3' receipt rule actions, not SNS notifications for"
                f" {action_type} actions."
                f" (SNS TopicArn {sns_message.get('TopicArn')})"
            )

        message.envelope_sender = envelope_sender
        message.envelope_recipient = envelope_recipient
        message.spam_detected = spam_detected
        return [
            AnymailInboundEvent(
                event_type=EventType.INBOUND,
                timestamp=timestamp,
                event_id=event_id,
                esp_event=ses_event,
                message=message,
            )
        ]

    def parse_s3_object(self, bucket_name, object_key):
        """The AnymailInboundMessage in an S3 object, parsed as it streams in."""
        with closing(self._iter_s3_object(bucket_name, object_key)) as chunks:
            return AnymailInboundMessage.parse_raw_mime_chunks(chunks)

    def _iter_s3_object(self, bucket_name, object_key):
        """Yield an S3 object's content in pieces (decrypted, with a KMS key).

        Every client and the response body are closed when the iteration
        ends, whether it finishes, fails or is abandoned. (The S3 object is
        left in place.)
        """
        location = f"'{bucket_name}:{object_key}'"
        view_name = type(self).__name__
        with esp_api_errors(self.esp_name, f"download S3 object {location}"):
            try:
                with ExitStack() as cleanup:
                    # (ExitStack closes in reverse: body, then kms, then s3 client)
                    s3_client = self.create_boto_client("s3")
                    cleanup.callback(s3_client.close)
                    if self.kms_key_id:
                        kms_client = self.create_boto_client("kms")
                        cleanup.callback(kms_client.close)
                        source = self._decrypting_client(s3_client, kms_client)
                    else:
                        source = s3_client
                    response = source.get_object(Bucket=bucket_name, Key=object_key)
                    body = response["Body"]
                    cleanup.callback(body.close)
                    yield from body.iter_chunks(self.download_chunk_size)
            except ClientError as err:
                raise AnymailBotoClientAPIError(
                    f"Anymail {view_name} couldn't download S3 object {location}",
                    client_error=err,
                ) from err
            except S3EncryptionClientSecurityError as err:
                raise AnymailBotoClientSecurityError(
                    f"Anymail {view_name} failed decrypting S3 object {location}",
                    security_error=err,
                ) from err

    def _decrypting_client(self, s3_client, kms_client):
        """An S3 Encryption Client for SES's KMS-encrypted messages.

        SES encrypts with legacy KMS key wrapping and without key commitment,
        so both must be allowed for decryption. Delayed authentication streams
        the plaintext (the integrity check fails at the end if it's bad).
        """
        if KmsKeyring is None:
            raise AnymailImproperlyInstalled(
                missing_package=S3_ENCRYPTION_PACKAGE, install_extra="amazon-ses"
            )
        keyring = KmsKeyring(
            kms_client, self.kms_key_id, enable_legacy_wrapping_algorithms=True
        )
        config = S3EncryptionClientConfig(
            keyring,
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
            enable_delayed_authentication=True,
        )
        return S3EncryptionClient(s3_client, config)


def basic_auth_challenge_response():
    """A 401 that asks for WEBHOOK_SECRET basic auth credentials."""
    response = HttpResponse(status=401)
    response["WWW-Authenticate"] = f'Basic realm="{BASIC_AUTH_REALM}"'
    return response


def _arn_region(arn):
    """The region of an AWS ARN (arn:partition:service:region:account:resource).

    ValueError if it isn't an SNS-topic-style ARN of exactly six fields.
    """
    fields = arn.split(":")
    if len(fields) != 6:
        raise ValueError(f"Invalid ARN format '{arn}'")
    return fields[3]


def _parse_sns_timestamp(value):
    """An SNS ISO-8601 Timestamp as an aware UTC datetime (None if invalid)."""
    parsed = optional_iso_datetime(value)
    return None if parsed is None else parsed.astimezone(timezone.utc)


def _parse_sns_content(content, encoding):
    """The AnymailInboundMessage from an SNS receipt action's `content`.

    SES sends the raw message base64-encoded (BASE64) or as text (UTF8).
    Raises ValueError (or TypeError) for content that can't be decoded.
    """
    if str(encoding).upper() == "BASE64":
        raw = b64decode(content)
    else:
        raw = content.encode("utf-8")
    return AnymailInboundMessage.parse_raw_mime_bytes(raw)


def _spam_verdict(verdict):
    """spam_detected from an SES spamVerdict: True, False or None (unknown)."""
    status = verdict.get("status") if isinstance(verdict, Mapping) else None
    if not isinstance(status, str):
        return None
    return {"PASS": False, "FAIL": True}.get(status.upper())


def _tags_and_metadata(mail):
    """Anymail's tags and metadata, from the X-Tag and X-Metadata headers.

    SES includes the original headers only if the event destination asks for
    them (event publishing always does). Header names are compared without
    regard to case; every X-Tag is a tag; the last X-Metadata that is a JSON
    object is the metadata.
    """
    tags = []
    metadata = {}
    for header in mail.get("headers") or []:
        name = str(header.get("name", "")).lower()
        value = header.get("value")
        if name == "x-tag":
            tags.append(value)
        elif name == "x-metadata":
            try:
                parsed = json.loads(value)
            except (TypeError, ValueError):
                continue
            if isinstance(parsed, dict):
                metadata = parsed
    return tags, metadata

"""Exceptions and warnings raised by Anymail."""

import json
import traceback

from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from requests import HTTPError

try:  # Django >= 6.1
    from django.core.mail import InvalidMailer as _DjangoInvalidMailer
except ImportError:  # pragma: no cover - depends on the Django version

    class _DjangoInvalidMailer(ImproperlyConfigured):
        """Stand-in for Django 6.1's InvalidMailer; accepts and ignores `alias`."""

        def __init__(self, *args, alias=None):
            super().__init__(*args)


class AnymailError(Exception):
    """Base class for exceptions raised by Anymail while sending.

    Optional kwargs describe the context of the failure; all are stored as
    same-named attributes (default None).
    """

    def __init__(self, *args, **kwargs):
        self.backend = kwargs.pop("backend", None)
        self.email_message = kwargs.pop("email_message", None)
        self.payload = kwargs.pop("payload", None)
        self.status_code = kwargs.pop("status_code", None)
        self.esp_name = kwargs.pop(
            "esp_name", self.backend.esp_name if self.backend else None
        )
        if isinstance(self, HTTPError):
            # requests.HTTPError handles `response` (and sets `request` from it)
            super().__init__(*args, **kwargs)
        else:
            self.response = kwargs.pop("response", None)
            super().__init__(*args, **kwargs)

    def __str__(self):
        parts = [
            " ".join(str(arg) for arg in self.args),
            self._describe_cause(),
            self._describe_response(),
        ]
        return "\n".join(part for part in parts if part)

    def _describe_cause(self):
        cause = self.__cause__
        if cause is None:
            return ""
        return "".join(traceback.format_exception_only(type(cause), cause)).rstrip()

    def _describe_response(self):
        if self.status_code is None:
            return ""
        description = "{esp} API response {code} ({reason})".format(
            esp=self.esp_name or "ESP",
            code=self.status_code,
            reason=_decode_reason(getattr(self.response, "reason", "")),
        )
        try:
            body = self.response.json()
        except (AttributeError, ValueError):
            text = getattr(self.response, "text", None)
            if text is not None:
                description += ": " + repr(text)
        else:
            description += ":\n" + json.dumps(body, indent=2)
        return description


def _decode_reason(reason):
    if isinstance(reason, bytes):
        try:
            return reason.decode("utf-8")
        except UnicodeDecodeError:
            return reason.decode("iso-8859-1")
    return reason


class AnymailAPIError(AnymailError):
    """The ESP API call failed or returned an error or unparseable response."""


class AnymailRequestsAPIError(AnymailAPIError, HTTPError):
    """An AnymailAPIError from a requests-based backend."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.response is not None:
            self.status_code = self.response.status_code


class AnymailRecipientsRefused(AnymailError):
    """Every recipient of the message was rejected or invalid."""

    def __init__(self, message=None, **kwargs):
        if message is None:
            message = "All message recipients were rejected or invalid"
        super().__init__(message, **kwargs)


class AnymailInvalidAddress(AnymailError, ValueError):
    """An email address could not be parsed or encoded."""


class AnymailUnsupportedFeature(AnymailError, ValueError):
    """The message uses a feature the ESP cannot express."""


class AnymailSerializationError(AnymailError, TypeError):
    """Payload data could not be serialized (usually to JSON)."""

    def __init__(self, message=None, orig_err=None, **kwargs):
        if message is None:
            esp_name = kwargs.get("esp_name")
            if esp_name is None and kwargs.get("backend") is not None:
                esp_name = kwargs["backend"].esp_name
            message = (
                f"Don't know how to send this data to {esp_name or 'the ESP'}. "
                "Try converting it to a string or number first."
            )
        if orig_err is not None:
            message += "\n" + str(orig_err)
        super().__init__(message, **kwargs)


class AnymailCancelSend(AnymailError):
    """Raise from a pre_send receiver to cancel sending a message, silently."""


class AnymailWebhookValidationFailure(AnymailError, SuspiciousOperation):
    """A webhook request failed authentication or signature validation."""


class AnymailConfigurationError(ImproperlyConfigured):
    """Anymail is missing a setting, or a setting is invalid."""


class AnymailInvalidMailer(AnymailConfigurationError, _DjangoInvalidMailer):
    """A configuration error in a backend built from Django's MAILERS setting."""

    def __init__(self, *args, alias=None):
        _DjangoInvalidMailer.__init__(self, *args, alias=alias)


class AnymailImproperlyInstalled(AnymailConfigurationError, ImportError):
    """An optional package that Anymail needs is not installed."""

    def __init__(self, missing_package, install_extra="<esp>", feature="this ESP"):
        self.missing_package = missing_package
        self.install_extra = install_extra
        self.feature = feature
        message = (
            f"The {missing_package} package isn't installed but is needed for "
            f"{feature}.\n"
            f'(Be sure to use `pip install "django-anymail[{install_extra}]"`.)'
        )
        super().__init__(message)

    def __reduce__(self):
        # (pickled as its arguments: its args hold the formatted message)
        arguments = (self.missing_package, self.install_extra, self.feature)
        return type(self), arguments, self.__dict__


class _LazyError:
    """An inert stand-in that raises `error` when called or any attribute is read.

    Used in place of an optional package that failed to import, so the failure
    surfaces only when the package is actually needed.
    """

    def __init__(self, error):
        object.__setattr__(self, "_error", error)

    def __call__(self, *args, **kwargs):
        raise object.__getattribute__(self, "_error")

    def __getattr__(self, name):
        raise object.__getattribute__(self, "_error")


class AnymailWarning(Warning):
    """Base warning for Anymail."""


class AnymailInsecureWebhookWarning(AnymailWarning):
    """A webhook view is configured without WEBHOOK_SECRET basic auth."""


class AnymailDeprecationWarning(AnymailWarning, DeprecationWarning):
    """An Anymail feature is deprecated and will be removed."""


class AnymailNotSupportedWarning(AnymailWarning):
    """An ESP integration is no longer officially supported."""

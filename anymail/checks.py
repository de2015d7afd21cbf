"""Django system checks for Anymail settings."""

import warnings

from django.conf import settings
from django.core import checks

from .utils import get_anymail_setting

SENDGRID_BACKEND = "anymail.backends.sendgrid.EmailBackend"
DEFAULT_DJANGO_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
RENAMED_HINT = "You must update your settings.py."


def get_configured_email_backends():
    """The set of backend paths configured in MAILERS, else EMAIL_BACKEND."""
    mailers = getattr(settings, "MAILERS", None)
    if mailers is not None:
        return {
            config.get("BACKEND", DEFAULT_DJANGO_BACKEND) for config in mailers.values()
        }
    with warnings.catch_warnings():
        # Django 6.1+ deprecates reading EMAIL_BACKEND (a PendingDeprecationWarning
        # until it becomes a DeprecationWarning); the check must stay quiet.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=PendingDeprecationWarning)
        return {settings.EMAIL_BACKEND}


def check_deprecated_settings(app_configs, **kwargs):
    errors = []
    anymail_settings = getattr(settings, "ANYMAIL", None) or {}
    if "WEBHOOK_AUTHORIZATION" in anymail_settings:
        errors.append(
            checks.Error(
                "The ANYMAIL setting 'WEBHOOK_AUTHORIZATION' has been renamed "
                "'WEBHOOK_SECRET' to improve security.",
                hint=RENAMED_HINT,
                id="anymail.E001",
            )
        )
    if hasattr(settings, "ANYMAIL_WEBHOOK_AUTHORIZATION"):
        errors.append(
            checks.Error(
                "The ANYMAIL_WEBHOOK_AUTHORIZATION setting has been renamed "
                "ANYMAIL_WEBHOOK_SECRET to improve security.",
                hint=RENAMED_HINT,
                id="anymail.E001",
            )
        )
    if SENDGRID_BACKEND in get_configured_email_backends():
        errors.append(
            checks.Warning(
                "django-anymail has dropped official support for SendGrid.",
                hint="See https://github.com/anymail/django-anymail/issues/432.",
                id="anymail.W003",
            )
        )
    return errors


def check_insecure_settings(app_configs, **kwargs):
    errors = []
    if get_anymail_setting("debug_api_requests", default=False) and not settings.DEBUG:
        errors.append(
            checks.Warning(
                "You have enabled the ANYMAIL setting DEBUG_API_REQUESTS, which can "
                "leak API keys and other sensitive data into logs or the console.",
                hint="You should not use DEBUG_API_REQUESTS in production deployment.",
                id="anymail.W002",
            )
        )
    return errors

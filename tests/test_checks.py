"""System checks (spec 9) and the app config."""

import warnings

import pytest
from django.apps import apps
from django.core import checks
from django.test import override_settings

from anymail.apps import AnymailBaseConfig
from anymail.checks import (
    check_deprecated_settings,
    check_insecure_settings,
    get_configured_email_backends,
)

# (Django 6.1 warns when override_settings touches EMAIL_BACKEND; the checks
# themselves are tested to stay quiet below.)
pytestmark = pytest.mark.filterwarnings(
    "ignore:The EMAIL_BACKEND setting is deprecated"
)

E001_DICT = checks.Error(
    "The ANYMAIL setting 'WEBHOOK_AUTHORIZATION' has been renamed 'WEBHOOK_SECRET'"
    " to improve security.",
    hint="You must update your settings.py.",
    id="anymail.E001",
)
E001_FLAT = checks.Error(
    "The ANYMAIL_WEBHOOK_AUTHORIZATION setting has been renamed"
    " ANYMAIL_WEBHOOK_SECRET to improve security.",
    hint="You must update your settings.py.",
    id="anymail.E001",
)
W002 = checks.Warning(
    "You have enabled the ANYMAIL setting DEBUG_API_REQUESTS, which can leak API"
    " keys and other sensitive data into logs or the console.",
    hint="You should not use DEBUG_API_REQUESTS in production deployment.",
    id="anymail.W002",
)
W003 = checks.Warning(
    "django-anymail has dropped official support for SendGrid.",
    hint="See https://github.com/anymail/django-anymail/issues/432.",
    id="anymail.W003",
)

SENDGRID = "anymail.backends.sendgrid.EmailBackend"
SMTP = "django.core.mail.backends.smtp.EmailBackend"


class TestAppConfig:
    def test_app_config(self):
        config = apps.get_app_config("anymail")
        assert isinstance(config, AnymailBaseConfig)
        assert config.name == "anymail"
        assert config.verbose_name == "Anymail"

    def test_checks_registered(self):
        registered = checks.registry.registry.get_checks()
        assert check_deprecated_settings in registered
        assert check_insecure_settings in registered

    @override_settings(
        ANYMAIL={"WEBHOOK_AUTHORIZATION": "u:p", "DEBUG_API_REQUESTS": True},
        DEBUG=False,
    )
    def test_run_checks(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            messages = checks.run_checks()
        assert E001_DICT in messages
        assert W002 in messages


class TestDeprecatedSettings:
    def test_nothing(self):
        assert check_deprecated_settings(None) == []

    def test_returns_plain_list(self):
        result = check_deprecated_settings(None)
        assert type(result) is list
        assert type(check_insecure_settings(None)) is list

    @override_settings(ANYMAIL={"WEBHOOK_AUTHORIZATION": "user:pass"})
    def test_webhook_authorization_in_anymail_dict(self):
        assert check_deprecated_settings(None) == [E001_DICT]

    @override_settings(ANYMAIL_WEBHOOK_AUTHORIZATION="user:pass")
    def test_flat_webhook_authorization(self):
        assert check_deprecated_settings(None) == [E001_FLAT]

    @override_settings(ANYMAIL_WEBHOOK_AUTHORIZATION=None)
    def test_flat_webhook_authorization_presence(self):
        assert check_deprecated_settings(None) == [E001_FLAT]

    @override_settings(
        ANYMAIL={"WEBHOOK_AUTHORIZATION": "user:pass"},
        ANYMAIL_WEBHOOK_AUTHORIZATION="user:pass",
        EMAIL_BACKEND=SENDGRID,
    )
    def test_all_in_order(self):
        assert check_deprecated_settings(None, databases=None) == [
            E001_DICT,
            E001_FLAT,
            W003,
        ]

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": "user:pass"})
    def test_webhook_secret_is_fine(self):
        assert check_deprecated_settings(None) == []

    def test_messages_exact(self):
        assert E001_DICT.msg == (
            "The ANYMAIL setting 'WEBHOOK_AUTHORIZATION' has been renamed "
            "'WEBHOOK_SECRET' to improve security."
        )
        assert E001_DICT.obj is None


class TestSendGridBackendWarning:
    @override_settings(EMAIL_BACKEND=SENDGRID)
    def test_email_backend(self):
        assert get_configured_email_backends() == {SENDGRID}
        assert check_deprecated_settings(None) == [W003]

    @override_settings(EMAIL_BACKEND="anymail.backends.test.EmailBackend")
    def test_other_email_backend(self):
        assert get_configured_email_backends() == {"anymail.backends.test.EmailBackend"}
        assert check_deprecated_settings(None) == []

    @override_settings(
        EMAIL_BACKEND="anymail.backends.test.EmailBackend",
        MAILERS={
            "default": {"BACKEND": "anymail.backends.test.EmailBackend"},
            "marketing": {"BACKEND": SENDGRID},
        },
    )
    def test_mailers(self):
        assert get_configured_email_backends() == {
            "anymail.backends.test.EmailBackend",
            SENDGRID,
        }
        assert check_deprecated_settings(None) == [W003]

    @override_settings(
        EMAIL_BACKEND=SENDGRID,
        MAILERS={"default": {"BACKEND": "anymail.backends.test.EmailBackend"}},
    )
    def test_mailers_win_over_email_backend(self):
        assert get_configured_email_backends() == {"anymail.backends.test.EmailBackend"}
        assert check_deprecated_settings(None) == []

    @override_settings(MAILERS={"default": {"OPTIONS": {}}, "other": {}})
    def test_mailers_default_backend(self):
        assert get_configured_email_backends() == {SMTP}

    @override_settings(MAILERS={})
    def test_empty_mailers(self):
        assert get_configured_email_backends() == set()
        assert check_deprecated_settings(None) == []

    @override_settings(EMAIL_BACKEND=SENDGRID)
    def test_no_warning_reading_email_backend(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = check_deprecated_settings(None)
        assert result == [W003]
        assert caught == []


class TestInsecureSettings:
    @override_settings(ANYMAIL={"DEBUG_API_REQUESTS": True}, DEBUG=False)
    def test_debug_api_requests_in_production(self):
        assert check_insecure_settings(None) == [W002]

    @override_settings(ANYMAIL_DEBUG_API_REQUESTS=True, DEBUG=False)
    def test_flat_setting(self):
        assert check_insecure_settings(app_configs=None) == [W002]

    @override_settings(ANYMAIL={"DEBUG_API_REQUESTS": True}, DEBUG=True)
    def test_fine_with_debug(self):
        assert check_insecure_settings(None) == []

    @pytest.mark.parametrize("value", [False, None, 0, ""])
    def test_falsy(self, value):
        with override_settings(ANYMAIL={"DEBUG_API_REQUESTS": value}, DEBUG=False):
            assert check_insecure_settings(None) == []

    @override_settings(DEBUG=False)
    def test_unset(self):
        assert check_insecure_settings(None) == []


@override_settings(EMAIL_BACKEND=SENDGRID)
def test_reading_email_backend_is_quiet():
    # (Django 6.1 deprecates the EMAIL_BACKEND setting)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert get_configured_email_backends() == {SENDGRID}
    assert caught == []

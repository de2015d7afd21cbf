"""Settings resolution in backend constructors (spec 2.1-2.4), constructor
kwargs consumption, fail_silently, and Django 6.1 MAILERS."""

import warnings

import django
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend
from django.test import override_settings

from anymail.backends.base import AnymailBaseBackend
from anymail.backends.console import EmailBackend as ConsoleBackend
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailError,
    AnymailInvalidMailer,
)
from anymail.utils import get_anymail_setting

from .messages import make_message
from .test_requests_backend import DemoBackend

ALL_GENERAL_OPTIONS = {
    "ignore_unsupported_features": True,
    "ignore_recipient_status": True,
    "debug_api_requests": False,
    "send_defaults": {"tags": ["opt"]},
    "idna_encoder": "idna2003",
}


@pytest.fixture
def base_init_kwargs(monkeypatch):
    """Records the kwargs each backend hands to Django's BaseEmailBackend."""
    received = []
    original = BaseEmailBackend.__init__

    def spy(self, *args, **kwargs):
        received.append((args, dict(kwargs)))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BaseEmailBackend, "__init__", spy)
    return received


def message_error_prefix(alias="default"):
    return f"MAILERS[{alias!r}]: " if django.VERSION >= (6, 1) else ""


# ---------------------------------------------------------------------------
# General settings


class TestGeneralSettings:
    def test_defaults(self):
        backend = AnymailTestBackend()
        assert backend.ignore_unsupported_features is False
        assert backend.ignore_recipient_status is False
        assert backend.debug_api_requests is False
        assert backend.send_defaults == {}
        assert backend.idna_encoder == "idna2008"
        assert backend.fail_silently is False

    @pytest.mark.parametrize(
        "option",
        [
            "ignore_unsupported_features",
            "ignore_recipient_status",
            "debug_api_requests",
        ],
    )
    def test_sources(self, option):
        setting = option.upper()
        with override_settings(ANYMAIL={setting: True}):
            assert getattr(AnymailTestBackend(), option) is True
        with override_settings(**{f"ANYMAIL_{setting}": True}):
            assert getattr(AnymailTestBackend(), option) is True
        with override_settings(ANYMAIL={setting: True}):
            assert getattr(AnymailTestBackend(**{option: False}), option) is False
        # no ESP-prefixed form for these
        with override_settings(ANYMAIL={f"TEST_{setting}": True}):
            assert getattr(AnymailTestBackend(), option) is False
        # no bare form either
        with override_settings(**{setting: True}):
            assert getattr(AnymailTestBackend(), option) is False

    def test_anymail_dict_wins_over_flat(self):
        with override_settings(
            ANYMAIL={"IGNORE_RECIPIENT_STATUS": False},
            ANYMAIL_IGNORE_RECIPIENT_STATUS=True,
        ):
            assert AnymailTestBackend().ignore_recipient_status is False

    def test_none_in_anymail_dict_is_a_value(self):
        with override_settings(
            ANYMAIL={"IGNORE_RECIPIENT_STATUS": None},
            ANYMAIL_IGNORE_RECIPIENT_STATUS=True,
        ):
            assert AnymailTestBackend().ignore_recipient_status is None

    def test_none_kwarg_is_a_value(self):
        with override_settings(ANYMAIL={"IGNORE_UNSUPPORTED_FEATURES": True}):
            backend = AnymailTestBackend(ignore_unsupported_features=None)
        assert backend.ignore_unsupported_features is None

    def test_read_once(self):
        with override_settings(ANYMAIL={"IGNORE_RECIPIENT_STATUS": True}):
            backend = AnymailTestBackend()
        assert backend.ignore_recipient_status is True

    def test_send_defaults_not_settable_by_global_kwarg(self):
        # the send_defaults kwarg is the ESP-specific form
        with override_settings(ANYMAIL={"SEND_DEFAULTS": {"tags": ["global"]}}):
            backend = AnymailTestBackend(send_defaults={"metadata": {"a": 1}})
        assert backend.send_defaults == {"tags": ["global"], "metadata": {"a": 1}}

    def test_esp_name_readable_before_base_init(self):
        seen = []

        class CustomBackend(AnymailTestBackend):
            def __init__(self, **kwargs):
                seen.append(self.esp_name)
                self.custom = get_anymail_setting(
                    "custom", esp_name=self.esp_name, kwargs=kwargs, default="none"
                )
                super().__init__(**kwargs)

        assert CustomBackend.esp_name == "Test"
        with override_settings(ANYMAIL={"TEST_CUSTOM": "from settings"}):
            backend = CustomBackend()
        assert seen == ["Test"]
        assert backend.custom == "from settings"


# ---------------------------------------------------------------------------
# ESP settings lookup (through the demo requests backend)


class TestEspSettings:
    def test_kwarg(self):
        assert DemoBackend(api_key="from-kwarg").api_key == "from-kwarg"

    @override_settings(ANYMAIL={"DEMO_ESP_API_KEY": "from-dict"})
    def test_anymail_dict_uses_esp_prefix(self):
        assert DemoBackend().api_key == "from-dict"

    @override_settings(ANYMAIL_DEMO_ESP_API_KEY="from-flat")
    def test_flat(self):
        assert DemoBackend().api_key == "from-flat"

    @override_settings(DEMO_ESP_API_KEY="from-bare")
    def test_bare(self):
        assert DemoBackend().api_key == "from-bare"

    @override_settings(
        ANYMAIL={"DEMO_ESP_API_KEY": "from-dict"},
        ANYMAIL_DEMO_ESP_API_KEY="from-flat",
        DEMO_ESP_API_KEY="from-bare",
    )
    def test_precedence(self):
        assert DemoBackend(api_key="from-kwarg").api_key == "from-kwarg"
        assert DemoBackend().api_key == "from-dict"
        with override_settings(ANYMAIL={}):
            assert DemoBackend().api_key == "from-flat"

    @override_settings(ANYMAIL={"DEMO_ESP_API_KEY": "from-dict"})
    def test_none_kwarg_wins(self):
        assert DemoBackend(api_key=None).api_key is None

    def test_missing(self):
        with pytest.raises(AnymailConfigurationError) as excinfo:
            DemoBackend()
        error = excinfo.value
        assert not isinstance(error, AnymailInvalidMailer)
        assert not isinstance(error, AnymailError)
        assert isinstance(error, ImproperlyConfigured)
        assert str(error) == (
            "You must set ANYMAIL = {'DEMO_ESP_API_KEY': ...} or "
            "ANYMAIL_DEMO_ESP_API_KEY or DEMO_ESP_API_KEY in your Django settings"
        )

    def test_missing_not_hidden_by_fail_silently(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            with pytest.raises(AnymailConfigurationError):
                DemoBackend(fail_silently=True)

    def test_missing_with_alias(self):
        with pytest.raises(AnymailInvalidMailer) as excinfo:
            DemoBackend(alias="default")
        error = excinfo.value
        assert isinstance(error, AnymailConfigurationError)
        assert isinstance(error, ImproperlyConfigured)
        assert str(error) == message_error_prefix() + "OPTIONS must define 'api_key'"
        if django.VERSION >= (6, 1):
            from django.core.mail import InvalidMailer

            assert isinstance(error, InvalidMailer)

    def test_missing_with_other_alias(self):
        with pytest.raises(AnymailInvalidMailer) as excinfo:
            DemoBackend(alias="transactional")
        assert str(excinfo.value) == (
            message_error_prefix("transactional") + "OPTIONS must define 'api_key'"
        )

    def test_alias_with_settings_fallback(self):
        with override_settings(ANYMAIL={"DEMO_ESP_API_KEY": "from-settings"}):
            backend = DemoBackend(alias="default", timeout=5)
        assert backend.api_key == "from-settings"
        assert backend.timeout == 5


class CredentialsBackend(AnymailTestBackend):
    """Reads username/password the way ESPs with basic-auth credentials do."""

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        self.username = get_anymail_setting(
            "username", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        self.password = get_anymail_setting(
            "password", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        self.region = get_anymail_setting(
            "region", esp_name=esp_name, kwargs=kwargs, default="us"
        )
        super().__init__(**kwargs)


class TestCredentialSettings:
    @override_settings(ANYMAIL={"TEST_USERNAME": "user", "TEST_PASSWORD": "pass"})
    def test_none_username_password_kwargs_ignored(self, base_init_kwargs):
        # Django's send_mail passes auth_user=None/auth_password=None through
        backend = CredentialsBackend(username=None, password=None)
        assert (backend.username, backend.password) == ("user", "pass")
        assert base_init_kwargs == [((), {})]

    @override_settings(ANYMAIL={"TEST_USERNAME": "user", "TEST_PASSWORD": "pass"})
    def test_username_password_kwargs(self):
        backend = CredentialsBackend(username="kw-user", password="kw-pass")
        assert (backend.username, backend.password) == ("kw-user", "kw-pass")

    @override_settings(
        ANYMAIL={"TEST_USERNAME": "u", "TEST_PASSWORD": "p", "TEST_REGION": "eu"}
    )
    def test_other_none_kwarg_wins(self):
        assert CredentialsBackend(region=None).region is None

    @override_settings(TEST_USERNAME="bare-user", TEST_PASSWORD="bare-pass")
    def test_bare(self):
        backend = CredentialsBackend(username=None)
        assert (backend.username, backend.password) == ("bare-user", "bare-pass")

    def test_missing_password(self):
        with (
            override_settings(ANYMAIL={"TEST_USERNAME": "user"}),
            pytest.raises(AnymailConfigurationError) as excinfo,
        ):
            CredentialsBackend(password=None)
        assert str(excinfo.value) == (
            "You must set ANYMAIL = {'TEST_PASSWORD': ...} or "
            "ANYMAIL_TEST_PASSWORD or TEST_PASSWORD in your Django settings"
        )


# ---------------------------------------------------------------------------
# Consuming kwargs


@pytest.mark.filterwarnings("ignore:.*__init__.. does not support")
class TestKwargsConsumption:
    def test_general_options_consumed(self, base_init_kwargs):
        AnymailTestBackend(**ALL_GENERAL_OPTIONS)
        assert base_init_kwargs == [((), {})]

    def test_unknown_kwargs_reach_django(self, base_init_kwargs):
        AnymailTestBackend(ignore_recipient_status=True, unknown_option=1)
        assert base_init_kwargs == [((), {"unknown_option": 1})]

    def test_alias_reaches_django(self, base_init_kwargs):
        AnymailTestBackend(alias="default", **ALL_GENERAL_OPTIONS)
        assert base_init_kwargs == [((), {"alias": "default"})]

    def test_fail_silently_not_forwarded(self, base_init_kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            backend = AnymailTestBackend(fail_silently=True)
        assert base_init_kwargs == [((), {})]
        assert backend.fail_silently is True

    def test_requests_backend_options_consumed(self, base_init_kwargs):
        DemoBackend(
            api_key="key",
            api_url="https://api.example.com/",
            timeout=5,
            requests_timeout=6,
            alias="default",
            **ALL_GENERAL_OPTIONS,
        )
        assert base_init_kwargs == [((), {"alias": "default"})]

    def test_requests_timeout_alone_consumed(self, base_init_kwargs):
        backend = DemoBackend(api_key="key", requests_timeout=6, extra="x")
        assert backend.timeout == 6
        assert base_init_kwargs == [((), {"extra": "x"})]

    def test_optional_settings_from_settings_still_consume_kwargs(
        self, base_init_kwargs
    ):
        with override_settings(ANYMAIL={"IGNORE_RECIPIENT_STATUS": True}):
            backend = AnymailTestBackend(ignore_recipient_status=False)
        assert backend.ignore_recipient_status is False
        assert base_init_kwargs == [((), {})]

    def test_console_stream_consumed(self, base_init_kwargs):
        import io

        stream = io.StringIO()
        backend = ConsoleBackend(stream=stream, tags_are_unknown=1)
        assert backend.stream is stream
        assert base_init_kwargs == [((), {"tags_are_unknown": 1})]

    def test_unknown_option_handled_by_django(self):
        if django.VERSION >= (6, 1):
            from django.core.mail import InvalidMailer

            with pytest.raises(InvalidMailer) as excinfo:
                AnymailTestBackend(alias="default", bogus_option=True)
            assert str(excinfo.value) == (
                "MAILERS['default']: Unknown options 'bogus_option'."
            )
        else:  # Django's base class ignores unknown options
            backend = AnymailTestBackend(alias="default", bogus_option=True)
            assert backend.esp_name == "Test"


# ---------------------------------------------------------------------------
# fail_silently


class TestFailSilently:
    def test_deprecation_warning(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            backend = AnymailTestBackend(fail_silently=True)
        assert backend.fail_silently is True
        relevant = [w for w in caught if "fail_silently" in str(w.message)]
        assert len(relevant) == 1
        assert relevant[0].category is DeprecationWarning
        assert str(relevant[0].message) == (
            "Anymail will drop support for fail_silently after Django 6.2."
        )

    def test_positional(self):
        with pytest.warns(DeprecationWarning, match="fail_silently"):
            backend = AnymailTestBackend(True)
        assert backend.fail_silently is True

    @pytest.mark.parametrize("value", [False, None, 0])
    def test_falsy_no_warning(self, value):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            backend = AnymailTestBackend(fail_silently=value)
        assert [w for w in caught if "fail_silently" in str(w.message)] == []
        assert backend.fail_silently == value

    def test_requests_backend_warns_too(self):
        with pytest.warns(DeprecationWarning) as record:
            DemoBackend(api_key="key", fail_silently=True)
        assert [str(w.message) for w in record if w.category is DeprecationWarning] == [
            "Anymail will drop support for fail_silently after Django 6.2."
        ]


# ---------------------------------------------------------------------------
# Django 6.1 MAILERS


class TestMailers:
    # MAILERS is new in Django 6.1: these tests exist only where it does
    __test__ = django.VERSION >= (6, 1)

    def test_options_as_kwargs(self):
        from django.core.mail import mailers

        with override_settings(
            ANYMAIL={"IGNORE_RECIPIENT_STATUS": True},
            MAILERS={
                "default": {
                    "BACKEND": "anymail.backends.test.EmailBackend",
                    "OPTIONS": {
                        "ignore_unsupported_features": True,
                        "send_defaults": {"tags": ["from-options"]},
                        "idna_encoder": "none",
                    },
                }
            },
        ):
            backend = mailers["default"]
        assert isinstance(backend, AnymailTestBackend)
        assert backend.alias == "default"
        assert backend.ignore_unsupported_features is True
        assert backend.ignore_recipient_status is True  # settings fallback
        assert backend.send_defaults == {"tags": ["from-options"]}
        assert backend.idna_encode("exämple.com") == "exämple.com"
        message = make_message()
        assert backend.send_messages([message]) == 1
        assert message.anymail_test_params["tags"] == ["from-options"]

    def test_unknown_option(self):
        from django.core.mail import InvalidMailer, mailers

        with (
            override_settings(
                MAILERS={
                    "default": {
                        "BACKEND": "anymail.backends.test.EmailBackend",
                        "OPTIONS": {"ignore_recipient_status": True, "api_kee": "x"},
                    }
                }
            ),
            pytest.raises(InvalidMailer) as excinfo,
        ):
            mailers["default"]
        assert str(excinfo.value) == "MAILERS['default']: Unknown options 'api_kee'."

    def test_missing_required_option(self):
        from django.core.mail import mailers

        with (
            override_settings(
                MAILERS={
                    "default": {
                        "BACKEND": "tests.test_requests_backend.DemoBackend",
                        "OPTIONS": {"timeout": 5},
                    }
                }
            ),
            pytest.raises(AnymailInvalidMailer) as excinfo,
        ):
            mailers["default"]
        assert str(excinfo.value) == (
            "MAILERS['default']: OPTIONS must define 'api_key'"
        )

    def test_requests_backend_options(self):
        from django.core.mail import mailers

        with override_settings(
            MAILERS={
                "bulk": {
                    "BACKEND": "tests.test_requests_backend.DemoBackend",
                    "OPTIONS": {
                        "api_key": "options-key",
                        "requests_timeout": 3,
                        "debug_api_requests": False,
                    },
                }
            }
        ):
            backend = mailers["bulk"]
        assert backend.api_key == "options-key"
        assert backend.timeout == 3
        assert backend.alias == "bulk"


def test_base_backend_open_close():
    class Minimal(AnymailBaseBackend):
        esp_name = "Minimal"

    backend = Minimal()
    assert backend.open() is False
    assert backend.close() is None

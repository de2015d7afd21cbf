"""SEND_DEFAULTS (spec 2.5) and IDNA_ENCODER (spec 2.6), via the test backend."""

import copy

import django
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from anymail import _idna
from anymail.backends.base import DEFAULT_IDNA_ENCODER
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailInvalidAddress,
    AnymailInvalidMailer,
)
from anymail.utils import EmailAddress

from .messages import make_message


def send(backend, message):
    assert backend.send_messages([message]) == 1
    return message.anymail_test_params


WORKED_EXAMPLE_DEFAULTS = {
    "metadata": {"a": 1, "b": 2},
    "tags": ["x"],
    "track_clicks": True,
    "esp_extra": {"k": {"d1": 1, "d2": 2}},
}


# ---------------------------------------------------------------------------
# Step 1: effective defaults


class TestEffectiveDefaults:
    def test_no_defaults(self):
        assert AnymailTestBackend().send_defaults == {}

    @override_settings(ANYMAIL={"SEND_DEFAULTS": {"tags": ["global"]}})
    def test_global_from_anymail_dict(self):
        assert AnymailTestBackend().send_defaults == {"tags": ["global"]}

    @override_settings(ANYMAIL_SEND_DEFAULTS={"tags": ["flat"]})
    def test_global_flat_setting(self):
        assert AnymailTestBackend().send_defaults == {"tags": ["flat"]}

    @override_settings(ANYMAIL_TEST_SEND_DEFAULTS={"tags": ["esp-flat"]})
    def test_esp_flat_setting(self):
        assert AnymailTestBackend().send_defaults == {"tags": ["esp-flat"]}

    @override_settings(
        ANYMAIL={
            "SEND_DEFAULTS": {
                "tags": ["global"],
                "metadata": {"global": 1},
                "esp_extra": {"g": {"a": 1}},
            },
            "TEST_SEND_DEFAULTS": {"tags": ["esp"], "esp_extra": {"g": {"b": 2}}},
        }
    )
    def test_esp_keys_replace_global_keys_whole(self):
        backend = AnymailTestBackend()
        assert backend.send_defaults == {
            "tags": ["esp"],
            "metadata": {"global": 1},
            "esp_extra": {"g": {"b": 2}},
        }
        params = send(backend, make_message())
        assert params["tags"] == ["esp"]
        assert params["metadata"] == {"global": 1}
        assert params["g"] == {"b": 2}

    @override_settings(
        ANYMAIL={
            "SEND_DEFAULTS": {"tags": ["global"], "track_opens": True},
            "TEST_SEND_DEFAULTS": {"tags": ["setting"]},
        }
    )
    def test_send_defaults_kwarg_replaces_esp_setting(self):
        backend = AnymailTestBackend(send_defaults={"tags": ["kwarg"]})
        assert backend.send_defaults == {"tags": ["kwarg"], "track_opens": True}

    def test_settings_dicts_never_mutated(self):
        global_defaults = {"tags": ["g"], "metadata": {"a": 1}}
        esp_defaults = {"tags": ["e"], "merge_data": {"x@example.com": {"a": 1}}}
        saved = copy.deepcopy((global_defaults, esp_defaults))
        with override_settings(
            ANYMAIL={
                "SEND_DEFAULTS": global_defaults,
                "TEST_SEND_DEFAULTS": esp_defaults,
            }
        ):
            backend = AnymailTestBackend()
            message = make_message(
                tags=["m"],
                metadata={"b": 2},
                merge_data={"x@example.com": {"b": 2}},
            )
            params = send(backend, message)
        assert (global_defaults, esp_defaults) == saved
        assert backend.send_defaults is not global_defaults
        assert params["tags"] == ["e", "m"]
        assert params["metadata"] == {"a": 1, "b": 2}
        assert params["merge_data"] == {"x@example.com": {"a": 1, "b": 2}}

    def test_read_once_at_construction(self):
        with override_settings(ANYMAIL={"SEND_DEFAULTS": {"tags": ["before"]}}):
            backend = AnymailTestBackend()
        with override_settings(ANYMAIL={"SEND_DEFAULTS": {"tags": ["after"]}}):
            params = send(backend, make_message())
            assert params["tags"] == ["before"]
            assert send(AnymailTestBackend(), make_message())["tags"] == ["after"]


# ---------------------------------------------------------------------------
# Step 2: combining with each message


class TestCombiners:
    def test_worked_example(self):
        backend = AnymailTestBackend(send_defaults=WORKED_EXAMPLE_DEFAULTS)
        message = make_message(
            metadata={"b": 3, "c": 4},
            tags=["y"],
            track_clicks=False,
            esp_extra={"k": {"d2": 22, "d3": 3}},
        )
        params = send(backend, message)
        assert params["metadata"] == {"a": 1, "b": 3, "c": 4}
        assert params["tags"] == ["x", "y"]
        assert params["track_clicks"] is False
        assert params["k"] == {"d1": 1, "d2": 22, "d3": 3}

        # the next message gets the untouched defaults
        params = send(backend, make_message())
        assert params["metadata"] == {"a": 1, "b": 2}
        assert params["tags"] == ["x"]
        assert params["track_clicks"] is True
        assert params["k"] == {"d1": 1, "d2": 2}
        assert backend.send_defaults == WORKED_EXAMPLE_DEFAULTS
        # message values weren't modified either
        assert message.metadata == {"b": 3, "c": 4}
        assert message.tags == ["y"]
        assert message.esp_extra == {"k": {"d2": 22, "d3": 3}}

    @pytest.mark.parametrize(
        "attr,default,value,expected",
        [
            ("track_clicks", True, False, False),
            ("track_opens", False, True, True),
            ("template_id", "default-tpl", "", ""),
            ("template_id", "default-tpl", 0, 0),
            ("template_id", "default-tpl", "msg-tpl", "msg-tpl"),
        ],
    )
    def test_last(self, attr, default, value, expected):
        backend = AnymailTestBackend(send_defaults={attr: default})
        params = send(backend, make_message(**{attr: value}))
        assert params[attr] == expected
        assert send(backend, make_message())[attr] == default

    def test_concat_tags(self):
        backend = AnymailTestBackend(send_defaults={"tags": ["d1", "d2"]})
        params = send(backend, make_message(tags=("m1", "m2")))
        assert params["tags"] == ["d1", "d2", "m1", "m2"]
        assert isinstance(params["tags"], list)

    def test_concat_empty_message_list_keeps_defaults(self):
        backend = AnymailTestBackend(send_defaults={"tags": ["d"]})
        assert send(backend, make_message(tags=[]))["tags"] == ["d"]

    def test_concat_standard_django_attrs(self):
        backend = AnymailTestBackend(
            send_defaults={
                "bcc": ["audit@example.com"],
                "cc": ["copy@example.com"],
                "reply_to": ["replies@example.com"],
            }
        )
        params = send(backend, make_message(cc=["cc@example.com"]))
        assert params["bcc"] == [EmailAddress("", "audit@example.com")]
        assert params["cc"] == [
            EmailAddress("", "copy@example.com"),
            EmailAddress("", "cc@example.com"),
        ]
        assert params["reply_to"] == [EmailAddress("", "replies@example.com")]

    def test_default_bcc_gets_status(self):
        backend = AnymailTestBackend(send_defaults={"bcc": ["audit@example.com"]})
        message = make_message()
        send(backend, message)
        assert sorted(message.anymail_status.recipients) == [
            "audit@example.com",
            "to@example.com",
        ]

    def test_shallow_metadata(self):
        backend = AnymailTestBackend(
            send_defaults={"metadata": {"a": {"inner": 1}, "b": 2}}
        )
        params = send(backend, make_message(metadata={"a": {"other": 2}}))
        # shallow: the message's inner dict replaces the default's
        assert params["metadata"] == {"a": {"other": 2}, "b": 2}

    def test_shallow_merge_global_data(self):
        backend = AnymailTestBackend(
            send_defaults={"merge_global_data": {"a": 1, "b": 2}}
        )
        params = send(backend, make_message(merge_global_data={"b": 3}))
        assert params["merge_global_data"] == {"a": 1, "b": 3}
        assert params["is_batch_send"] is False

    def test_shallow_extra_headers(self):
        backend = AnymailTestBackend(
            send_defaults={"extra_headers": {"X-Default": "d", "X-Both": "default"}}
        )
        params = send(backend, make_message(headers={"X-Both": "message"}))
        assert params["extra_headers"] == {"X-Default": "d", "X-Both": "message"}

    @pytest.mark.parametrize("attr", ["merge_data", "merge_metadata"])
    def test_one_level(self, attr):
        backend = AnymailTestBackend(
            send_defaults={
                attr: {
                    "alice@example.com": {"a1": 1, "a3": {"x": 1}},
                    "bob@example.com": {"b1": 1},
                }
            }
        )
        params = send(
            backend,
            make_message(
                to=["alice@example.com", "carol@example.com"],
                **{
                    attr: {
                        "alice@example.com": {"a2": 2, "a3": {"y": 2}},
                        "carol@example.com": {"c1": 1},
                    }
                },
            ),
        )
        assert params[attr] == {
            "alice@example.com": {"a1": 1, "a2": 2, "a3": {"y": 2}},
            "bob@example.com": {"b1": 1},
            "carol@example.com": {"c1": 1},
        }

    def test_deep_esp_extra(self):
        backend = AnymailTestBackend(
            send_defaults={
                "esp_extra": {
                    "options": {"a": 1, "nested": {"x": 1, "y": 2}, "list": [1, 2]},
                    "other": "default",
                }
            }
        )
        params = send(
            backend,
            make_message(
                esp_extra={"options": {"nested": {"y": 3, "z": 4}, "list": [3]}}
            ),
        )
        assert params["options"] == {
            "a": 1,
            "nested": {"x": 1, "y": 3, "z": 4},
            "list": [3],
        }
        assert params["other"] == "default"

    def test_results_are_fresh_copies(self):
        defaults = {
            "tags": ["d"],
            "metadata": {"m": 1},
            "esp_extra": {"k": {"v": 1}},
            "merge_data": {"to@example.com": {"a": 1}},
        }
        backend = AnymailTestBackend(send_defaults=defaults)
        params = send(backend, make_message())
        assert params["tags"] is not defaults["tags"]
        assert params["metadata"] is not defaults["metadata"]
        assert params["k"] is not defaults["esp_extra"]["k"]
        assert (
            params["merge_data"]["to@example.com"]
            is not defaults["merge_data"]["to@example.com"]
        )
        params["tags"].append("mutated")
        params["k"]["v"] = "mutated"
        params["merge_data"]["to@example.com"]["a"] = "mutated"
        assert backend.send_defaults == {
            "tags": ["d"],
            "metadata": {"m": 1},
            "esp_extra": {"k": {"v": 1}},
            "merge_data": {"to@example.com": {"a": 1}},
        }


class TestUnsetAndNone:
    @pytest.mark.parametrize(
        "attr,default",
        [
            ("tags", ["d"]),
            ("metadata", {"a": 1}),
            ("track_clicks", True),
            ("template_id", "tpl"),
            ("merge_global_data", {"g": 1}),
            ("send_at", 1651820889),
            ("envelope_sender", "bounce@example.com"),
        ],
    )
    def test_none_cancels_default(self, attr, default):
        backend = AnymailTestBackend(send_defaults={attr: default})
        params = send(backend, make_message(**{attr: None}))
        assert attr not in params

    def test_none_cancels_esp_extra_default(self):
        backend = AnymailTestBackend(send_defaults={"esp_extra": {"k": 1}})
        params = send(backend, make_message(esp_extra=None))
        assert "k" not in params

    @pytest.mark.parametrize("attr", ["merge_data", "merge_metadata"])
    def test_none_cancels_batch_default(self, attr):
        backend = AnymailTestBackend(send_defaults={attr: {"to@example.com": {}}})
        params = send(backend, make_message(**{attr: None}))
        assert attr not in params
        assert params["is_batch_send"] is False

    def test_none_default_contributes_nothing(self):
        backend = AnymailTestBackend(send_defaults={"tags": None, "metadata": None})
        params = send(backend, make_message(tags=["m"], metadata={"a": 1}))
        assert params["tags"] == ["m"]
        assert params["metadata"] == {"a": 1}

    def test_empty_default_is_passed(self):
        backend = AnymailTestBackend(send_defaults={"tags": [], "metadata": {}})
        params = send(backend, make_message())
        assert params["tags"] == []
        assert params["metadata"] == {}

    def test_defaults_for_unset_django_attrs(self):
        backend = AnymailTestBackend(
            send_defaults={"subject": "Default subject", "from_email": "d@example.com"}
        )
        message = make_message()
        del message.subject  # absent counts as UNSET
        params = send(backend, message)
        assert params["subject"] == "Default subject"
        # Django initialized from_email, so the default doesn't apply
        assert params["from"] == EmailAddress("", "from@example.com")

    def test_default_ignored_when_django_attr_is_set(self):
        backend = AnymailTestBackend(send_defaults={"subject": "Default subject"})
        assert send(backend, make_message(subject=""))["subject"] == ""


class TestBatchDefaults:
    @pytest.mark.parametrize("attr", ["merge_data", "merge_metadata"])
    def test_merge_defaults_make_every_message_a_batch(self, attr):
        backend = AnymailTestBackend(send_defaults={attr: {}})
        params = send(backend, make_message())
        assert params["is_batch_send"] is True
        assert params[attr] == {}

    def test_merge_headers_ignores_defaults(self):
        backend = AnymailTestBackend(
            send_defaults={"merge_headers": {"to@example.com": {"X-Default": "d"}}}
        )
        params = send(backend, make_message())
        assert "merge_headers" not in params
        assert params["is_batch_send"] is False

        params = send(
            backend,
            make_message(merge_headers={"to@example.com": {"X-Msg": "m"}}),
        )
        assert params["merge_headers"] == {"to@example.com": {"X-Msg": "m"}}
        assert params["is_batch_send"] is True

    def test_merge_headers_none_with_defaults(self):
        backend = AnymailTestBackend(
            send_defaults={"merge_headers": {"to@example.com": {"X-Default": "d"}}}
        )
        params = send(backend, make_message(merge_headers=None))
        assert params["merge_headers"] is None
        assert params["is_batch_send"] is True


# ---------------------------------------------------------------------------
# IDNA_ENCODER


def custom_encoder(domain):
    return "custom." + domain.encode("ascii", errors="replace").decode()


class TestIdnaEncoder:
    def test_default_is_idna2008(self):
        assert DEFAULT_IDNA_ENCODER == "idna2008"
        backend = AnymailTestBackend()
        assert backend.idna_encoder == "idna2008"
        assert backend.idna_encode("faß.example") == "xn--fa-hia.example"
        assert (
            backend.idna_encode("idna2008.މިސާލު.example")
            == "idna2008.xn--qqbii6gdp.example"
        )

    def test_idna2008_rejects_emoji(self):
        backend = AnymailTestBackend()
        with pytest.raises(AnymailInvalidAddress) as excinfo:
            backend.idna_encode("✉.example")
        assert str(excinfo.value).splitlines()[0] == (
            "Cannot encode '✉.example' using IDNA_ENCODER='idna2008'"
        )
        assert isinstance(excinfo.value.__cause__, ValueError)

    @override_settings(ANYMAIL={"IDNA_ENCODER": "idna2003"})
    def test_global_idna2003(self):
        backend = AnymailTestBackend()
        assert backend.idna_encoder == "idna2003"
        assert backend.idna_encode("faß.example") == "fass.example"
        assert backend.idna_encode("✉.example") == "xn--4bi.example"
        assert backend.idna_encode("✉ß.example") == "xn--ss-ufy.example"
        with pytest.raises(AnymailInvalidAddress) as excinfo:
            backend.idna_encode("idna2008.މިސާލު.example")
        assert str(excinfo.value).splitlines()[0] == (
            "Cannot encode 'idna2008.މިސާލު.example' using IDNA_ENCODER='idna2003'"
        )

    @override_settings(ANYMAIL_IDNA_ENCODER="none")
    def test_global_flat_none(self):
        backend = AnymailTestBackend()
        assert backend.idna_encode("faß.example") == "faß.example"

    @override_settings(
        ANYMAIL={"IDNA_ENCODER": "idna2003", "TEST_IDNA_ENCODER": "none"}
    )
    def test_esp_setting_wins(self):
        backend = AnymailTestBackend()
        assert backend.idna_encoder == "none"
        assert backend.idna_encode("faß.example") == "faß.example"

    @override_settings(ANYMAIL_TEST_IDNA_ENCODER="idna2003")
    def test_esp_flat_setting(self):
        assert AnymailTestBackend().idna_encode("faß.example") == "fass.example"

    @override_settings(ANYMAIL={"TEST_IDNA_ENCODER": "idna2003"})
    def test_kwarg_wins(self):
        backend = AnymailTestBackend(idna_encoder="none")
        assert backend.idna_encoder == "none"
        assert backend.idna_encode("faß.example") == "faß.example"

    @override_settings(ANYMAIL={"IDNA_ENCODER": "idna2003", "TEST_IDNA_ENCODER": ""})
    def test_falsy_esp_setting_uses_global(self):
        backend = AnymailTestBackend()
        assert backend.idna_encoder == "idna2003"
        assert backend.idna_encode("faß.example") == "fass.example"

    @override_settings(ANYMAIL={"IDNA_ENCODER": "not-a-valid-encoder"})
    def test_invalid_global_harmless_with_esp_setting(self):
        backend = AnymailTestBackend(idna_encoder="idna2003")
        assert backend.idna_encode("faß.example") == "fass.example"

    def test_callable(self):
        backend = AnymailTestBackend(idna_encoder=custom_encoder)
        assert backend.idna_encoder is custom_encoder
        assert backend.idna_encode("exämple.com") == "custom.ex?mple.com"

    def test_dotted_path(self):
        path = f"{__name__}.custom_encoder"
        backend = AnymailTestBackend(idna_encoder=path)
        assert backend.idna_encoder == path
        assert backend.idna_encode("exämple.com") == "custom.ex?mple.com"

    def test_dotted_path_to_builtin(self):
        backend = AnymailTestBackend(idna_encoder="anymail._idna.idna2003")
        assert backend.idna_encode("faß.example") == "fass.example"

    def test_callable_value_error_is_wrapped(self):
        def failing(domain):
            raise UnicodeError("nope")

        backend = AnymailTestBackend(idna_encoder=failing)
        with pytest.raises(AnymailInvalidAddress) as excinfo:
            backend.idna_encode("exämple.com")
        assert str(excinfo.value) == (
            f"Cannot encode 'exämple.com' using IDNA_ENCODER={failing!r}\n"
            "UnicodeError: nope"
        )

    def test_non_value_error_propagates(self):
        def broken(domain):
            raise KeyError("bug")

        backend = AnymailTestBackend(idna_encoder=broken)
        with pytest.raises(KeyError):
            backend.idna_encode("exämple.com")

    @pytest.mark.parametrize(
        "value",
        ["raw", "anymail._idna.no_such_encoder", "no_such_module.encoder", 42],
    )
    def test_unresolvable(self, value):
        with pytest.raises(AnymailConfigurationError) as excinfo:
            AnymailTestBackend(idna_encoder=value)
        error = excinfo.value
        assert not isinstance(error, AnymailInvalidMailer)
        assert error.args[0] == f"Cannot resolve IDNA_ENCODER={value!r}"
        assert error.__cause__ is not None

    def test_unresolvable_global(self):
        with (
            override_settings(ANYMAIL={"IDNA_ENCODER": "raw"}),
            pytest.raises(AnymailConfigurationError) as excinfo,
        ):
            AnymailTestBackend()
        assert str(excinfo.value) == "Cannot resolve IDNA_ENCODER='raw'"

    def test_unresolvable_with_alias(self):
        with pytest.raises(AnymailInvalidMailer) as excinfo:
            AnymailTestBackend(idna_encoder="raw", alias="default")
        error = excinfo.value
        assert isinstance(error, AnymailConfigurationError)
        assert isinstance(error, ImproperlyConfigured)
        assert error.__cause__ is not None
        if django.VERSION >= (6, 1):
            assert str(error) == "MAILERS['default']: Cannot resolve IDNA_ENCODER='raw'"
        else:
            assert str(error) == "Cannot resolve IDNA_ENCODER='raw'"

    def test_uts46(self):
        backend = AnymailTestBackend(idna_encoder="uts46")
        try:
            import uts46  # noqa: F401
        except ImportError:
            # resolution succeeds; the first encode fails (not as a ValueError)
            with pytest.raises(AnymailImproperlyInstalled) as excinfo:
                backend.idna_encode("faß.example")
            assert not isinstance(excinfo.value, AnymailInvalidAddress)
            assert str(excinfo.value) == (
                "The uts46 package isn't installed but is needed for "
                'IDNA_ENCODER="uts46".\n'
                '(Be sure to use `pip install "django-anymail[<your-esp>,uts46]"`.)'
            )
        else:
            assert backend.idna_encode("faß.example") == "xn--fa-hia.example"
            assert backend.idna_encode("✉.example") == "xn--4bi.example"
            assert backend.idna_encode("✉ß.example") == "xn--zca356q.example"

    def test_builtin_module_functions(self):
        assert _idna.idna2008("faß.example") == "xn--fa-hia.example"
        assert _idna.idna2003("faß.example") == "fass.example"
        assert _idna.none("faß.example") == "faß.example"

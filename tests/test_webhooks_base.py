"""The shared webhook view behavior, through a small JSON test ESP view."""

import json
import logging
import sys
import warnings
from datetime import datetime, timezone
from unittest import mock

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory, override_settings
from django.urls import path

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailInsecureWebhookWarning,
    AnymailWebhookValidationFailure,
)
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailTrackingEvent, tracking
from anymail.webhooks.base import (
    AnymailBaseWebhookView,
    AnymailBasicAuthMixin,
    AnymailCoreWebhookView,
    check_body_hmac_signature,
    download_raw_message,
    epoch_to_datetime,
    form_fields,
    get_id,
    get_list,
    get_object,
    get_str,
    hmac_sha256_hexdigest,
    load_json,
    load_public_key,
    optional_iso_datetime,
    parse_iso_datetime,
    signing_key_bytes,
    single_addr_spec,
)

from .conftest import basic_auth_header, security_messages


class SignedMixin:
    """A validator added by a mixin, without calling super()."""

    def validate_request(self, request):
        if request.headers.get("X-Test-Signature") == "bad":
            raise AnymailWebhookValidationFailure("Test ESP signature mismatch")


class JsonTestView(SignedMixin, AnymailBaseWebhookView):
    """Each item of a JSON list becomes one tracking event."""

    esp_name = "Test ESP"
    signal = tracking

    def parse_events(self, request):
        return [
            AnymailTrackingEvent(event_type=item["type"], esp_event=item)
            for item in json.loads(request.body)
        ]


class SignatureOnlyView(JsonTestView):
    warn_if_no_basic_auth = False


class NoNameView(AnymailBaseWebhookView):
    signal = tracking


urlpatterns = [
    path("test/", JsonTestView.as_view(), name="test_webhook"),
    path(
        "rotated/",
        JsonTestView.as_view(basic_auth=["new:secret", "old:secret"]),
        name="rotated",
    ),
    path("signed/", SignatureOnlyView.as_view(), name="signed"),
]

pytestmark = pytest.mark.urls(__name__)

SECRET = {"WEBHOOK_SECRET": "user:pass:word"}
AUTH = basic_auth_header("user:pass:word")


def post_events(client, events, url="/test/", **extra):
    return client.post(
        url, json.dumps(events), content_type="application/json", **extra
    )


@pytest.mark.usefixtures("quiet")
class TestMethods:
    def test_post_dispatches_one_signal_per_event_in_order(
        self, webhook_client, tracking_events
    ):
        response = post_events(
            webhook_client, [{"type": "delivered"}, {"type": "opened"}]
        )
        assert response.status_code == 200
        assert response.content == b""
        assert [e.event_type for e in tracking_events.events] == [
            "delivered",
            "opened",
        ]
        call = tracking_events.calls[0]
        assert call["sender"] is JsonTestView
        assert call["esp_name"] == "Test ESP"
        assert call["signal"] is tracking
        assert set(call) == {"signal", "sender", "event", "esp_name"}

    def test_empty_batch_is_200(self, webhook_client, tracking_events):
        assert post_events(webhook_client, []).status_code == 200
        assert tracking_events.calls == []

    def test_head_is_200_without_validation(self, webhook_client, tracking_events):
        with override_settings(ANYMAIL=SECRET):
            response = webhook_client.head("/test/", HTTP_X_TEST_SIGNATURE="bad")
        assert response.status_code == 200
        assert response.content == b""
        assert tracking_events.calls == []

    def test_options(self, webhook_client):
        response = webhook_client.options("/test/")
        assert response.status_code == 200
        assert response["Allow"] == "POST, HEAD, OPTIONS"

    @pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
    def test_other_methods_not_allowed(self, webhook_client, method):
        with warnings.catch_warnings():
            logging.getLogger("django.request").disabled = True
            try:
                response = getattr(webhook_client, method)("/test/")
            finally:
                logging.getLogger("django.request").disabled = False
        assert response.status_code == 405
        assert response["Allow"] == "POST, HEAD, OPTIONS"

    def test_csrf_exempt_and_login_not_required(self, webhook_client):
        view = JsonTestView.as_view()
        assert view.csrf_exempt is True
        assert view.login_required is False
        middleware = [
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.auth.middleware.LoginRequiredMiddleware",
        ]
        with override_settings(
            MIDDLEWARE=middleware,
            INSTALLED_APPS=[
                "django.contrib.contenttypes",
                "django.contrib.auth",
                "django.contrib.sessions",
                "anymail",
            ],
            SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        ):
            response = post_events(webhook_client, [{"type": "sent"}])
        assert response.status_code == 200


@pytest.mark.usefixtures("quiet")
class TestEventDispatch:
    def test_parse_error_in_any_event_dispatches_nothing(
        self, webhook_client, tracking_events, caplog
    ):
        response = post_events(webhook_client, [{"type": "sent"}, {"no-type": 1}])
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert "Malformed Test ESP webhook payload (KeyError" in caplog.text

    @pytest.mark.parametrize(
        "body",
        [b"", b"not json", b"{", b'"a string"', b"\xff\xfe"],
        ids=["empty", "not-json", "truncated", "wrong-shape", "not-utf8"],
    )
    def test_malformed_bodies_are_400_not_500(
        self, webhook_client, tracking_events, body
    ):
        response = webhook_client.post("/test/", body, content_type="application/json")
        assert response.status_code == 400
        assert response.content == b"Malformed Test ESP webhook payload"
        assert tracking_events.calls == []

    def test_receiver_exception_propagates_and_stops_the_batch(self, webhook_client):
        received = []

        def receiver(sender, event, esp_name, **kwargs):
            received.append(event.event_type)
            if event.event_type == "bounced":
                raise RuntimeError("receiver failed")

        tracking.connect(receiver, weak=False)
        try:
            with pytest.raises(RuntimeError, match="receiver failed"):
                post_events(
                    webhook_client,
                    [{"type": "sent"}, {"type": "bounced"}, {"type": "opened"}],
                )
        finally:
            tracking.disconnect(receiver)
        assert received == ["sent", "bounced"]

    def test_receiver_permission_denied_is_403(self, webhook_client):
        def receiver(**kwargs):
            raise PermissionDenied()

        tracking.connect(receiver, weak=False)
        try:
            response = post_events(webhook_client, [{"type": "sent"}])
        finally:
            tracking.disconnect(receiver)
        assert response.status_code == 403

    def test_missing_esp_name(self):
        with pytest.raises(
            NotImplementedError,
            match=r"^tests\.test_webhooks_base\.NoNameView must declare esp_name",
        ):
            NoNameView().esp_name  # noqa: B018


class TestBasicAuth:
    @override_settings(ANYMAIL=SECRET)
    def test_correct_credentials(self, webhook_client, tracking_events):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_events(
                webhook_client, [{"type": "sent"}], HTTP_AUTHORIZATION=AUTH
            )
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    @override_settings(ANYMAIL=SECRET)
    @pytest.mark.parametrize(
        "authorization",
        [
            None,
            "",
            basic_auth_header("user:wrong"),
            "Bearer dXNlcjpwYXNzOndvcmQ=",
            "Basic not-base64!",
            "Basic " + "//79",  # decodes to bytes that aren't UTF-8
            AUTH + " extra",
        ],
        ids=["missing", "empty", "wrong", "bearer", "bad-b64", "not-utf8", "extra"],
    )
    def test_refused(
        self, webhook_client, tracking_events, security_log, authorization
    ):
        extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
        response = post_events(webhook_client, [{"type": "sent"}], **extra)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [
            "Missing or invalid basic auth in Anymail Test ESP webhook"
        ]

    def test_scheme_is_case_insensitive(self, webhook_client, tracking_events):
        auth = AUTH.replace("Basic", "bAsIc")
        with override_settings(ANYMAIL=SECRET):
            response = post_events(
                webhook_client, [{"type": "sent"}], HTTP_AUTHORIZATION=auth
            )
        assert response.status_code == 200

    @pytest.mark.parametrize("credentials", ["old:one", "new:two"])
    def test_rotation_any_listed_secret_matches(
        self, webhook_client, tracking_events, credentials
    ):
        with override_settings(ANYMAIL={"WEBHOOK_SECRET": ["new:two", "old:one"]}):
            response = post_events(
                webhook_client,
                [{"type": "sent"}],
                HTTP_AUTHORIZATION=basic_auth_header(credentials),
            )
        assert response.status_code == 200

    @override_settings(ANYMAIL_WEBHOOK_SECRET="flat:setting")
    def test_flat_setting(self, webhook_client):
        refused = post_events(webhook_client, [])
        accepted = post_events(
            webhook_client, [], HTTP_AUTHORIZATION=basic_auth_header("flat:setting")
        )
        assert (refused.status_code, accepted.status_code) == (400, 200)

    @override_settings(WEBHOOK_SECRET="bare:setting")
    def test_no_bare_setting(self, webhook_client, quiet):
        # a root-level WEBHOOK_SECRET is not Anymail's: auth stays off
        assert post_events(webhook_client, []).status_code == 200

    @pytest.mark.parametrize("off", [None, "", []])
    def test_empty_secret_disables_auth(self, webhook_client, quiet, off):
        with override_settings(ANYMAIL={"WEBHOOK_SECRET": off}):
            response = post_events(
                webhook_client, [], HTTP_AUTHORIZATION=basic_auth_header("any:thing")
            )
        assert response.status_code == 200

    def test_as_view_basic_auth_overrides_setting(self, webhook_client):
        with override_settings(ANYMAIL=SECRET):
            setting_creds = post_events(
                webhook_client, [], "/rotated/", HTTP_AUTHORIZATION=AUTH
            )
            view_creds = post_events(
                webhook_client,
                [],
                "/rotated/",
                HTTP_AUTHORIZATION=basic_auth_header("old:secret"),
            )
        assert (setting_creds.status_code, view_creds.status_code) == (400, 200)

    def test_as_view_rejects_webhook_secret_kwarg(self):
        with pytest.raises(TypeError):
            JsonTestView.as_view(webhook_secret="user:pass")

    @override_settings(ANYMAIL=SECRET)
    def test_signature_validator_also_runs(self, webhook_client, security_log):
        response = post_events(
            webhook_client, [], HTTP_AUTHORIZATION=AUTH, HTTP_X_TEST_SIGNATURE="bad"
        )
        assert response.status_code == 400
        assert security_messages(security_log) == ["Test ESP signature mismatch"]

    def test_validators_collected_once_each(self, quiet):
        view = JsonTestView()
        assert view.validators == [
            SignedMixin.validate_request,
            AnymailBasicAuthMixin.validate_request,
            AnymailCoreWebhookView.validate_request,
        ]


class TestInsecureWarning:
    @override_settings(ANYMAIL={})
    def test_warns_every_request_and_still_dispatches(
        self, webhook_client, tracking_events
    ):
        with pytest.warns(AnymailInsecureWebhookWarning) as record:
            response = post_events(webhook_client, [{"type": "sent"}])
            post_events(webhook_client, [{"type": "sent"}])
        assert response.status_code == 200
        assert len(tracking_events.calls) == 2
        messages = [str(w.message) for w in record]
        assert (
            messages.count(
                "Your Anymail webhooks are insecure and open to anyone on the web. "
                "You should set WEBHOOK_SECRET in your ANYMAIL settings. "
                "See 'Securing webhooks' in the Anymail docs."
            )
            == 2
        )

    @override_settings(ANYMAIL={})
    def test_views_with_own_signatures_never_warn(self, webhook_client):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_events(webhook_client, [{"type": "sent"}], "/signed/")
        assert response.status_code == 200

    def test_as_view_basic_auth_does_not_silence_warning(self):
        # the warning is decided from settings, not the per-route override
        with override_settings(ANYMAIL={}), pytest.warns(AnymailInsecureWebhookWarning):
            JsonTestView(basic_auth=["a:b"])


# ---------------------------------------------------------------------------
# Payload helpers


class TestLoadJsonBody:
    def test_any_json(self):
        assert load_json(b'{"a": [1]}') == {"a": [1]}
        assert load_json(b"[]") == []
        assert load_json('"text"') == "text"

    def test_expected_type(self):
        assert load_json(b"{}", dict) == {}
        assert load_json(b"[1]", list) == [1]
        with pytest.raises(TypeError, match="expected a JSON object, not list"):
            load_json(b"[]", dict)
        with pytest.raises(TypeError, match="expected a JSON array, not dict"):
            load_json(b"{}", list)

    @pytest.mark.parametrize(
        "body",
        [b"", b"not json", b"\xff\xfe{}", b"[" * 100_000 + b"]" * 100_000],
        ids=["empty", "not-json", "not-utf8", "deeply-nested"],
    )
    def test_not_json_is_value_error(self, body):
        with pytest.raises(ValueError):
            load_json(body)


class TestGetters:
    DATA = {
        "str": "s",
        "empty": "",
        "null": None,
        "int": 42,
        "bool": True,
        "list": [1],
        "dict": {"k": "v"},
    }

    def test_get_str(self):
        assert get_str(self.DATA, "str") == "s"
        assert get_str(self.DATA, "empty") == ""
        assert get_str(self.DATA, "null") is None
        assert get_str(self.DATA, "missing") is None
        for key in ("int", "bool", "list", "dict"):
            with pytest.raises(TypeError, match=f"'{key}' is not a string"):
                get_str(self.DATA, key)

    def test_get_id(self):
        assert get_id(self.DATA, "str") == "s"
        assert get_id(self.DATA, "int") == "42"
        assert get_id(self.DATA, "missing") is None
        for key in ("bool", "list", "dict"):
            with pytest.raises(TypeError):
                get_id(self.DATA, key)

    def test_get_list(self):
        assert get_list(self.DATA, "list") == [1]
        assert get_list(self.DATA, "null") == []
        assert get_list(self.DATA, "missing") == []
        for key in ("str", "int", "dict"):
            with pytest.raises(TypeError, match=f"'{key}' is not a JSON array"):
                get_list(self.DATA, key)

    def test_get_object(self):
        assert get_object(self.DATA, "dict") == {"k": "v"}
        assert get_object(self.DATA, "null") is None
        assert get_object(self.DATA, "missing") is None
        for key in ("str", "int", "list"):
            with pytest.raises(TypeError, match=f"'{key}' is not a JSON object"):
                get_object(self.DATA, key)


class TestEpochToDatetime:
    @pytest.mark.parametrize(
        "value, expected",
        [
            (0, datetime(1970, 1, 1, tzinfo=timezone.utc)),
            (1700000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)),
            (
                1700000000.5,
                datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=timezone.utc),
            ),
            (None, None),
        ],
    )
    def test_seconds(self, value, expected):
        assert epoch_to_datetime(value) == expected

    def test_milliseconds(self):
        assert epoch_to_datetime(1700000000123, milliseconds=True) == datetime(
            2023, 11, 14, 22, 13, 20, 123000, tzinfo=timezone.utc
        )
        assert epoch_to_datetime(None, milliseconds=True) is None

    @pytest.mark.parametrize("value", ["1700000000", True, [1], {}])
    def test_not_a_number(self, value):
        with pytest.raises(TypeError):
            epoch_to_datetime(value)

    @pytest.mark.parametrize("value", [10**20, -(10**20), float("inf"), float("nan")])
    def test_out_of_range(self, value):
        with pytest.raises(ValueError):
            epoch_to_datetime(value)


class TestParseIsoDatetime:
    @pytest.mark.parametrize(
        "value, expected",
        [
            (
                "2024-01-15T10:30:45Z",
                datetime(2024, 1, 15, 10, 30, 45, tzinfo=timezone.utc),
            ),
            (  # no offset is UTC; seven-digit fractions are truncated
                "2024-01-15T10:30:45.1234567",
                datetime(2024, 1, 15, 10, 30, 45, 123456, tzinfo=timezone.utc),
            ),
            (
                "2024-01-15T10:30:45-05:00",
                datetime(2024, 1, 15, 15, 30, 45, tzinfo=timezone.utc),
            ),
        ],
    )
    def test_parses(self, value, expected):
        parsed = parse_iso_datetime(value)
        assert parsed == expected
        assert parsed.tzinfo is not None

    @pytest.mark.parametrize("value", [None, 1700000000, ["2024-01-15"]])
    def test_not_a_string(self, value):
        with pytest.raises(TypeError):
            parse_iso_datetime(value)

    @pytest.mark.parametrize("value", ["", "yesterday", "2024-02-30T00:00:00Z"])
    def test_not_a_datetime(self, value):
        with pytest.raises(ValueError):
            parse_iso_datetime(value)


class TestOptionalIsoDatetime:
    def test_parses(self):
        assert optional_iso_datetime("2024-01-15T10:30:45Z") == datetime(
            2024, 1, 15, 10, 30, 45, tzinfo=timezone.utc
        )

    @pytest.mark.parametrize(
        "value",
        [None, 1700000000, ["2024-01-15"], "", "yesterday", "2024-13-01T00:00:00Z"],
    )
    def test_unusable_is_none(self, value):
        assert optional_iso_datetime(value) is None


class TestFormFields:
    def test_form_post(self):
        request = RequestFactory().post(
            "/", "a=1&b=two&b=three", content_type="application/x-www-form-urlencoded"
        )
        fields = form_fields(request)
        assert fields["a"] == "1"
        assert fields.getlist("b") == ["two", "three"]

    def test_unparseable_multipart_is_value_error(self):
        request = RequestFactory().post(
            "/", b"--x\r\nnot a multipart body", content_type="multipart/form-data"
        )
        with pytest.raises(ValueError, match="^Unparseable form body: "):
            form_fields(request)


class TestDownloadRawMessage:
    def test_parses_the_download(self, requests_mock):
        requests_mock.set_response(200, b"Subject: Hi\r\n\r\nBody\r\n")
        message = download_raw_message("https://files.example.com/raw?sig=x", 4)
        assert isinstance(message, AnymailInboundMessage)
        assert message["Subject"] == "Hi"
        assert message.get_content_text() == "Body\n"
        call = requests_mock.last_call
        assert call["method"].upper() == "GET"
        assert call["url"] == "https://files.example.com/raw?sig=x"
        assert call["stream"] is True
        assert "Authorization" not in (call.get("headers") or {})

    def test_http_error(self, requests_mock):
        requests_mock.set_response(403, b"expired")
        with pytest.raises(requests.HTTPError):
            download_raw_message("https://files.example.com/raw", 4)


@pytest.mark.parametrize(
    "address, expected",
    [
        ("to@example.com", "to@example.com"),
        ('"Name, Last" <to@example.com>', "to@example.com"),
        ("a@example.com, b@example.com", None),
        ("not an address <", None),
        ("", None),
        (None, None),
        (["to@example.com"], None),
    ],
)
def test_single_addr_spec(address, expected):
    assert single_addr_spec(address) == expected


class TestLoadPublicKey:
    RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    EC_KEY = ec.generate_private_key(ec.SECP256R1())

    @staticmethod
    def pem(private_key):
        return private_key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )

    @classmethod
    def base64_body(cls, private_key):
        return "".join(cls.pem(private_key).decode("ascii").splitlines()[1:-1])

    def load(self, key, key_type="RSA"):
        return load_public_key(
            key,
            key_type=key_type,
            setting_name="TEST_WEBHOOK_KEY",
            hint="use the key from the test ESP",
            install_extra="test",
        )

    def test_base64_body_or_pem(self):
        expected = self.RSA_KEY.public_key().public_numbers()
        for key in (
            self.base64_body(self.RSA_KEY),
            f"  {self.base64_body(self.RSA_KEY)}\n",
            self.pem(self.RSA_KEY),  # bytes
            self.pem(self.RSA_KEY).decode("ascii"),
        ):
            assert self.load(key).public_numbers() == expected
        ec_key = self.load(self.base64_body(self.EC_KEY), "EC")
        assert ec_key.public_numbers() == self.EC_KEY.public_key().public_numbers()

    @pytest.mark.parametrize("key", ["not a key", "QUJD", ""])
    def test_invalid_key_names_setting(self, key):
        with pytest.raises(
            AnymailConfigurationError,
            match=r"^Invalid TEST_WEBHOOK_KEY: use the key from the test ESP \(",
        ):
            self.load(key)

    def test_wrong_key_type(self):
        with pytest.raises(
            AnymailConfigurationError,
            match="^Invalid TEST_WEBHOOK_KEY: it must be an RSA public key$",
        ):
            self.load(self.base64_body(self.EC_KEY), "RSA")
        with pytest.raises(
            AnymailConfigurationError,
            match=r"it must be an elliptic curve \(ECDSA\) public key$",
        ):
            self.load(self.base64_body(self.RSA_KEY), "EC")

    def test_needs_cryptography(self):
        blocked = {
            name: None
            for name in list(sys.modules)
            if name == "cryptography" or name.startswith("cryptography.")
        }
        with (
            mock.patch.dict(sys.modules, blocked),
            pytest.raises(AnymailImproperlyInstalled, match=r"anymail\[test\]"),
        ):
            self.load(self.base64_body(self.RSA_KEY))


class TestSigningKeyBytes:
    def key_bytes(self, key, allow_bare=False):
        return signing_key_bytes(
            key, setting_name="TEST_SECRET", esp_name="Test ESP", allow_bare=allow_bare
        )

    def test_text_or_bytes(self):
        assert self.key_bytes("s3cret") == b"s3cret"
        assert self.key_bytes(b"\xffraw") == b"\xffraw"

    @pytest.mark.parametrize("key", [None, "", b""])
    def test_missing_or_empty(self, key):
        with pytest.raises(AnymailConfigurationError) as excinfo:
            self.key_bytes(key)
        assert str(excinfo.value) == (
            "You must set ANYMAIL = {'TEST_SECRET': ...} or ANYMAIL_TEST_SECRET"
            " in your Django settings"
        )
        with pytest.raises(AnymailConfigurationError, match="or TEST_SECRET in"):
            self.key_bytes(key, allow_bare=True)

    def test_not_ascii(self):
        with pytest.raises(AnymailConfigurationError) as excinfo:
            self.key_bytes("s\u00e9cret")
        assert str(excinfo.value) == (
            "TEST_SECRET must be ASCII text: use it exactly as Test ESP shows it"
        )


class TestHmacSignatures:
    def test_hmac_sha256_hexdigest(self):
        # RFC 4231 test case 2
        assert hmac_sha256_hexdigest(b"Jefe", b"what do ya want for nothing?") == (
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        )

    def check(self, body, signature=None):
        headers = {} if signature is None else {"X-Test-Signature": signature}
        request = RequestFactory().post(
            "/", body, content_type="application/json", headers=headers
        )
        check_body_hmac_signature(
            request,
            header="X-Test-Signature",
            key=b"key",
            esp_name="Test ESP",
            setting_name="TEST_SECRET",
        )

    def test_body_signature(self):
        self.check(b"{}", hmac_sha256_hexdigest(b"key", b"{}"))

    def test_missing(self):
        with pytest.raises(AnymailWebhookValidationFailure) as excinfo:
            self.check(b"{}")
        assert str(excinfo.value) == "Test ESP webhook called without signature"

    @pytest.mark.parametrize(
        "signature",
        [
            hmac_sha256_hexdigest(b"key", b"[]"),  # another body's
            hmac_sha256_hexdigest(b"other", b"{}"),  # another key's
            hmac_sha256_hexdigest(b"key", b"{}").upper(),
            "",
        ],
    )
    def test_incorrect(self, signature):
        with pytest.raises(AnymailWebhookValidationFailure) as excinfo:
            self.check(b"{}", signature)
        assert str(excinfo.value) == (
            "Test ESP webhook called with incorrect signature"
            " (check Anymail TEST_SECRET setting)"
        )


class TestEspApiErrors:
    def test_payload_style_errors_become_api_errors(self):
        from anymail.exceptions import AnymailAPIError
        from anymail.webhooks.base import esp_api_errors

        with (
            pytest.raises(AnymailAPIError, match="^Couldn't fetch thing") as info,
            esp_api_errors("Test ESP", "fetch thing"),
        ):
            raise ValueError("bad URL")
        assert info.value.esp_name == "Test ESP"
        assert isinstance(info.value.__cause__, ValueError)

    def test_other_errors_pass_through(self):
        import requests

        from anymail.webhooks.base import esp_api_errors

        with pytest.raises(requests.HTTPError), esp_api_errors("Test ESP", "fetch"):
            raise requests.HTTPError("503")


class TestHeaderPairs:
    def test_object_of_strings_and_lists(self):
        from anymail.webhooks.base import header_pairs

        headers = {"Received": ["one", None, "two"], "Subject": "Hi", "X-Null": None}
        assert header_pairs(headers) == [
            ("Received", "one"),
            ("Received", "two"),
            ("Subject", "Hi"),
        ]
        assert header_pairs(None) == []

    @pytest.mark.parametrize("headers", [["Subject", "Hi"], {"Subject": 3}])
    def test_wrong_shapes(self, headers):
        from anymail.webhooks.base import header_pairs

        with pytest.raises(TypeError, match="^ESP Headers "):
            header_pairs(headers, "ESP Headers")

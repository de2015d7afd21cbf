"""The shared webhook view behavior, through a small JSON test ESP view."""

import json
import logging
import warnings

import pytest
from django.core.exceptions import PermissionDenied
from django.test import override_settings
from django.urls import path

from anymail.exceptions import (
    AnymailInsecureWebhookWarning,
    AnymailWebhookValidationFailure,
)
from anymail.signals import AnymailTrackingEvent, tracking
from anymail.webhooks.base import (
    AnymailBaseWebhookView,
    AnymailBasicAuthMixin,
    AnymailCoreWebhookView,
)

from .conftest import basic_auth_header


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


@pytest.fixture
def quiet():
    """No insecure-webhook warning noise for tests not about it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)
        yield


@pytest.fixture
def security_log(caplog):
    caplog.set_level(logging.ERROR, logger="django.security")
    return caplog


def security_messages(caplog):
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "django.security.AnymailWebhookValidationFailure"
    ]


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

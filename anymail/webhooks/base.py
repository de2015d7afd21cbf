"""Shared machinery for Anymail's tracking and inbound webhook views.

A webhook view validates the request (shared HTTP Basic auth plus any ESP
signature check), turns the ESP's payload into normalized events, and sends one
signal per event. ESP views supply ``esp_name``, ``signal`` and
``parse_events(request)``, and may add ``validate_request(request)`` checks.
"""

import logging
import warnings

from django.http import HttpResponse, HttpResponseBadRequest
from django.utils.crypto import constant_time_compare
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View

from ..exceptions import AnymailInsecureWebhookWarning, AnymailWebhookValidationFailure
from ..utils import collect_all_methods, get_anymail_setting, get_request_basic_auth

try:
    from django.contrib.auth.decorators import login_not_required
except ImportError:  # Django < 5.1 has no LoginRequiredMiddleware

    def login_not_required(view_func):
        return view_func


logger = logging.getLogger("anymail.webhooks")

#: Errors an ESP view's parsing raises for a body that isn't what the ESP
#: sends (bad JSON, wrong shape, missing fields, undecodable data). Anymail
#: answers these with 400 rather than letting them become a 500.
MALFORMED_PAYLOAD_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError)

INSECURE_WEBHOOK_WARNING = (
    "Your Anymail webhooks are insecure and open to anyone on the web. "
    "You should set WEBHOOK_SECRET in your ANYMAIL settings. "
    "See 'Securing webhooks' in the Anymail docs."
)


class AnymailCoreWebhookView(View):
    """Validate, parse, then send one signal per event; answer 200."""

    http_method_names = ["post", "head", "options"]

    #: the signal to send for each parsed event (anymail.signals.tracking or inbound)
    signal = None

    @property
    def esp_name(self):
        cls = type(self)
        raise NotImplementedError(
            f"{cls.__module__}.{cls.__name__} must declare esp_name class attr"
        )

    def __init__(self, **kwargs):
        # Every distinct validate_request along the MRO runs, so mixins and
        # subclasses add checks without calling super()
        self.validators = collect_all_methods(type(self), "validate_request")
        super().__init__(**kwargs)

    @method_decorator(csrf_exempt)
    @method_decorator(login_not_required)
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    def head(self, request, *args, **kwargs):
        # ESPs probe the URL with HEAD: answer without validating anything
        return HttpResponse()

    def post(self, request, *args, **kwargs):
        try:
            self.run_validators(request)
            events = list(self.parse_events(request))
        except MALFORMED_PAYLOAD_ERRORS as err:
            return self.malformed_payload_response(err)
        for event in events:
            self.signal.send(sender=type(self), event=event, esp_name=self.esp_name)
        return HttpResponse()

    def run_validators(self, request):
        for validator in self.validators:
            validator(self, request)

    def validate_request(self, request):
        """Raise AnymailWebhookValidationFailure if the request isn't genuine."""

    def parse_events(self, request):
        """Return the list of AnymailEvents in the request."""
        raise NotImplementedError()

    def malformed_payload_response(self, err):
        """400 for a body this ESP would never send; logged, nothing dispatched."""
        logger.warning(
            "Malformed %s webhook payload (%s: %s)",
            self.esp_name,
            type(err).__name__,
            err,
        )
        return HttpResponseBadRequest(
            f"Malformed {self.esp_name} webhook payload", content_type="text/plain"
        )


class AnymailBasicAuthMixin:
    """Require the WEBHOOK_SECRET HTTP Basic credentials, when one is set.

    WEBHOOK_SECRET is "user:password", or a list of them (any one matches, so
    credentials can be rotated). ``as_view(basic_auth=[...])`` overrides it.
    """

    warn_if_no_basic_auth = True
    basic_auth = None

    def __init__(self, **kwargs):
        configured = _as_list(get_anymail_setting("webhook_secret", default=None))
        if "basic_auth" in kwargs:
            self.basic_auth = _as_list(kwargs.pop("basic_auth"))
        else:
            self.basic_auth = configured
        if self.warn_if_no_basic_auth and not configured:
            warnings.warn(
                INSECURE_WEBHOOK_WARNING, AnymailInsecureWebhookWarning, stacklevel=2
            )
        super().__init__(**kwargs)

    def validate_request(self, request):
        if not self.basic_auth:
            return
        credentials = get_request_basic_auth(request)
        if credentials is None or not self.is_allowed_basic_auth(credentials):
            raise AnymailWebhookValidationFailure(
                f"Missing or invalid basic auth in Anymail {self.esp_name} webhook"
            )

    def is_allowed_basic_auth(self, credentials):
        # compare against every allowed value, so timing says nothing of which matched
        matches = [
            constant_time_compare(credentials, allowed) for allowed in self.basic_auth
        ]
        return any(matches)


class AnymailBaseWebhookView(AnymailBasicAuthMixin, AnymailCoreWebhookView):
    """Base for Anymail's ESP webhook views: basic auth plus the core flow."""


def _as_list(secret):
    if not secret:
        return []
    if isinstance(secret, str):
        return [secret]
    return list(secret)

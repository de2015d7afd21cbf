"""Deprecated SendinBlue webhook URLs: Brevo's views under their old name.

They behave exactly like the Brevo views, except that they report esp_name
"SendinBlue", read SENDINBLUE_-prefixed settings, and warn (on every request)
that the URL should be changed to Anymail's Brevo one.
"""

import warnings

from ..exceptions import AnymailDeprecationWarning
from .brevo import BrevoInboundWebhookView, BrevoTrackingWebhookView


class SendinBlueTrackingWebhookView(BrevoTrackingWebhookView):
    """Deprecated: use BrevoTrackingWebhookView (anymail/brevo/tracking/)."""

    esp_name = "SendinBlue"

    def __init__(self, **kwargs):
        warnings.warn(
            "Anymail's SendinBlue webhook URLs are deprecated."
            " Update your Brevo transactional email webhook URL to change"
            " 'anymail/sendinblue' to 'anymail/brevo'.",
            AnymailDeprecationWarning,
            stacklevel=2,
        )
        super().__init__(**kwargs)


class SendinBlueInboundWebhookView(BrevoInboundWebhookView):
    """Deprecated: use BrevoInboundWebhookView (anymail/brevo/inbound/)."""

    esp_name = "SendinBlue"

    def __init__(self, **kwargs):
        warnings.warn(
            "Anymail's SendinBlue webhook URLs are deprecated."
            " Update your Brevo inbound webhook URL to change"
            " 'anymail/sendinblue' to 'anymail/brevo'.",
            AnymailDeprecationWarning,
            stacklevel=2,
        )
        super().__init__(**kwargs)

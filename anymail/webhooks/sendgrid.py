"""SendGrid webhooks: STUB, being written (replace this whole file)."""

from ..signals import tracking
from .base import AnymailBaseWebhookView


class SendGridTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "SendGrid"
    signal = tracking

"""SendGrid webhooks: STUB, being written (replace this whole file)."""

from ..signals import inbound, tracking
from .base import AnymailBaseWebhookView


class SendGridTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "SendGrid"
    signal = tracking


class SendGridInboundWebhookView(AnymailBaseWebhookView):
    esp_name = "SendGrid"
    signal = inbound

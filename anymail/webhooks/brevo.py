"""Brevo webhooks: STUB, being written (replace this whole file)."""

from ..signals import inbound, tracking
from .base import AnymailBaseWebhookView


class BrevoTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "Brevo"
    signal = tracking


class BrevoInboundWebhookView(AnymailBaseWebhookView):
    esp_name = "Brevo"
    signal = inbound

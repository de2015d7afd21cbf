"""Postal webhooks: STUB, being written (replace this whole file)."""

from ..signals import inbound, tracking
from .base import AnymailBaseWebhookView


class PostalTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "Postal"
    signal = tracking


class PostalInboundWebhookView(AnymailBaseWebhookView):
    esp_name = "Postal"
    signal = inbound

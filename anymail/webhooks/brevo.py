"""Brevo webhooks: STUB, being written (replace this whole file)."""

from ..signals import tracking
from .base import AnymailBaseWebhookView


class BrevoTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "Brevo"
    signal = tracking

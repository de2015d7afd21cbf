"""Mandrill webhooks: STUB, being written (replace this whole file)."""

from ..signals import tracking
from .base import AnymailBaseWebhookView


class MandrillCombinedWebhookView(AnymailBaseWebhookView):
    esp_name = "Mandrill"
    signal = tracking


MandrillTrackingWebhookView = MandrillCombinedWebhookView

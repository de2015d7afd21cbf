"""Unisender Go webhooks: STUB, being written (replace this whole file)."""

from ..signals import tracking
from .base import AnymailBaseWebhookView


class UnisenderGoTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "Unisender Go"
    signal = tracking

"""Resend webhooks: STUB, being written (replace this whole file)."""

from ..signals import inbound, tracking
from .base import AnymailBaseWebhookView


class ResendTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "Resend"
    signal = tracking


class ResendInboundWebhookView(AnymailBaseWebhookView):
    esp_name = "Resend"
    signal = inbound

"""SendinBlue webhooks: STUB, being written (replace this whole file)."""

from ..signals import inbound, tracking
from .base import AnymailBaseWebhookView


class SendinBlueTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "SendinBlue"
    signal = tracking


class SendinBlueInboundWebhookView(AnymailBaseWebhookView):
    esp_name = "SendinBlue"
    signal = inbound

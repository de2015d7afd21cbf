"""SparkPost webhooks: STUB, being written (replace this whole file)."""

from ..signals import inbound, tracking
from .base import AnymailBaseWebhookView


class SparkPostTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "SparkPost"
    signal = tracking


class SparkPostInboundWebhookView(AnymailBaseWebhookView):
    esp_name = "SparkPost"
    signal = inbound

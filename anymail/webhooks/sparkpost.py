"""SparkPost webhooks: STUB, being written (replace this whole file)."""

from ..signals import tracking
from .base import AnymailBaseWebhookView


class SparkPostTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "SparkPost"
    signal = tracking

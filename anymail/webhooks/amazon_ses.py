"""Amazon SES webhooks: STUB, being written (replace this whole file)."""

from ..signals import tracking
from .base import AnymailBaseWebhookView


class AmazonSESTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "Amazon SES"
    signal = tracking

"""Anymail: Django email backends and webhooks for transactional email providers."""

from ._version import __version__

# Kept as upstream publishes it: the version string split on ",", a one-item list.
VERSION = __version__.split(",")

__all__ = ["VERSION", "__version__"]

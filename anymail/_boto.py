"""botocore client configuration shared by the Amazon SES backend and webhooks.

Importing this module needs botocore (installed with boto3).
"""

from collections.abc import Mapping

from botocore.client import Config

from ._version import __version__


def boto_client_config(esp_name, user_config=None):
    """A botocore Config with Anymail's user agent, merged with user_config.

    user_config (a Config or a dict of Config options) wins over Anymail's
    defaults, including for user_agent_extra. Neither it nor any dict is changed.
    """
    esp_id = esp_name.lower().replace(" ", "-")
    config = Config(user_agent_extra=f"django-anymail/{__version__}-{esp_id}")
    if isinstance(user_config, Mapping):
        user_config = Config(**user_config)
    if user_config is not None:
        config = config.merge(user_config)
    return config

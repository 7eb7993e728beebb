"""The MQTT contract every motcua device speaks: topics and messages."""

from .codec import DEFAULT_MAX_PAYLOAD, PayloadError, decode
from .messages import *  # noqa: F403 - the messages are the package's API
from .messages import SCHEMA_VERSION, new_id, utcnow
from .topics import AVAILABILITY_OFFLINE, AVAILABILITY_ONLINE, ROOT, TOPIC_SPECS, Topics

__all__ = [
    "AVAILABILITY_OFFLINE", "AVAILABILITY_ONLINE", "DEFAULT_MAX_PAYLOAD", "PayloadError", "ROOT",
    "SCHEMA_VERSION", "TOPIC_SPECS", "Topics", "decode", "new_id", "utcnow",
]

"""Push providers (FCM HTTP v1, APNs) behind one :class:`PushProvider` protocol, plus simulators.

The notifications layer depends on :mod:`integrations.push.protocol` only; ``base_url`` settings choose
the real service or the in-process simulator in :mod:`integrations.push.simulator`.
"""

from integrations.push.apns import ApnsPushProvider
from integrations.push.fcm import FcmPushProvider, FcmServiceAccount
from integrations.push.protocol import (
    PushError,
    PushProvider,
    PushRejected,
    PushResult,
    PushTemporaryError,
    PushTokenInvalid,
)

__all__ = [
    "ApnsPushProvider",
    "FcmPushProvider",
    "FcmServiceAccount",
    "PushError",
    "PushProvider",
    "PushRejected",
    "PushResult",
    "PushTemporaryError",
    "PushTokenInvalid",
]

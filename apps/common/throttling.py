"""API throttles: anonymous clients by address (DRF's AnonRateThrottle), signed-in users by account."""
from rest_framework.throttling import UserRateThrottle


class MemberRateThrottle(UserRateThrottle):
    """DRF's UserRateThrottle for signed-in users only. DRF's also counts anonymous clients by address, under the
    looser user rate, beside AnonRateThrottle's count of the same address: two cache reads and writes per request
    that can never refuse one."""

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)

"""`Authorization: Token <key>` against the hashed, named API tokens, with their scope and expiry."""
from django.core.exceptions import ValidationError
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import SAFE_METHODS

from . import services


class ReadOnlyToken(exceptions.PermissionDenied):
    default_code = "read_only_token"


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's header parsing (`Token <key>`), looked up by SHA-256 in `ApiToken`.

    Unknown or revoked key, expired token, inactive user: 401. A read-scope
    token on a write: 403 naming the scope, whatever the view.
    """

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            user, token = result
            if request.method not in SAFE_METHODS and not token.can_write:
                raise ReadOnlyToken(
                    f"The API token “{token.name}” is read-only (scope read); use a read_write token for "
                    f"{request.method} requests."
                )
        return result

    def authenticate_credentials(self, key):
        try:
            token = services.authenticate_api_key(key=key)
        except ValidationError as error:
            raise exceptions.AuthenticationFailed(" ".join(error.messages)) from error
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return token.user, token

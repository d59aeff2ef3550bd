"""API: research groups (read-only) and named API tokens for scripts."""
import datetime

from django.contrib.auth import authenticate
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, status, viewsets
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from apps.common.api import ApiViewMixin

from . import services
from .lockout import LockedOut
from .models import ApiToken, Membership, ResearchGroup
from .selectors import api_tokens_of
from .serializers import (
    ApiTokenSerializer,
    NewApiTokenSerializer,
    ResearchGroupSerializer,
    TokenOptionsSerializer,
    TokenRequestSerializer,
)


@extend_schema_view(
    list=extend_schema(
        summary="List research groups",
        description="Every research group, with its member count and your role in it (null when you are not a member).",
    ),
    retrieve=extend_schema(summary="One research group"),
)
class ResearchGroupViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ResearchGroupSerializer
    search_fields = ["name", "slug", "institution"]
    ordering_fields = ["name", "created_at", "n_members"]
    filterset_fields = ["slug"]

    def get_queryset(self):
        user = self.request.user
        role = Membership.objects.filter(group=OuterRef("pk"), user_id=user.pk if user.is_authenticated else None)
        return ResearchGroup.objects.annotate(
            n_members=Count("memberships", distinct=True),
            my_role=Subquery(role.values("role")[:1]),
        )


class PasswordAttemptThrottle(AnonRateThrottle):
    """Password logins for tokens: a few a minute per address, so passwords cannot be guessed through the API.

    Counted in the shared cache (settings.CACHES), so the limit holds across web workers; repeated
    failures for one username also lock it (django-axes, LOGIN_FAILURE_LIMIT).
    """

    scope = "token"
    rate = "20/minute"


def _token_options(data: dict) -> dict:
    """Service keyword arguments from validated TokenOptionsSerializer data."""
    expires_at = data.get("expires_at")
    if data.get("expires_in_days"):
        expires_at = timezone.now() + datetime.timedelta(days=data["expires_in_days"])
    options = {"scope": data.get("scope") or ApiToken.Scope.READ_WRITE, "expires_at": expires_at}
    if data.get("name"):
        options["name"] = data["name"]
    return options


def _issued(issued: services.IssuedToken, request) -> Response:
    context = {"request": request, "now": timezone.now()}
    return Response(NewApiTokenSerializer(issued, context=context).data, status=status.HTTP_201_CREATED)


NEW_TOKEN_EXAMPLE = OpenApiExample(
    "Token",
    value={
        "token": "assbdb_Q2hh…", "username": "alice", "created": "2026-06-01T09:00:00Z", "id": 7,
        "name": "harvester on the Gamry PC", "scope": "read_write", "prefix": "assbdb_Q2hh",
        "created_at": "2026-06-01T09:00:00Z", "expires_at": None, "last_used_at": None, "is_expired": False,
    },
    response_only=True,
)  # fmt: skip


class ApiTokenView(APIView):
    """Log in for a new API token (POST) or revoke the token this request is sent with (DELETE)."""

    permission_classes = [permissions.AllowAny]
    throttle_classes = [PasswordAttemptThrottle, UserRateThrottle]

    @extend_schema(
        summary="Get a new API token",
        description=(
            "Log in with username and password (or an existing session) and receive a new named token "
            "(`name`, `scope` read or read_write, optional expiry). Your other tokens keep working. "
            "Send it as `Authorization: Token <token>`; it is shown only in this answer."
        ),
        request=TokenRequestSerializer,
        responses={201: NewApiTokenSerializer},
        examples=[
            OpenApiExample(
                "Credentials",
                value={"username": "alice", "password": "correct horse battery", "name": "analysis notebook"},
                request_only=True,
            ),
            NEW_TOKEN_EXAMPLE,
        ],
    )
    def post(self, request):
        user = request.user if request.user and request.user.is_authenticated else None
        payload = TokenRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        if user is None:
            username, password = payload.validated_data.get("username"), payload.validated_data.get("password")
            if not username or not password:
                raise exceptions.ValidationError(
                    {name: ["This field is required."] for name, value in
                     (("username", username), ("password", password)) if not value}
                )
            # The Django request, so django-axes counts the failure and marks a lockout on it.
            user = authenticate(request._request, username=username, password=password)
            if user is None:
                if getattr(request._request, "axes_locked_out", False):
                    raise LockedOut(request._request)
                raise exceptions.AuthenticationFailed("Wrong username or password.")
        return _issued(services.create_api_token(user=user, **_token_options(payload.validated_data)), request)

    @extend_schema(
        summary="Revoke the token of this request",
        description="Deletes the token sent in the Authorization header; scripts using it get 401 from then on. "
        "Your other tokens keep working (revoke them by id at `auth/tokens/{id}/`).",
        request=None,
        responses={204: OpenApiResponse(description="Revoked (or the request carried no token).")},
    )
    def delete(self, request):
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if isinstance(request.auth, ApiToken):
            services.revoke_api_token(user=request.user, token_id=request.auth.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        summary="List your API tokens",
        description="Name, scope, first characters, expiry and last use of each of your tokens; never the key.",
    ),
    create=extend_schema(
        summary="Create a named API token",
        description="The key is in this answer only; the database keeps its SHA-256. Your other tokens keep working.",
        request=TokenOptionsSerializer,
        responses={201: NewApiTokenSerializer},
        examples=[
            OpenApiExample(
                "Read-only, 90 days", value={"name": "dashboard", "scope": "read", "expires_in_days": 90},
                request_only=True,
            ),
            NEW_TOKEN_EXAMPLE,
        ],
    ),
    retrieve=extend_schema(summary="One of your API tokens"),
    destroy=extend_schema(summary="Revoke one of your API tokens", description="Scripts using it get 401 from then on."),
)
class ApiTokenViewSet(
    ApiViewMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Your own API tokens: another user's token is a 404."""

    serializer_class = ApiTokenSerializer
    permission_classes = [permissions.IsAuthenticated]
    filterset_fields = ["scope"]
    search_fields = ["name", "prefix"]
    ordering_fields = ["created_at", "name", "last_used_at", "expires_at", "pk"]

    def get_queryset(self):
        return api_tokens_of(self.request.user)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    def create(self, request, *args, **kwargs):
        payload = TokenOptionsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return _issued(services.create_api_token(user=request.user, **_token_options(payload.validated_data)), request)

    def perform_destroy(self, instance):
        services.revoke_api_token(user=self.request.user, token_id=instance.pk)

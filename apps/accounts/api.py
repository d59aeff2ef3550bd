"""API: research groups (read-only) and API tokens for scripts."""
from django.contrib.auth import authenticate
from django.db.models import Count, OuterRef, Subquery
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, permissions, status, viewsets
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from apps.common.api import ApiViewMixin

from . import services
from .lockout import LockedOut
from .models import Membership, ResearchGroup
from .serializers import ResearchGroupSerializer, TokenRequestSerializer, TokenSerializer


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


class ApiTokenView(APIView):
    """Create (POST) or revoke (DELETE) your API token."""

    permission_classes = [permissions.AllowAny]
    throttle_classes = [PasswordAttemptThrottle, UserRateThrottle]

    @extend_schema(
        summary="Get a new API token",
        description=(
            "Log in with username and password (or an existing session) and receive a new token; "
            "any earlier token of yours stops working. Send it as `Authorization: Token <token>`."
        ),
        request=TokenRequestSerializer,
        responses={201: TokenSerializer},
        examples=[
            OpenApiExample(
                "Credentials", value={"username": "alice", "password": "correct horse battery"}, request_only=True
            ),
            OpenApiExample(
                "Token",
                value={"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "username": "alice",
                       "created": "2026-06-01T09:00:00Z"},
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        user = request.user if request.user and request.user.is_authenticated else None
        if user is None:
            payload = TokenRequestSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
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
        token = services.create_api_token(user=user)
        return Response(
            TokenSerializer({"token": token.key, "username": user.get_username(), "created": token.created}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Revoke your API token",
        description="Deletes your token; scripts using it get 401 from then on.",
        request=None,
        responses={204: OpenApiResponse(description="Revoked (or there was none).")},
    )
    def delete(self, request):
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        services.revoke_api_token(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

"""API representations of research groups and API tokens."""
from rest_framework import serializers

from .models import ApiToken, ResearchGroup
from .references import PRIVATE_LABEL, can_see


class ResearchGroupSerializer(serializers.ModelSerializer):
    n_members = serializers.IntegerField(read_only=True, help_text="Number of members.")
    my_role = serializers.CharField(
        read_only=True, allow_null=True, help_text="Your role in the group (member or owner); null if none."
    )

    class Meta:
        model = ResearchGroup
        fields = ["id", "name", "slug", "institution", "description", "n_members", "my_role", "created_at"]


class GroupRefSerializer(serializers.ModelSerializer):
    """A group as other records name it."""

    class Meta:
        model = ResearchGroup
        fields = ["id", "name", "slug"]


class TokenOptionsSerializer(serializers.Serializer):
    """What a new token is called, what it may do and when it stops working."""

    name = serializers.CharField(
        required=False, max_length=100, help_text="What will use it, e.g. “harvester on the Gamry PC”."
    )
    scope = serializers.ChoiceField(
        choices=ApiToken.Scope.choices, required=False, default=ApiToken.Scope.READ_WRITE,
        help_text="read: GET only; read_write (default): everything your account may do.",
    )  # fmt: skip
    expires_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Refused from then on.")
    expires_in_days = serializers.IntegerField(
        required=False, min_value=1, max_value=3650, help_text="Or: expires this many days from now."
    )

    def validate(self, attrs):
        if attrs.get("expires_at") and attrs.get("expires_in_days"):
            raise serializers.ValidationError("Give expires_at or expires_in_days, not both.")
        return attrs


class TokenRequestSerializer(TokenOptionsSerializer):
    username = serializers.CharField(required=False, help_text="Not needed when already logged in (session).")
    password = serializers.CharField(required=False, write_only=True, style={"input_type": "password"})


class ApiTokenSerializer(serializers.ModelSerializer):
    """A token as lists show it: never the key, only its first characters."""

    is_expired = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "scope", "prefix", "created_at", "expires_at", "last_used_at", "is_expired"]

    def get_is_expired(self, token) -> bool:
        return token.expires_at is not None and token.expires_at <= self.context["now"]


class NewApiTokenSerializer(ApiTokenSerializer):
    """A token just created (an `IssuedToken`), with its key: shown this once, never again."""

    token = serializers.CharField(
        source="key", read_only=True, help_text="The key. Send as `Authorization: Token <token>`; it is not stored, only its hash."
    )
    username = serializers.CharField(source="user.username", read_only=True)
    created = serializers.DateTimeField(source="created_at", read_only=True, help_text="Same as created_at.")

    class Meta(ApiTokenSerializer.Meta):
        fields = ["token", "username", "created", *ApiTokenSerializer.Meta.fields]

    def to_representation(self, issued):
        data = super().to_representation(issued.token)
        data["token"] = issued.key
        return data


class OwnershipFieldsMixin(serializers.Serializer):
    """`group` (id, on write), `group_detail` (read), visibility and embargo of an owned record."""

    group = serializers.PrimaryKeyRelatedField(
        queryset=ResearchGroup.objects.all(), help_text="Owning research group; you must be a member."
    )
    group_name = serializers.CharField(source="group.name", read_only=True)


class VisibleReferenceMixin:
    """A read-only value reached through references (``source="cell.separator.name"``), shown only when the
    requesting user may see every owned record on the way; otherwise ``hidden_value`` (visibility follows
    references, `apps.accounts.references`). A last step ``<relation>_id`` checks that relation's record too.
    """

    hidden_value = None

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        user = getattr(self.context.get("request"), "user", None)
        obj = instance
        *path, last = self.source_attrs
        if last.endswith("_id"):
            path, last = [*path, last[:-3]], "pk"
        for name in path:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
            if not can_see(user, obj):
                return self.hidden_value
        return getattr(obj, last)


class VisibleReferenceNameField(VisibleReferenceMixin, serializers.CharField):
    """A referenced record's name (or other text): "private record" when the viewer may not see it."""

    hidden_value = PRIVATE_LABEL


class VisibleReferenceIdField(VisibleReferenceMixin, serializers.IntegerField):
    """A referenced record's id: null when the viewer may not see it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)


class VisibleReferenceFloatField(VisibleReferenceMixin, serializers.FloatField):
    """A number of a referenced record (a thickness, an area): null when the viewer may not see it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

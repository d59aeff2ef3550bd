"""API representations of research groups and API tokens."""
from rest_framework import serializers

from .models import ResearchGroup
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


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(required=False, help_text="Not needed when already logged in (session).")
    password = serializers.CharField(required=False, write_only=True, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    username = serializers.CharField()
    created = serializers.DateTimeField()


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

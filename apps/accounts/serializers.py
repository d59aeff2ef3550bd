"""API representations of research groups and API tokens, and the reference fields that show a referenced record
only to those who may see it (`VisibleReference…Field`, `VisibleRelatedKeyField`)."""
from django.db.models import BigIntegerField, Case, F, Q, Value, When
from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS, ManyRelatedField

from apps.common.serializers import ModelSerializer, VisiblePrimaryKeyField

from .models import ApiToken, OwnedRecord, ResearchGroup
from .references import PRIVATE_LABEL, can_see
from .selectors import visible_q


class ResearchGroupSerializer(ModelSerializer):
    n_members = serializers.IntegerField(read_only=True, help_text="Number of members.")
    my_role = serializers.CharField(
        read_only=True, allow_null=True, help_text="Your role in the group (member or owner); null if none."
    )

    class Meta:
        model = ResearchGroup
        fields = ["id", "name", "slug", "institution", "description", "n_members", "my_role", "created_at"]


class GroupRefSerializer(ModelSerializer):
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


class ApiTokenSerializer(ModelSerializer):
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

    def values_expression(self, model):
        """The same value as an SQL expression, for exports that read rows as tuples (`apps.common.exports`):
        the column when the viewer may see every owned record on the way, ``hidden_value`` when not."""
        return _guarded_column(self.source_attrs, model, _request_user(self), self.hidden_value)


def _request_user(field):
    return getattr(field.context.get("request"), "user", None)


def _guarded_column(attrs: list[str], model, user, hidden_value):
    """``attrs`` (``["cell", "separator_id"]``) as a column of ``model`` rows, ``hidden_value`` where the viewer
    may not see an owned record on the way (a last ``<relation>_id`` counts its record), NULL where one is absent."""
    *path, last = attrs
    relations = [*path, last[:-3]] if last.endswith("_id") else path
    condition, prefix, current = Q(), "", model
    for name in relations:
        current = current._meta.get_field(name).related_model
        prefix += f"{name}__"
        if issubclass(current, OwnedRecord):
            condition &= visible_q(user, prefix)
    target = model
    for name in path:
        target = target._meta.get_field(name).related_model
    field = target._meta.get_field(last)
    output = BigIntegerField() if field.is_relation else field
    column = F("__".join(attrs))
    if not condition:  # a superuser: nothing to hide
        return column
    absent = Q(**{"__".join(relations) + "__isnull": True}) if relations else None
    whens = [When(absent, then=Value(None))] if absent is not None else []
    return Case(*whens, When(condition, then=column), default=Value(hidden_value), output_field=output)


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


class _VisibleManyRelatedField(ManyRelatedField):
    """Many references by id: only the ones the viewer may see are listed."""

    def to_representation(self, iterable):
        user = _request_user(self)
        return [self.child_relation.to_representation(value) for value in iterable if can_see(user, value)]


class VisibleRelatedKeyField(VisiblePrimaryKeyField):
    """A writable reference by id. Writes: a record the selector lets the user reference. Reads: its id, or null
    (in a list: left out) when the viewer may not see it, so a record never shows the id of a record hidden from
    the viewer (rows written before the rule may reference one)."""

    def use_pk_only_optimization(self):
        return False  # the record itself is needed to ask whether the viewer sees it

    def get_attribute(self, instance):
        record = super().get_attribute(instance)
        return record if can_see(_request_user(self), record) else None

    def values_expression(self, model):
        return _guarded_column([*self.source_attrs[:-1], f"{self.source_attrs[-1]}_id"], model, _request_user(self),
                               None)

    @classmethod
    def many_init(cls, *args, **kwargs):
        list_kwargs = {"child_relation": cls(*args, **kwargs)}
        list_kwargs.update({key: value for key, value in kwargs.items() if key in MANY_RELATION_KWARGS})
        return _VisibleManyRelatedField(**list_kwargs)

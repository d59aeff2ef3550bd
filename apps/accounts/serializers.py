"""API representations of research groups and API tokens."""
from rest_framework import serializers

from .models import ResearchGroup


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

"""API actions every owned record shares (catalog and measurements): its audit history and deletion through the one delete service."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.common.deletion import delete_record

from .references import visible_history_rows
from .selectors import can_edit


class ChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class HistoryEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    actor = serializers.CharField(help_text="User name of who made the change ('' when unknown).")
    action = serializers.CharField(help_text="create, update or delete.")
    event = serializers.CharField(help_text="release, retract, … when the entry is not a plain edit.")
    changes = ChangeSerializer(many=True, help_text="Every field that changed, with its value before and after.")


class RecordHistoryMixin:
    """`GET …/{id}/history/`: the record's audit trail, for members of its group."""

    @extend_schema(summary="Audit trail of the record",
                   description="Who changed what and when: every create, edit, release, retraction and visibility "
                               "change, each field with its value before and after. Members of the owning group only.",
                   responses={200: HistoryEntrySerializer(many=True)})
    @action(detail=True, methods=["get"], filterset_class=None, search_fields=[], ordering_fields=[],
            pagination_class=None)
    def history(self, request, pk=None):
        record = self.get_object()
        if not can_edit(record, request.user):
            raise exceptions.PermissionDenied("Only members of the owning group may read a record's history.")
        return Response(HistoryEntrySerializer(visible_history_rows(record, request.user), many=True).data)


class RecordDeleteMixin:
    """`DELETE …/{id}/`: members delete an unreleased record with what hangs on it (released: 403 naming the release).

    `get_object` checks the write permission (members of the owning group) before anything is deleted.
    """

    @extend_schema(summary="Delete an unreleased record, with what hangs on it",
                   description="Members of the owning group only. Cascades to cells, spectra, fits, conductivities, "
                   "jobs and raw files no other record uses. A released record answers 403 naming its release: "
                   "retract it instead (POST /api/v1/retractions/).", responses={204: None})
    def destroy(self, request, *args, **kwargs):
        delete_record(record=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

"""API of releases and retractions. A release is public once published; publishing and retracting are for members."""
from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.selectors import visible
from apps.catalog.models import Cell, Separator
from apps.common.api import AnyMediaRenderer, ApiViewMixin
from apps.measurements.models import ImpedanceSpectrum

from . import selectors, services
from .models import RecordKind, Retraction
from .serializers import ReleaseCreateSerializer, ReleaseDetailSerializer, ReleaseSerializer, RetractionSerializer

RELEASE_EXAMPLE = {
    "group": 1, "title": "Sintered LLZTO pellets, 25–80 °C", "description": "Blocking-electrode EIS of four pellets.",
    "authors": [{"name": "Carberry, Josiah", "orcid": "0000-0002-1825-0097"}], "licence": "CC-BY-4.0",
    "source_dois": ["10.1021/acs.chemmater.6b00579"], "separators": [4], "cells": [], "spectra": [],
}
RETRACTABLE_MODELS = {RecordKind.SEPARATOR: Separator, RecordKind.CELL: Cell, RecordKind.SPECTRUM: ImpedanceSpectrum}


@extend_schema_view(
    list=extend_schema(summary="List releases", description="Every published release (releases are public)."),
    retrieve=extend_schema(summary="One release, with its records, frozen numbers and manifest"),
    create=extend_schema(
        summary="Publish a release",
        description="Freezes the chosen records of your group (with their cells and spectra) and their benchmark "
        "numbers, makes the records public and writes the archive. `previous` publishes the next version of a "
        "dataset. 403 for records you cannot see; 400 naming a bad licence (SPDX id), ORCID iD or DOI.",
        request=ReleaseCreateSerializer, responses={201: ReleaseDetailSerializer},
        examples=[OpenApiExample("A release", value=RELEASE_EXAMPLE, request_only=True)],
    ),
)
class ReleaseViewSet(ApiViewMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    filterset_class = None
    filterset_fields = ["group", "dataset_key", "version", "licence"]
    search_fields = ["title", "description", "dataset_key"]
    ordering_fields = ["published_at", "version", "pk"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.visible_releases(user=self.request.user).prefetch_related("records", "entries")

    def get_serializer_class(self):
        if self.action == "create":
            return ReleaseCreateSerializer
        return ReleaseDetailSerializer if self.action == "retrieve" else ReleaseSerializer

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["retracted_pairs"] = set(Retraction.objects.values_list("kind", "object_id"))
        return context

    def create(self, request, *args, **kwargs):
        serializer = ReleaseCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        release = services.release_publish(
            user=request.user, group=data["group"], title=data["title"], description=data["description"],
            authors=[dict(a) for a in data["authors"]], licence=data["licence"], source_dois=data["source_dois"],
            separator_ids=data["separators"], cell_ids=data["cells"], spectrum_ids=data["spectra"],
            previous=data.get("previous"), base_url=request.build_absolute_uri("/"),
        )
        body = ReleaseDetailSerializer(release, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Download a release's archive",
                   description="The zip as published (byte-identical on every download): raw files, spectra (CSV), "
                   "fits and entries (CSV, JSON), manifest-sha256.txt, ro-crate-metadata.json, datacite.json.",
                   responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], renderer_classes=[AnyMediaRenderer], filterset_class=None,
            search_fields=[], ordering_fields=[])
    def archive(self, request, pk=None):
        release = self.get_object()
        if not release.archive:
            raise exceptions.NotFound("This release has no archive.")
        response = FileResponse(default_storage.open(release.archive.name, "rb"), content_type="application/zip",
                                as_attachment=True,
                                filename=f"{release.group.slug}-{release.dataset_key}-v{release.version}.zip")
        response["ETag"] = f'"{release.archive_sha256}"'
        return response


@extend_schema_view(
    list=extend_schema(summary="List retractions", description="Retracted records with the reason (public)."),
    retrieve=extend_schema(summary="One retraction"),
    create=extend_schema(
        summary="Retract a released record",
        description="Members of the owning group retract a released separator, cell or spectrum with a reason: its "
        "numbers leave the leaderboards at once. 400 without a reason or for a record that is not released.",
        examples=[OpenApiExample("Mis-assigned spectrum", value={
            "kind": "spectrum", "object_id": 12, "reason": "Temperature mis-assigned: measured at 40 °C."},
            request_only=True)],
    ),
)
class RetractionViewSet(ApiViewMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = RetractionSerializer
    ordering_fields = ["retracted_at", "pk"]
    filterset_fields = ["kind", "object_id", "group"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return Retraction.objects.select_related("retracted_by")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        model = RETRACTABLE_MODELS[RecordKind(data["kind"])]
        queryset = model._default_manager.defer("data") if model is ImpedanceSpectrum else model._default_manager
        record = visible(queryset.all(), request.user).filter(pk=data["object_id"]).first()
        if record is None:
            raise exceptions.NotFound(f"No {data['kind']} {data['object_id']} that you can see.")
        retraction = services.record_retract(user=request.user, record=record, reason=data["reason"])
        return Response(self.get_serializer(retraction).data, status=status.HTTP_201_CREATED)

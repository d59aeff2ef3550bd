"""The shared ModelSerializer: its shorter read path gives what DRF's gives, and each instance gets fields of its
own."""
import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from apps.accounts.models import Visibility
from apps.analysis.models import KramersKronigCheck
from apps.catalog.serializers import CellSerializer, SeparatorSerializer
from apps.measurements.serializers import KramersKronigSerializer, SpectrumListSerializer
from tests.factories import CellFactory, MembershipFactory, RawFileFactory, SpectrumFactory


def _as_drf(serializer, instance) -> dict:
    return serializers.ModelSerializer.to_representation(serializer, instance)


def _context(user) -> dict:
    request = APIRequestFactory().get("/api/v1/")
    request.user = user
    return {"request": request}


@pytest.mark.django_db
@pytest.mark.parametrize("viewer", ["anonymous", "member"])
@pytest.mark.parametrize("cell_visibility", [Visibility.PUBLIC, Visibility.PRIVATE])
@pytest.mark.parametrize("with_kk_check", [True, False])
def test_spectrum_reads_as_drf_reads_it(viewer, cell_visibility, with_kk_check):
    cell = CellFactory(visibility=cell_visibility, source=None)
    raw_file = RawFileFactory(group=cell.group, cell=cell, visibility=Visibility.PRIVATE)
    spectrum = SpectrumFactory(cell=cell, group=cell.group, raw_file=raw_file, visibility=Visibility.PUBLIC)
    if with_kk_check:
        KramersKronigCheck.objects.create(spectrum=spectrum, n_elements=5, mu=0.5, max_abs_residual=0.01,
                                          threshold=0.01, passed=True, verdict="passed", engine_version="test")
    user = MembershipFactory(group=cell.group).user if viewer == "member" else AnonymousUser()
    spectrum = type(spectrum).objects.select_related("cell", "cell__separator", "group", "raw_file").get(pk=spectrum.pk)
    serializer = SpectrumListSerializer(context=_context(user))
    assert serializer.to_representation(spectrum) == _as_drf(serializer, spectrum)


@pytest.mark.django_db
def test_a_relation_that_is_none_falls_back_to_drf():
    cell = CellFactory(source=None, separator=None)
    serializer = CellSerializer(context=_context(AnonymousUser()))
    shown = serializer.to_representation(cell)
    assert shown["source_doi"] is None and shown["separator"] is None
    assert shown == _as_drf(serializer, cell)


def test_each_serializer_gets_its_own_fields():
    first, second = SeparatorSerializer(), SeparatorSerializer()
    assert first.fields["name"] is not second.fields["name"]
    assert first.fields["name"].parent is first and second.fields["name"].parent is second
    # Fields holding fields are deep copies: their inner fields are bound to their own copy.
    assert first.fields["components"].child is not second.fields["components"].child
    assert first.fields["components"].child.parent is first.fields["components"]


def test_plain_serializers_get_their_own_fields():
    first, second = KramersKronigSerializer(), KramersKronigSerializer()
    assert first.fields["mu"] is not second.fields["mu"] and first.fields["mu"].parent is first
    assert first.fields["residuals_real"].child is not second.fields["residuals_real"].child

"""FilterSets build their form class once per class; each filtering still validates its own data."""
import pytest
from django.http import QueryDict

from apps.measurements.filters import SpectrumFilterSet
from apps.measurements.models import ImpedanceSpectrum


@pytest.mark.django_db
def test_form_class_is_built_once_and_each_form_has_its_data():
    first = SpectrumFilterSet(data=QueryDict("temperature_c_min=20"), queryset=ImpedanceSpectrum.objects.all())
    second = SpectrumFilterSet(data=QueryDict("temperature_c_min=oops"), queryset=ImpedanceSpectrum.objects.all())
    assert type(first.form) is type(second.form)
    assert first.is_valid() and first.form.cleaned_data["temperature_c_min"] == 20
    assert not second.is_valid() and "temperature_c_min" in second.errors
    assert first.form.fields["temperature_c_min"] is not second.form.fields["temperature_c_min"]

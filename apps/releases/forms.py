"""The release form: records are chosen among the group's records the member can see."""
from __future__ import annotations

from django import forms

from apps.accounts.selectors import groups_of, visible_q
from apps.catalog.models import Cell, Separator
from apps.measurements.models import ImpedanceSpectrum

from .models import DEFAULT_LICENCE, Release


def parse_authors(text: str) -> list[dict]:
    """One author a line: "Name" or "Name; ORCID iD"."""
    authors = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        name, _, orcid = line.partition(";")
        authors.append({"name": name.strip(), "orcid": orcid.strip()})
    return authors


class ReleaseForm(forms.Form):
    group = forms.ModelChoiceField(queryset=None, help_text="The group that publishes; only its records can be chosen.")
    title = forms.CharField(max_length=300)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    authors = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="One a line: “Surname, Given; 0000-0002-1825-0097” (ORCID iD optional).")
    licence = forms.CharField(max_length=60, initial=DEFAULT_LICENCE, help_text="An SPDX licence id.")
    source_dois = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False,
                                  help_text="DOIs of the papers these records belong to, one a line.")
    separators = forms.ModelMultipleChoiceField(queryset=None, required=False,
                                                help_text="With their cells and spectra.")
    cells = forms.ModelMultipleChoiceField(queryset=None, required=False, help_text="With their spectra.")
    spectra = forms.ModelMultipleChoiceField(queryset=None, required=False)
    previous = forms.ModelChoiceField(queryset=None, required=False, label="New version of",
                                      help_text="Leave empty for a new dataset.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        groups = groups_of(user)
        own = visible_q(user)
        self.fields["group"].queryset = groups
        self.fields["separators"].queryset = Separator.objects.filter(own, group__in=groups).order_by("name", "pk")
        self.fields["cells"].queryset = Cell.objects.filter(own, group__in=groups).order_by("name", "pk")
        self.fields["spectra"].queryset = (ImpedanceSpectrum.objects.filter(own, group__in=groups).defer("data")
                                           .select_related("cell").order_by("cell__name", "index_in_file", "pk"))
        self.fields["previous"].queryset = Release.objects.filter(group__in=groups).order_by("dataset_key", "-version")

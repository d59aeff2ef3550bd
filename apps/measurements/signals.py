"""Signals of the measurements app, so that apps above it act on new data without being imported here."""
from django.dispatch import Signal

#: Sent once the transaction that stored new spectra has committed.
#: Keyword arguments: ``spectrum_ids`` (list of ids), ``user`` (who stored them, or None).
#: `apps.analysis` answers it by queueing one analysis job per spectrum.
spectra_stored = Signal()

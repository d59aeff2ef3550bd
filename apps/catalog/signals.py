"""Signals of the catalog app, so that apps above it act on edits without being imported here."""
from django.dispatch import Signal

#: Sent once the transaction that changed a separator's or a cell's geometry (thickness, area) has
#: committed. Keyword arguments: ``separator_id`` or ``cell_id``, and ``user``.
#: Conductivities depend on the geometry: `apps.analysis` answers by re-analysing the spectra concerned.
geometry_changed = Signal()

"""Web pages of the catalog, one module per noun: home and search, materials, separators, cells
(and electrodes), interfaces, compare. Reads go through selectors, figures through `catalog.figures`,
writes through services. The names below are what `urls.py` and other apps' views use."""
from .cells import cell_detail, cell_edit, cell_list, cell_plots, electrode_create
from .common import apply_service_errors, jobs_for_targets, list_context, paginate
from .compare import compare
from .home import home, search
from .interfaces import interface_detail, interface_edit, interface_list, interface_plots
from .materials import material_create, material_detail, material_list
from .separators import separator_detail, separator_edit, separator_list, separator_plots

__all__ = [
    "apply_service_errors", "cell_detail", "cell_edit", "cell_list", "cell_plots", "compare", "electrode_create", "home",
    "interface_detail", "interface_edit", "interface_list", "interface_plots", "jobs_for_targets", "list_context",
    "material_create", "material_detail", "material_list", "paginate", "search", "separator_detail",
    "separator_edit", "separator_list", "separator_plots",
]

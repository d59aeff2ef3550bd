from django.urls import path

from . import views

app_name = "catalog"
urlpatterns = [
    path("materials/", views.material_list, name="material-list"),
    path("materials/new/", views.material_create, name="material-create"),
    path("materials/<int:pk>/", views.material_detail, name="material-detail"),
    path("separators/", views.separator_list, name="separator-list"),
    path("separators/new/", views.separator_edit, name="separator-create"),
    path("separators/<int:pk>/", views.separator_detail, name="separator-detail"),
    path("separators/<int:pk>/edit/", views.separator_edit, name="separator-edit"),
    path("separators/<int:pk>/plots/", views.separator_plots, name="separator-plots"),
    path("cells/", views.cell_list, name="cell-list"),
    path("cells/new/", views.cell_edit, name="cell-create"),
    path("cells/<int:pk>/", views.cell_detail, name="cell-detail"),
    path("cells/<int:pk>/edit/", views.cell_edit, name="cell-edit"),
    path("cells/<int:pk>/plots/", views.cell_plots, name="cell-plots"),
    path("electrodes/new/", views.electrode_create, name="electrode-create"),
    path("interfaces/", views.interface_list, name="interface-list"),
    path("interfaces/new/", views.interface_edit, name="interface-create"),
    path("interfaces/<int:pk>/", views.interface_detail, name="interface-detail"),
    path("interfaces/<int:pk>/edit/", views.interface_edit, name="interface-edit"),
    path("interfaces/<int:pk>/plots/", views.interface_plots, name="interface-plots"),
]

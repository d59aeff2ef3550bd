from django.urls import path

from . import views

app_name = "measurements"
urlpatterns = [
    path("spectra/", views.spectrum_list, name="spectrum-list"),
    path("spectra/<int:pk>/", views.spectrum_detail, name="spectrum-detail"),
    path("spectra/<int:pk>/plots/", views.spectrum_plots, name="spectrum-plots"),
    path("spectra/<int:pk>/fit/", views.spectrum_fit, name="spectrum-fit"),
    path("spectra/<int:pk>/fit/preview/", views.spectrum_fit_preview, name="spectrum-fit-preview"),
    path("spectra/<int:pk>/fit/parameters.csv", views.spectrum_fit_csv, name="spectrum-fit-csv"),
    path("spectra/<int:pk>/download/csv/", views.spectrum_csv, name="spectrum-csv"),
    path("spectra/<int:pk>/download/json/", views.spectrum_json, name="spectrum-json"),
    path("spectra/<int:pk>/download/raw/", views.spectrum_raw, name="spectrum-raw"),
    path("dc-polarisations/new/", views.dc_polarisation_edit, name="dc-polarisation-create"),
    path("dc-polarisations/<int:pk>/", views.dc_polarisation_detail, name="dc-polarisation-detail"),
    path("dc-polarisations/<int:pk>/edit/", views.dc_polarisation_edit, name="dc-polarisation-edit"),
    path("ccd-tests/new/", views.ccd_test_edit, name="ccd-test-create"),
    path("ccd-tests/<int:pk>/", views.ccd_test_detail, name="ccd-test-detail"),
    path("ccd-tests/<int:pk>/edit/", views.ccd_test_edit, name="ccd-test-edit"),
    path("upload/", views.upload, name="upload"),
    path("upload/confirm/", views.upload_confirm, name="upload-confirm"),
]

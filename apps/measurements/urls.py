from django.urls import path

from . import views

app_name = "measurements"
urlpatterns = [
    path("spectra/", views.spectrum_list, name="spectrum-list"),
    path("spectra/<int:pk>/", views.spectrum_detail, name="spectrum-detail"),
    path("spectra/<int:pk>/plots/", views.spectrum_plots, name="spectrum-plots"),
    path("spectra/<int:pk>/fit/", views.spectrum_fit, name="spectrum-fit"),
    path("spectra/<int:pk>/download/csv/", views.spectrum_csv, name="spectrum-csv"),
    path("spectra/<int:pk>/download/json/", views.spectrum_json, name="spectrum-json"),
    path("spectra/<int:pk>/download/raw/", views.spectrum_raw, name="spectrum-raw"),
    path("upload/", views.upload, name="upload"),
    path("upload/confirm/", views.upload_confirm, name="upload-confirm"),
]

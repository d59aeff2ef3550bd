"""Release pages and the delete / retract pages of records, mounted by the project's web routes."""
from django.urls import path

from . import views

app_name = "releases"

urlpatterns = [
    path("releases/", views.release_list, name="list"),
    path("releases/new/", views.release_create, name="create"),
    path("releases/<int:pk>/", views.release_detail, name="detail"),
    path("releases/<int:pk>/archive.zip", views.release_archive, name="archive"),
    path("records/<str:kind>/<int:pk>/delete/", views.record_delete, name="record-delete"),
    path("records/<str:kind>/<int:pk>/retract/", views.record_retract, name="record-retract"),
]

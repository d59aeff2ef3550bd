from django.urls import path

from . import views

app_name = "analysis"
urlpatterns = [
    path("", views.job_list, name="job-list"),
    path("status/", views.job_status, name="job-status"),
]

"""Benchmark pages, mounted at /benchmarks/ by the project's web routes."""
from django.urls import path

from . import views

app_name = "benchmarks"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("leaderboard/<str:metric>/", views.leaderboard, name="leaderboard"),
    path("entries/<int:pk>/", views.entry_detail, name="entry"),
    path("entries/<int:pk>/reproduce.zip", views.reproduce, name="reproduce"),
    path("separators/<int:pk>/cells/<int:cell_pk>/", views.separator_comparison, name="separator-comparison"),
]

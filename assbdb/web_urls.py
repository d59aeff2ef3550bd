"""Web page routes."""
from django.contrib.auth import views as auth_views
from django.urls import include, path

from apps.catalog import views as catalog_views

urlpatterns = [
    path("", catalog_views.home, name="home"),
    path("search/", catalog_views.search, name="search"),
    path("compare/", catalog_views.compare, name="compare"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", include("apps.accounts.urls")),
    path("jobs/", include("apps.analysis.urls")),
    path("benchmarks/", include("apps.benchmarks.urls", namespace="benchmarks")),
    path("", include("apps.releases.urls", namespace="releases")),
    path("", include("apps.catalog.urls")),
    path("", include("apps.measurements.urls")),
]

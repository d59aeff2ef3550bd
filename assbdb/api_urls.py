"""REST API routes (/api/v1/, schema, docs)."""
urlpatterns: list = []

"""The REST API under /api/ and its OpenAPI schema and docs."""

app_name = "api"
urlpatterns: list = []

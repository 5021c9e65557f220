"""Pages of the datasets app: the export page, export jobs and downloads."""

app_name = "datasets"
urlpatterns: list = []

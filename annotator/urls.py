"""Top-level URLs: accounts, the Django admin, each app's pages, and the error pages."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from annotator import errors

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("", include("annotator.accounts.urls")),
    path("admin/", admin.site.urls),
    path("", include("annotator.corpus.urls")),
    path("", include("annotator.labelling.urls")),
    path("", include("annotator.review.urls")),
    path("", include("annotator.datasets.urls")),
    path("", include("annotator.assist.urls")),
    path("", include("annotator.archives.urls")),
    path("api/", include("annotator.api.urls")),
    path("", include("annotator.ops.urls")),  # /healthz, /readyz, /metrics
    path("favicon.ico", errors.favicon),
]

handler403 = "annotator.errors.permission_denied"
handler404 = "annotator.errors.page_not_found"
handler500 = "annotator.errors.server_error"

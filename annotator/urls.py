"""Top-level URLs: accounts, the Django admin, and each app's pages."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

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
    path("api/", include("annotator.api.urls")),
]

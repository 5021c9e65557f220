"""Pages of the accounts app: invitation links, withdrawing them, accounts, password reset."""

from django.urls import path

from annotator.accounts import views

app_name = "accounts"
urlpatterns = [
    path("accounts/invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path(
        "p/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("accounts/people/", views.person_list, name="person_list"),
    path(
        "accounts/people/<int:user_id>/deactivate/",
        views.person_active,
        {"active": False},
        name="person_deactivate",
    ),
    path(
        "accounts/people/<int:user_id>/reactivate/",
        views.person_active,
        {"active": True},
        name="person_reactivate",
    ),
    path("accounts/password/reset/", views.password_reset, name="password_reset"),
    path("accounts/password/reset/sent/", views.password_reset_done, name="password_reset_done"),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        views.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        views.password_reset_complete,
        name="password_reset_complete",
    ),
]

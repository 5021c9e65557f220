"""The accounts app: invitations, the list of accounts, password reset by e-mail."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "annotator.accounts"
    label = "accounts"
    verbose_name = "People and invitations"

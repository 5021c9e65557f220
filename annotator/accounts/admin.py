"""Invitations in the Django admin: read what was sent, by whom, and what became of it."""

from django.contrib import admin

from annotator.accounts.models import Invitation


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["invitee", "project", "role", "invited_by", "created_at", "expires_at"]
    list_filter = ["role", "project"]
    search_fields = ["invitee", "email"]
    readonly_fields = ["nonce", "accepted_at", "accepted_by", "created_at"]
    raw_id_fields = ["invited_by", "accepted_by"]

"""Invitations in the Django admin."""

from django.urls import reverse


def test_the_admin_lists_and_opens_invitations(client, superuser, invitation):
    client.force_login(superuser)
    listing = client.get(reverse("admin:accounts_invitation_changelist"), {"q": "nina"})
    assert listing.status_code == 200
    assert "nina@example.org" in listing.content.decode()
    page = client.get(reverse("admin:accounts_invitation_change", args=[invitation.pk]))
    assert page.status_code == 200

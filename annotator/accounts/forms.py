"""Forms of the accounts pages: inviting someone, signing up through an invitation.

Forms validate what a person typed; the views decide who may submit them and wrap the
writes in transactions.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.validators import MaxLengthValidator, validate_email
from django.db.models import Q

from annotator.accounts.models import Invitation
from annotator.corpus.models import Project, Role

# Long enough for any pass phrase, short enough that hashing one is no denial of service.
PASSWORD_MAX_LENGTH = 4096


class InviteForm(forms.Form):
    """Who to invite (a username or an e-mail address) and with which role.

    It never looks accounts up (see ``invitations.py``); it only refuses people the admin
    can already see on the page: current members and pending invitations.
    """

    who = forms.CharField(
        label="Username or e-mail",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_who(self) -> str:
        """A well-formed e-mail address or username, not a member nor invited already."""
        who = self.cleaned_data["who"].strip()
        if "@" in who:
            try:
                validate_email(who)
            except forms.ValidationError:
                raise forms.ValidationError(f"“{who}” is not an e-mail address.") from None
        else:
            username_field = get_user_model()._meta.get_field("username")
            if len(who) > username_field.max_length:
                raise forms.ValidationError(
                    f"A username has at most {username_field.max_length} characters."
                )
            try:
                UnicodeUsernameValidator()(who)
            except forms.ValidationError:
                raise forms.ValidationError(
                    "Enter an e-mail address, or a username of letters, digits and @.+-_ only."
                ) from None
        member = (
            self.project.memberships.filter(
                Q(user__username__iexact=who) | Q(user__email__iexact=who)
            )
            .select_related("user")
            .first()
        )
        if member is not None:
            raise forms.ValidationError(f"{member.user.get_username()} is already a member.")
        if Invitation.objects.pending().filter(project=self.project, invitee__iexact=who).exists():
            raise forms.ValidationError(
                f"{who} is invited already: copy the link below, or withdraw it and invite again."
            )
        return who


class InvitationSignUpForm(UserCreationForm):
    """A new account from an invitation: a username (prefilled) and a password, checked by
    the site's password validators against the username and the invited e-mail address."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)

    def __init__(self, *args, invitation: Invitation, **kwargs) -> None:
        kwargs.setdefault("initial", {"username": invitation.suggested_username})
        super().__init__(*args, **kwargs)
        self.instance.email = invitation.email
        for name in ("password1", "password2"):
            field = self.fields[name]
            field.max_length = PASSWORD_MAX_LENGTH
            field.validators.append(MaxLengthValidator(PASSWORD_MAX_LENGTH))
            field.widget.attrs["maxlength"] = str(PASSWORD_MAX_LENGTH)
        self.fields["username"].widget.attrs.update(autocomplete="username", autofocus=True)

"""``{% email_enabled as mail %}``: whether the site sends e-mail, read when the page renders."""

from django import template

from annotator.accounts.invitations import email_enabled as site_sends_email

register = template.Library()


@register.simple_tag
def email_enabled() -> bool:
    """Whether pages may offer what needs e-mail (password reset)."""
    return site_sends_email()

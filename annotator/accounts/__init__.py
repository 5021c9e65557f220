"""People: invitations into projects, the site admins' list of accounts, password reset."""

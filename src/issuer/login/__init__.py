"""Logging users in: the action pipeline, sessions, pages, consent, MFA and continuing
redirected logins."""

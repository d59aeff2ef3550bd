"""Plumbing shared by the REST API of every app (not an installed app)."""

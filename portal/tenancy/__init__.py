"""Tenants, users, roles, login, API keys and tenant scoping."""

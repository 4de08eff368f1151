"""The JSON API under /api/v1, authenticated by tenant API keys."""

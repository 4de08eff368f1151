"""Notifications: e-mail through an outbox, in-app notifications, and tenant webhooks, all
fanned out from the lead events that every transition writes."""

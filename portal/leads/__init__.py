"""Lead intake, scoring, life cycle, inbox and events."""

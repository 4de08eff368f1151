"""Partners, tiers, SLA policies, territories, products and coverage."""

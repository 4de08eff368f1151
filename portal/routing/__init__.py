"""Routing: the pure engine, its index of tenant configuration, and simulation."""

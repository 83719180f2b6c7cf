"""Custom components for Home Assistant."""

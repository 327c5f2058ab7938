"""HTTP route modules, one per area."""

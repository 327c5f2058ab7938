"""Recommendations: scoring, strategies, user profiles and the runs that serve them."""

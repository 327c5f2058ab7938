"""Clustering: the estimator (k-means / HDBSCAN), c-TF-IDF topic terms, and stored runs."""

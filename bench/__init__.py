"""Benchmarks: each script prints a table and writes JSON to bench/results/ (run as `python bench/NAME.py`)."""

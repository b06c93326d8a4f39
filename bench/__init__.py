"""Benchmarks (`make bench`): figures as ratios measured in one run, printed as a table and JSON."""

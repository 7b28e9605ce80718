"""Benchmarks on real data (../shared/data): each script writes its own section of RESULTS.md."""

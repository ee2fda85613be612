"""Benchmarks: warm-up, repeats, medians, peers and a measured bandwidth limit in the same run."""

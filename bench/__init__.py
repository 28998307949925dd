"""Performance benchmarks: `python -m bench`."""

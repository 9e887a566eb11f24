"""Benchmarks (``make bench``); not part of the test suite. See docs/performance.md."""

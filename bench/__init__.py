"""Benchmarks: load tests that measure the service on a real stack (not part of the test suite)."""

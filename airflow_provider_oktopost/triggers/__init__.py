"""Triggers for deferred waits, and the per-account poller they share in a triggerer."""

"""The sensor that waits until an integration is valid and active."""

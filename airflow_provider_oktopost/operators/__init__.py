"""Operators that connect, update, delete and list Oktopost integrations."""

"""Apache Airflow provider for the Oktopost Integrations API.

This module is imported on every DAG parse that touches the provider, so it imports nothing heavy:
the hook, operators and sensor live in their own modules and are imported only where used.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

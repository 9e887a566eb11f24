"""Apache Airflow provider for the Oktopost Integrations API.

This module is imported on every DAG parse that touches the provider, so it imports nothing heavy:
the hook, operators and sensor live in their own modules and are imported only where used.
"""

from __future__ import annotations

# The only place the version is written: pyproject.toml (hatch dynamic version), get_provider_info and the
# User-Agent read it from here. Keep it a plain string literal so hatch can read it without importing.
__version__ = "0.1.0"

__all__ = ["__version__"]

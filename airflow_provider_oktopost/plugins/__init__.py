"""The provider's Airflow plugin: the Oktopost page of the UI and its JSON API (see :mod:`.oktopost`)."""

"""Hooks: ``OktopostHook`` (sync, ``requests``) and ``OktopostAsyncClient`` (async, ``httpx``)."""

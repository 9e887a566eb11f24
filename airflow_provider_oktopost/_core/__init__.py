"""The transport-agnostic heart of the client. Private: any release may change it (docs/architecture.md).

Everything that knows the Oktopost API lives here: building requests (:mod:`.wire`), reading responses and
errors (:mod:`.interpret`), retry and backoff decisions (:mod:`.retry`), the per-account call budget
(:mod:`.budget`) and the operations themselves as sans-IO generators (:mod:`.operations`). The sync hook
(``requests``) and the async client (``httpx``) only move bytes: they run the same generators through
:mod:`.driver`, so retry, pagination and error rules cannot drift apart between the worker and the triggerer.
"""

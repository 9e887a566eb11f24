"""Where an account's shared call budget is kept: the stores behind :mod:`.throttle`.

:mod:`.rules` holds the rules every store applies atomically; :mod:`.memory` (one process),
:mod:`.local_disk` (every process of one machine, SQLite) and :mod:`.redis_server` (every machine, Redis)
keep the state; :mod:`.settings` reads how the budget is configured.
"""

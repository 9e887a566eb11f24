"""An Oktopost account's call budget, shared by every process of the deployment.

:mod:`.account` holds :class:`~.account.AccountBudget` (an account's budget, with the stores it steps down
to) and :mod:`.registry` the budgets of this process (:func:`~.registry.budget_for`). :mod:`.store` is the
interface of a store; :mod:`.rules` holds the rules every store applies atomically; :mod:`.memory` (one
process), :mod:`.local_disk` (every process of one machine, SQLite) and :mod:`.redis_server` (every machine,
Redis) keep the state; :mod:`.settings` reads how the budget is configured and :mod:`.selection` which store
``auto`` means; :mod:`.report` and :mod:`.snapshot` are what the budget tells the people who run Airflow.
"""

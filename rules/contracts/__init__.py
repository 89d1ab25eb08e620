"""Wire contracts: one module per topic, holding the pydantic records it carries.

    events        Segment track/identify calls in          (nudgeflow.events)
    prompts       in-app prompts, latest status each        (nudgeflow.prompts)
    deliveries    email/Slack requests, results; outbox table (nudgeflow.deliveries)
    outcomes      completions and deliveries, for analytics (nudgeflow.outcomes)
    dead_letters  rejected records with the reason          (nudgeflow.events.dlq)
    timers        due-timer commands (internal)             (nudgeflow.timers)
    preferences   per-user notification preferences         (nudgeflow.preferences)
    users         the worker's per-user record              (users table changelog)
    relay         between keys' partitions: account signals/notices, identity merges (<app id>.relay)
    accounts      the accounts table (account-level milestones)  (accounts table changelog)

Every record carries `version`; the compatibility rule is in `versioning` and
docs/contracts.md. `catalog.CONTRACTS` names them for `nudgeflow schema <topic>`.
These modules import nothing of Nudgeflow outside this package.
"""

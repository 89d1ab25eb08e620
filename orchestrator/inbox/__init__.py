"""The in-app inbox on the worker: the `inbox` table (per user, on the user's partition) and the
changes every replica's live streams hear about."""

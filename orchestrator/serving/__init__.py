"""Answering API requests about a user from the state of the worker that owns the user's partition."""

"""Outbox: email and Slack deliveries as their own durable step.

The deliveries topic (keyed by user) carries requests from the rules and the
results of sends. The `outbox` table records each delivery's state, so a send
is started once, resumed after a crash or rebalance, and never repeated once
its result is recorded. Sends run in background tasks with retries: a slow or
failing provider never blocks the event stream or other channels.
"""

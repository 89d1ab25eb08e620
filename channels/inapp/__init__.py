"""In-app channel: prompts stored per user and served over HTTP.

A prompt record goes to the compacted prompts topic (key `user_id/delivery_id`) on its user's
partition: workers append one when a celebration or nudge is delivered in-app, the API appends
status changes. The worker holding the user applies both to the user's row of the `inbox` table
(`UserInbox`, in RocksDB); any API replica answers by reading that row where it lives, and live
streams hear of changes through the table's changelog (`InboxFeed`). See docs/inapp.md; the
record itself is `nudgeflow.rules.contracts.prompts.Prompt`.
"""

"""Topic feeds: compacted topics followed by every worker into a local store (inbox, preferences).

They live in the orchestrator because they join Kafka plumbing (the topic follower) to the
channels' stores; the channels themselves never read Kafka.
"""

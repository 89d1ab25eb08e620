"""Rules engine: playbooks, milestone ladders, conditions and timing."""

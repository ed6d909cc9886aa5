"""Periodic jobs: reminders, SLA sweeps, follow-ups and digests (built by the scheduler issue)."""

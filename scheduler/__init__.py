"""Periodic jobs (reminders, SLA sweeps, follow-ups, digests); they arrive with the scheduler issue."""

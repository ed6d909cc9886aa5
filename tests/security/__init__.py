"""Attacks performed end to end through the real HTTP entry points (issue 16)."""

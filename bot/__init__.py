"""Linli's core: settings, message types, router, pipeline, channels and the CLI."""

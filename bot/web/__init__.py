"""HTTP: the web chat page and API, health and metrics."""

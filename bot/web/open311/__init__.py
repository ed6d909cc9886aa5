"""Open311 GeoReport v2, the public API other systems (the district's 12345 hotline, city
platforms) already speak: /open311/v2/, in JSON and XML."""

from bot.web.open311.routes import add_open311_routes

__all__ = ["add_open311_routes"]

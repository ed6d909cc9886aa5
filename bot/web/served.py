"""What `linli serve` runs: the one place that turns settings into the served application."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.app import build_linli
from bot.config import Settings
from bot.streets import load_streets
from bot.web.app import create_web_app
from bot.web.district import create_district_app


def create_served_app(
    settings: Settings, *, run_worker: bool = True, run_scheduler: bool = True
) -> web.Application:
    """The application a server process serves, with or without the worker and the ticks:
    one street's, or with LINLI_STREETS_FILE every street's, each under its own host names."""
    if settings.streets_file is not None:
        streets = load_streets(settings)
        return create_district_app(streets, run_worker=run_worker, run_scheduler=run_scheduler)
    return create_web_app(build_linli(settings), run_worker=run_worker, run_scheduler=run_scheduler)


def served_settings(settings: Settings) -> list[Settings]:
    """The settings of every street this deployment serves."""
    if settings.streets_file is not None:
        return [street.settings for street in load_streets(settings)]
    return [settings]


def served_data_dirs(settings: Settings) -> list[Path]:
    """The data directories of every street this deployment serves."""
    return [Path(street.data_dir) for street in served_settings(settings)]

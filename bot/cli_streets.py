"""Which street a `linli` command acts on (`linli --street CODE …`) when the deployment serves
several (LINLI_STREETS_FILE). The code is matched without case: `--street yn` is YN."""

from __future__ import annotations

from bot.config import ConfigurationError, Settings, secret_values
from bot.streets import all_secret_values, find_street, load_streets


def chosen_settings(
    base: Settings, street: str | None, command: str
) -> tuple[list[Settings], dict[str, str]]:
    """The settings to run the command with, once per street it acts on, and every secret
    they hold (for the log filter)."""
    if base.streets_file is None:
        if street is not None:
            raise ConfigurationError("--street needs LINLI_STREETS_FILE (the streets file)")
        return [base], secret_values(base)
    streets = load_streets(base)
    secrets = {**secret_values(base), **all_secret_values(streets)}
    if street is not None:
        found = find_street(streets, street)
        if found is None:
            known = ", ".join(s.code for s in streets)
            raise ConfigurationError(f"no street {street!r} in the streets file (streets: {known})")
        return [found.settings], secrets
    if command == "serve":
        return [base], secrets  # the district: every street under its own host names
    if command == "db":
        return [s.settings for s in streets], secrets
    known = ", ".join(s.code for s in streets)
    raise ConfigurationError(
        f"this deployment serves several streets: say which with "
        f"`linli --street CODE {command} …` (streets: {known})"
    )

"""Broker passwords from files or the environment, never from the repository.

For a broker user `user`, in this order:
1. `{folder}/{user}.password` when a folder is given (the one `run_controller.py broker-setup`
   writes; mode 0600, first line is the password);
2. the environment variable `TSC_MQTT_PASSWORD_{USER}`: the user name upper-cased, every
   character other than a letter or a digit written `_` (`field-J12` -> TSC_MQTT_PASSWORD_FIELD_J12).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from controller.errors import ConfigError

ENV_PREFIX = "TSC_MQTT_PASSWORD_"


def env_name(user: str) -> str:
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", user).upper()


def password_for(user: str, folder: Path | None) -> str:
    """The password of broker user `user`; ConfigError naming both places looked at."""
    if folder is not None:
        f = folder / f"{user}.password"
        if f.is_file():
            text = f.read_text(encoding="utf-8").strip()
            if text:
                return text.splitlines()[0]
    value = os.environ.get(env_name(user), "")
    if value:
        return value
    if folder is None:  # "neither $X is set" read as if a second place were missing
        raise ConfigError(
            "<environment>", user, f"no password: ${env_name(user)} is not set (or give --credentials DIR)"
        )
    raise ConfigError(
        str(folder), user, f"no password: neither {folder / (user + '.password')} nor ${env_name(user)} is set"
    )

"""Settings of `make load`'s web processes: the production settings, plus the ungoverned record page of
bench/_urls.py (the load's baseline mix). Nothing else differs from `make serve`'s."""

from portal.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench._urls"

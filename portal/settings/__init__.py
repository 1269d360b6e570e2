"""Settings package. `portal.settings.base` is the one settings module (env-driven, CONTRACT.md);
`portal.settings.test` only sets test-run environment defaults before loading it."""

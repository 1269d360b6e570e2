"""gunicorn's settings for the production profile (`make serve`, Procfile.production), from the environment.

`WEB_CONCURRENCY` worker processes (default 2), bound to `PRAHARI_BIND` (default 127.0.0.1:8000: a TLS
proxy in front, docs/operations.md). gunicorn believes `X-Forwarded-Proto` only from the proxies Django
believes `X-Forwarded-For` from (DJANGO_TRUSTED_PROXIES; none by default). The access log names the path
without its query string: a search's terms never reach a log.
"""

import ipaddress
import os

bind = [os.environ.get("PRAHARI_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
forwarded_allow_ips = ",".join(
    str(ipaddress.ip_network(item.strip(), strict=False))
    for item in os.environ.get("DJANGO_TRUSTED_PROXIES", "").split(",")
    if item.strip()
)
timeout = 30
graceful_timeout = 20
# No access log of gunicorn's own: a path can hold a secret (a reset link's token), and Django logs one JSON line
# per request with its route name instead (portal/logs.py).
accesslog = None
control_socket_disable = True  # gunicornc is not used; its default path in $HOME would be shared by every instance

"""`make serve` for `make load`: portal/serve.py as it is (refusals, migrate, collectstatic, `check --deploy`,
honcho), with the Procfile given as the only argument: Procfile.production with gunicorn serving
bench/_load_wsgi.py instead of portal.wsgi (bench/_load.py writes it)."""

import sys
from pathlib import Path

from portal import serve

if __name__ == "__main__":
    serve.PROCFILE = Path(sys.argv[1])
    sys.exit(serve.main())

"""`python -m <package>`: run the worker until SIGTERM or SIGINT."""

from .runner import main

raise SystemExit(main())

"""`python -m reconciler` runs the stashplex command line."""

from reconciler.cli import main

raise SystemExit(main())

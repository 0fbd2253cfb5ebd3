"""`python -m reconciler` runs the stashplex command line."""

from reconciler.startup import main

raise SystemExit(main())

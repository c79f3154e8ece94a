"""`python -m mismartera` runs the same entry point as the console script."""

from mismartera.cli.main import main

raise SystemExit(main())

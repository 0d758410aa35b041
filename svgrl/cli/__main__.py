"""`python -m svgrl.cli` — the same as the `svgrl` console script."""

import sys

from svgrl.cli import main

# Guarded: multiprocessing's spawn start method imports the parent's main module in each
# child (as __mp_main__); unguarded, every child would run the CLI again.
if __name__ == "__main__":
    sys.exit(main())

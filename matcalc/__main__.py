"""`python -m matcalc` is the `matcalc` command."""

import sys

from matcalc.cli import main

if __name__ == "__main__":
    sys.exit(main())

"""`python -m zygote_sym`: the command line (zygote_sym/cli/main.py)."""
import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())

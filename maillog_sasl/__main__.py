"""`python -m maillog_sasl` runs the command line."""
import sys

from maillog_sasl.cli import main

sys.exit(main())

"""__main__: `python -m maillog_sasl` runs the command line (cli.main), with its exit status."""
import sys

from maillog_sasl.cli import main

sys.exit(main())

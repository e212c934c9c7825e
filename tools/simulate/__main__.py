"""__main__: `python -m tools.simulate`, the generator's command line, from the repository root.

INPUT
    The options of cli.build_parser() (`python -m tools.simulate --help`).
OUTPUT
    The log and its truth where the options say; one summary line on standard error.
DIAGNOSTICS
    The exit status of cli.main(): 0, 1 (a file that cannot be written), 2 (a usage error).
"""

import sys

from tools.simulate import main

sys.exit(main())

"""Builds the hot modules into C extensions with mypyc, or leaves the package pure Python.

The project's metadata is in pyproject.toml; this file only adds the compiled modules. mypyc
(mypy's compiler) turns the same typed source into C: the correlator, the syslog clock, the
recognizers, the models, the report stage and the renderers run 20-25% fewer instructions
(benchmarks/README.md). Every module stays importable as Python, so the package is the same
without a compiler:

- MAILLOG_SASL_PURE=1 in the environment, PyPy, Python 3.9 (no mypy 2.4 there), no mypyc, or a
  build that fails (no C compiler, no Python headers): the pure-Python package, with a warning
  on why where there is one to give (pip shows a build's output with -v);
- otherwise the modules of COMPILED as extensions beside the rest.

Extensions of an earlier build are removed first, from the source tree (an in-place build) and
from setuptools' build/ directory (which a later wheel would take them from), so that a pure
build never ships or runs old C.
"""

import glob
import os
import platform
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

# The modules every line or every report row goes through (benchmarks/README.md: "the
# thirteenth round"). The others (cli, sources, watch, cluster, ...) run once or wait on I/O.
COMPILED = ["syslog", "events", "model", "correlate", "chunk", "activity", "incident",
            "reports", "render"]


def remove_compiled() -> None:
    """Extensions of an earlier build: Python imports them before the .py."""
    here = os.path.dirname(os.path.abspath(__file__))
    for pattern in ("maillog_sasl/*.so", "maillog_sasl/*.pyd", "*__mypyc*.so", "*__mypyc*.pyd",
                    "build/lib*/maillog_sasl/*.so", "build/lib*/maillog_sasl/*.pyd",
                    "build/lib*/*__mypyc*.so", "build/lib*/*__mypyc*.pyd"):
        for path in glob.glob(os.path.join(here, pattern)):
            os.remove(path)


class AllOrNoneBuild(build_ext):
    """Builds every extension or none: a module half compiled is no use, and a failed build
    (no compiler) leaves the package pure Python rather than failing the install."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # noqa: BLE001 - any build failure means "no extensions"
            print(f"maillog-sasl: building the compiled modules failed ({error}); "
                  "installing pure Python", file=sys.stderr)
            self.extensions = []
            remove_compiled()


# The commands that only write the package's metadata, which pip runs twice before it builds
# the wheel (`egg_info`, then `dist_info`): they build no extension, and mypyc's analysis of
# the modules would cost each of them 6 seconds.
METADATA_COMMANDS = ("egg_info", "dist_info")


def extensions() -> list:
    command = next((argument for argument in sys.argv[1:] if not argument.startswith("-")), None)
    if command in METADATA_COMMANDS:
        return []
    if os.environ.get("MAILLOG_SASL_PURE", "") not in ("", "0"):
        return []
    if platform.python_implementation() != "CPython":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("maillog-sasl: mypyc is not installed; installing pure Python", file=sys.stderr)
        return []
    try:
        # The modules compiled are type-checked; the others they import are read for their
        # types only (silent): pip's build environment holds none of the runtime
        # dependencies (maxminddb, which enrich.py imports).
        return mypycify([f"maillog_sasl/{name}.py" for name in COMPILED]
                        + ["--follow-imports=silent"],
                        opt_level=os.environ.get("MYPYC_OPT_LEVEL", "3"))
    except (Exception, SystemExit) as error:  # mypyc reports its own errors, then exits
        print(f"maillog-sasl: mypyc could not compile the modules ({error}); "
              "installing pure Python", file=sys.stderr)
        return []


remove_compiled()
setup(ext_modules=extensions(), cmdclass={"build_ext": AllOrNoneBuild})

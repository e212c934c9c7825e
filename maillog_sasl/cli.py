"""Command line: a thin layer over the library (placeholder while the analyzer is written)."""
import sys

SUBCOMMANDS = {
    "cram-md5": "maillog_sasl.cram_md5",
    "auth-test": "maillog_sasl.auth_test",
}


def main(argv=None):
    import importlib

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[argv[0]])
        return module.main(argv[1:])
    print("maillog-sasl: analyzer not written yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

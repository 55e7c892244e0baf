"""Run the mailmerge command line from a checkout: `python cli.py --help`."""

from mailmerge.cli import main

if __name__ == "__main__":
    main()

"""``python -m mailprobe``."""

from mailprobe.cli.entry import main

if __name__ == "__main__":
    main()

"""``python -m petsuite``: the same as the ``petsuite`` command."""

from petsuite.cli.main import main

if __name__ == "__main__":
    main()

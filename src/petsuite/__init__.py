"""petsuite: privacy-enhancing technologies from the UK ICO's guidance, as working software.

Importing this package has no side effects: no logging set-up, no argument parsing, no globals.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

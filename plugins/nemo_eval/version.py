"""The package version, written into every JSON report.

Its own module so that the scorer can read it without importing the package it belongs to.
"""

__version__ = "0.1.0"

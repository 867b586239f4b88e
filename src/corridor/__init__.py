"""corridor: an open-source cross-border payment network for the China-Japan-Korea corridor."""

__version__ = "0.1.0"

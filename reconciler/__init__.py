"""stashplex: keeps a Plex Media Server's metadata in step with Stash, by polling."""

__version__ = "0.1.0"

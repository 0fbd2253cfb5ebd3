"""Faithful local stand-ins for Plex Media Server and Stash, used by the tests, the demo and the benchmark."""

"""Local stand-ins for Plex Media Server and Stash: for the tests, the demo and the benchmark."""

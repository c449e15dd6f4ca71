"""One module per command; each takes plain arguments and returns a scaffold.results value."""

"""One module per command, each thin over library functions."""

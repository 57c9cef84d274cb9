"""The compiled interval index: build.py writes it, read.py reads and checks it."""

"""The local demo (``python -m residency.demo``) and its Knot DNS launcher, kept out of the
auditing library so the library never starts servers or installs packages."""

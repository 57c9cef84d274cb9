"""residency: where an app's endpoints really are, who runs them, and whether that meets policy."""

__version__ = "0.1.0"

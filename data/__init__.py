"""The project's own tables, shipped as the package ``residency.data`` (read via residency.paths)."""

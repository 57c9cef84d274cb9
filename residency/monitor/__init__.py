"""Scheduled re-resolution: ``loop`` (the Monitor), ``schedule``, ``targets``, ``alerts``,
``audit`` (the batch audit adapter). Import from the submodules: ``residency.store``
imports the drift comparison, so this package itself loads nothing."""

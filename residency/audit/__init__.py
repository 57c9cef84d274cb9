"""Audits: ``core`` (Auditor and the protocols it needs), ``assemble`` (building the
auditor's pieces from options), ``run`` (the batch and the streaming ``residency audit``)."""

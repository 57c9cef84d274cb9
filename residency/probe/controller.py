"""Who controls the service: the ranking lives in residency.control.rank (certificate,
``[controllers.known]``, customer domains, entity tables, registrant); re-exported here
for the probe runner and code written against this module."""

from __future__ import annotations

from residency.control.rank import ControllerTable, controller_for, registrant_basis

__all__ = ["ControllerTable", "controller_for", "registrant_basis"]

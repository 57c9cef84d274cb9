"""Opt-in active probes (``--probe tls,http``) and the controller they give evidence for.

Probes contact the audited endpoint itself, and only at the addresses the audit resolved or
observed for it. Each one records an explicit outcome; a failed probe never fails the audit.
"""

from __future__ import annotations

from residency.probe.controller import controller_for
from residency.probe.interface import PROBE_KINDS, ConnectTo, Probe, ProbeError, ProbeSettings
from residency.probe.runner import Prober

__all__ = [
    "PROBE_KINDS",
    "ConnectTo",
    "Probe",
    "ProbeError",
    "ProbeSettings",
    "Prober",
    "controller_for",
]

"""Who controls an endpoint: certificate, domain-owner tables, parent chains, sovereign clouds.

``ControlEvidence`` (evidence.py) is what the audit uses: the shipped organisations,
customer-domain and sovereign-cloud tables, plus the opt-in entity tables (webXray,
Disconnect, DuckDuckGo) when the user has fetched or imported them. ``rank.py`` decides
the controller from every kind of evidence, best first.
"""

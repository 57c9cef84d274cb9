"""Registration evidence: RDAP (parse, client, evidence text), RFC 9092 geofeed
discovery, domain registrants, and the RDAP answer cache.

Nothing is imported here, so ``residency ip`` without ``--rdap`` pays for none of it.
"""

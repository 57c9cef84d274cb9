"""Packet captures (pcap, pcapng): names and addresses an app actually used."""

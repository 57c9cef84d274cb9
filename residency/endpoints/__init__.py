"""residency.endpoints"""

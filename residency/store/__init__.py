"""residency.store"""

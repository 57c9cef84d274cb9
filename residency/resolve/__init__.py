"""residency.resolve"""

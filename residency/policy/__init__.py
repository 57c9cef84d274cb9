"""residency.policy"""

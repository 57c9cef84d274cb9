"""residency.locate"""

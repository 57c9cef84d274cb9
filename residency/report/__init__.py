"""residency.report"""

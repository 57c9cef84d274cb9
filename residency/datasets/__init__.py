"""residency.datasets"""

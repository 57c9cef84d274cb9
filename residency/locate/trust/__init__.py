"""Trust in sources: the calibration tables, measuring them, and the merge that uses them."""

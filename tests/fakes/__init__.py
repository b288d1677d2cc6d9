"""Fakes of the platforms at their narrowest real seam (a fake Bot API server, a fake puppet service)."""

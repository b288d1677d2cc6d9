"""挂图作战: the safety office's web dashboard (FastAPI + Jinja2), built only on ``handlers`` and ``storage``."""

"""arq worker settings; task functions live in ``app/<domain>/tasks.py``."""

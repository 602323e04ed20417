"""Tongban 通办: one-stop government services."""

import os

# Piccolo finds its engine and apps through this module (see app/piccolo_conf.py).
os.environ.setdefault("PICCOLO_CONF", "app.piccolo_conf")

__version__ = "0.1.0"

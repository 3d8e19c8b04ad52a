"""The `election-tui` command: flags and ETCDCTL_* env, the headless commands, serve; picks a view."""

from .main import main

__all__ = ["main"]

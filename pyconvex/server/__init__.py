"""The HTTP and WebSocket server of a deployment."""

from pyconvex.server.app import create_app

__all__ = ["create_app"]

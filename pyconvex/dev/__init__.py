"""``pyconvex dev``: a local deployment that follows the functions directory as you edit."""

from pyconvex.dev.loop import DevError, DevServer, run_dev
from pyconvex.dev.state import DeploymentInfo, read_deployment_info, write_deployment_info

__all__ = [
    "DeploymentInfo",
    "DevError",
    "DevServer",
    "read_deployment_info",
    "run_dev",
    "write_deployment_info",
]

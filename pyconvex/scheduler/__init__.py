"""Running scheduled functions and cron jobs (``ctx.scheduler`` writes the jobs)."""

from pyconvex.scheduler.executor import RESTART_ERROR, SchedulerExecutor

__all__ = ["RESTART_ERROR", "SchedulerExecutor"]
